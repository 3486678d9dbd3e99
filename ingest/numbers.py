"""Numbers in text, read without guessing: a value is accepted only when one reading exists.

The decimal mark is a property of the file (`Sniffed.decimal`): "," or ".", or "" when the
file's head shows neither. The rules (docs/import.md, « Lecture des fichiers »):
- blanks (space, non-breaking spaces) may group thousands, by groups of three digits;
- the file's decimal mark is never a thousands separator: `1,234.5` in a decimal-comma file and
  `1.234,5` in a decimal-point file contradict the file and are rejected;
- the other mark may group thousands (`1.234.567`, `1.234,5` in a decimal-comma file), or be a
  decimal mark when it cannot group thousands (`1.5`, `1280.25`: not exactly three digits
  after it, or more than three before it);
- a lone other mark followed by exactly three digits (`1.280` in a decimal-comma file) reads
  as 1,28 or as 1 280: it is rejected as ambiguous, both readings named;
- when the file's mark is unknown, a lone mark of either kind followed by three digits is
  ambiguous, and of two different marks the last is the decimal one.
The common case (plain numbers, or plain numbers with the file's decimal mark) is one C-level
conversion; only what it cannot settle goes through the rules, vectorised over those cells.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SIGN = r"[+-]?"
_EXP = r"(?:[eE][+-]?\d+)?"
_BLANKS = re.compile("[\u00a0\u202f\u2009\u2007]")
NBSP = "\u00a0"


def _marks(decimal: str) -> list[tuple[str, str]]:
    """(decimal mark, other mark) pairs a value may be read with."""
    if decimal == ",":
        return [(",", ".")]
    if decimal == ".":
        return [(".", ",")]
    return [(",", "."), (".", ",")]


def _rules(decimal: str) -> list[tuple[str, re.Pattern, str | None]]:
    """(kind, full-match pattern, decimal mark of the reading), tried in order: every ambiguous
    form first, then the forms contrary to the file, then the readable ones (read with that
    mark, every other mark and blank removed)."""
    ambiguous, contrary, ok = [], [], []
    for d, o in _marks(decimal):
        dm, om = re.escape(d), re.escape(o)
        ambiguous += [
            ("ambiguous", re.compile(rf"{_SIGN}\d{{1,3}}{om}\d{{3}}"), o),  # 1.280
            ("ambiguous", re.compile(rf"{_SIGN}\d{{1,3}}(?: \d{{3}})+{om}\d{{3}}"), o),
        ]
        if decimal in (",", "."):  # the file's own mark grouping thousands
            contrary += [
                ("contrary", re.compile(rf"{_SIGN}\d{{1,3}}(?:{dm}\d{{3}}){{2,}}(?:{om}\d*)?"), d),
                ("contrary", re.compile(rf"{_SIGN}\d{{1,3}}(?:{dm}\d{{3}})+{om}\d*"), d),
            ]
        ok += [
            ("ok", re.compile(rf"{_SIGN}(?:\d+(?:{dm}\d*)?|{dm}\d+){_EXP}"), d),
            ("ok", re.compile(rf"{_SIGN}\d{{1,3}}(?: \d{{3}})+(?:{dm}\d+)?"), d),
            ("ok", re.compile(rf"{_SIGN}\d{{1,3}}(?:{om}\d{{3}}){{2,}}(?:{dm}\d+)?"), d),
            ("ok", re.compile(rf"{_SIGN}\d{{1,3}}{om}\d{{3}}{dm}\d+"), d),
            # the other mark as a decimal mark, where it cannot group thousands
            ("ok", re.compile(rf"{_SIGN}(?:\d+{om}\d*|{om}\d+){_EXP}"), o),
            ("ok", re.compile(rf"{_SIGN}\d{{1,3}}(?: \d{{3}})+{om}(?:\d{{1,2}}|\d{{4,}})"), o),
        ]
    return ambiguous + contrary + ok


_RULES = {d: _rules(d) for d in (",", ".", "")}
_PLAIN = {
    d: re.compile(rf"{_SIGN}(?:\d+(?:{re.escape(d)}\d*)?|{re.escape(d)}\d+){_EXP}") for d in ",."
}
_LONE_DOT = re.compile(rf"{_SIGN}\d{{1,3}}\.\d{{3}}")
_MARK_NAME = {",": "la virgule", ".": "le point"}


def _fr_digits(text: str) -> str:
    """Digits as a French reader writes them: NBSP thousands, decimal comma."""
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("+-")
    whole, _, frac = body.partition(".")
    whole = whole.lstrip("0") or "0"
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    frac = frac.rstrip("0")
    return sign + NBSP.join(groups) + ("," + frac if frac else "")


def ambiguous_reason(raw: str, mark: str, decimal: str) -> str:
    """« nombre ambigu « 1.280 » : 1,28 ou 1 280 ? ... » for a lone mark before three digits."""
    t = _BLANKS.sub(" ", raw.strip()).replace(" ", "")
    as_decimal = _fr_digits(t.replace(mark, "."))
    as_thousands = _fr_digits(t.replace(mark, ""))
    plain = t.replace(mark, "").lstrip("+")
    file_mark = {",": "virgule décimale", ".": "point décimal"}.get(decimal)
    context = f"le fichier a la {file_mark} ; " if decimal == "," else ""
    context = f"le fichier a le {file_mark} ; " if decimal == "." else context
    return (
        f"nombre ambigu « {raw} » : {as_decimal} ou {as_thousands} ? ({context}"
        f"{_MARK_NAME[mark]} peut séparer les décimales ou les milliers : écrivez "
        f"{as_decimal.replace(NBSP, '').replace(',', decimal or ',')} ou {plain})"
    )


def contrary_reason(raw: str, decimal: str) -> str:
    name = {",": "la virgule", ".": "le point"}[decimal]
    return (
        f"nombre « {raw} » contraire au fichier : {name} y sépare les milliers, or c'est la "
        "marque décimale de ce fichier (lecture incertaine, valeur rejetée)"
    )


def _plain_floats(values: pd.Series) -> np.ndarray | None:
    """Every cell a plain ASCII number (the usual file): numpy's conversion, several times
    faster than `pd.to_numeric`; None when any cell is something else (empty, a comma, a
    digit group), left to the general path. Underscores, which Python's float accepts in
    "1_000", are refused here as `pd.to_numeric` refuses them."""
    arr = values.to_numpy(dtype=object)
    try:
        joined = "".join(arr)
    except TypeError:  # None, NaN or a number among the cells
        return None
    if not joined.isascii() or "_" in joined:
        return None
    try:
        return arr.astype("float64")
    except ValueError:
        return None


def read_numbers(values: pd.Series, decimal: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, empty, reason) per cell: empty cells are gaps (never zeros); a cell with a reason
    (unreadable, ambiguous, contrary to the file's decimal mark) is rejected, value NaN."""
    if decimal not in (",", ".", ""):
        raise ValueError(f"marque décimale inconnue : {decimal!r}")
    values = pd.Series(values).astype(object).reset_index(drop=True)
    num = _plain_floats(values)
    if num is None:
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", copy=True)
    n = len(num)
    empty = np.zeros(n, bool)
    reason = np.full(n, None, dtype=object)
    todo = np.isnan(num)
    if decimal != "." and (~todo).any():
        # the C path reads "1.280" as 1.28: a dot there may group thousands
        done = np.flatnonzero(~todo)
        txt = values.iloc[done].astype(str)
        dotted = txt.str.contains(".", regex=False).to_numpy()
        if dotted.any():
            lone = txt[dotted].str.strip().str.fullmatch(_LONE_DOT.pattern).to_numpy()
            todo[done[dotted][lone]] = True
    pos = np.flatnonzero(todo)
    if len(pos):
        s = values.iloc[pos].fillna("").astype(str)
        s = s.str.strip().str.strip('"').str.strip()
        is_empty = (s == "").to_numpy()
        s = s.str.replace(_BLANKS, " ", regex=True)
        got = np.full(len(s), np.nan)
        why = np.full(len(s), None, dtype=object)
        left = ~is_empty
        plain = _PLAIN.get(decimal)
        if plain is not None and left.any():  # the common French case: 19,5
            hit = left & s.str.fullmatch(plain.pattern).to_numpy()
            if hit.any():
                got[hit] = pd.to_numeric(
                    s[hit].str.replace(decimal, ".", regex=False), errors="coerce"
                ).to_numpy(dtype="float64")
                left &= ~hit
        raw = values.iloc[pos].astype(str).str.strip().to_numpy()
        for kind, pattern, mark in _RULES[decimal]:
            if not left.any():
                break
            idx = np.flatnonzero(left)
            hit = s.iloc[idx].str.fullmatch(pattern.pattern).to_numpy()
            if not hit.any():
                continue
            where = idx[hit]
            left[where] = False
            if kind == "ok":
                other = "." if mark == "," else ","
                text = s.iloc[where].str.replace(" ", "", regex=False)
                text = text.str.replace(other, "", regex=False).str.replace(mark, ".", regex=False)
                got[where] = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
            elif kind == "ambiguous":
                why[where] = [ambiguous_reason(r, mark, decimal) for r in raw[where]]
            else:
                why[where] = [contrary_reason(r, decimal) for r in raw[where]]
        unread = ~is_empty & (why == None) & np.isnan(got)  # noqa: E711
        if unread.any():
            why[unread] = [f"valeur illisible « {r} »" for r in raw[unread]]
        num[pos] = got
        empty[pos] = is_empty
        reason[pos] = why
    inf = np.isinf(num)
    if inf.any():
        reason[inf] = [f"valeur hors limites « {v} »" for v in values.to_numpy()[inf]]
    num[reason != None] = np.nan  # noqa: E711
    return num, empty, reason
