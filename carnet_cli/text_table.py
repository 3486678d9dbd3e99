"""The plain-text tables of `carnet import` and `carnet batches`."""

from __future__ import annotations


def table(headers: list[str], rows: list[list[str]], left: tuple[int, ...]) -> str:
    """Each column as wide as its widest cell, the `left` ones (text) left-aligned, the others
    (counts) right-aligned; trailing spaces dropped."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i in left else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])
