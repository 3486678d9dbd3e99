"""A function replaced by one that records the size of an argument at each call, then
does what it did: how a test states how often, and on how much, a step ran."""

from __future__ import annotations


def sizes_of_calls(monkeypatch, owner, name: str, arg: int) -> list[int]:
    """`len` of positional argument `arg` at each call of `owner.name` from now on, in order."""
    sizes: list[int] = []
    original = getattr(owner, name)

    def recording(*args, **kwargs):
        sizes.append(len(args[arg]))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return sizes
