"""Figures that depend only on the data, computed once per change of the data and shared by
every request and thread of the worker process.

A key is (database, data version, what, arguments...): `carnet.versions` changes the version
in the very transaction of every write the figures read (imports and their revert, the poller,
adjustments, closings, quarantine decisions, contract loading), whatever process made it. Each
request reads the version once (one indexed row) and so never sees a figure older than the
data; entries of older versions are never asked for again and age out of the LRU.

Cached values are shared: callers must not mutate them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import flask
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine

from carnet import versions

T = TypeVar("T")
MAX_ENTRIES = 256  # a contract's season, its models and a few dozen building details each


class LRU:
    """A bounded, thread-safe map computing each missing key once (concurrent askers of the
    same key wait for the first one instead of computing it again)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, object] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _get(self, key: Hashable) -> tuple[bool, object]:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return True, self._data[key]
            return False, None

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        found, value = self._get(key)
        if found:
            return value  # type: ignore[return-value]
        with self._lock:
            flight = self._computing.setdefault(key, threading.Lock())
        with flight:
            found, value = self._get(key)
            if found:
                return value  # type: ignore[return-value]
            try:
                value = compute()
                with self._lock:
                    self.misses += 1
                    self._data[key] = value
                    while len(self._data) > self.max_entries:
                        self._data.popitem(last=False)
            finally:
                with self._lock:
                    self._computing.pop(key, None)
        return value  # type: ignore[return-value]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


figures = LRU()


def data_version(engine: Engine) -> tuple[str, int] | None:
    """The database's (epoch, version), read once per request."""
    if not flask.has_request_context():
        return versions.current(engine)
    seen = flask.g.setdefault("carnet_data_versions", {})
    url = str(engine.url)
    if url not in seen:
        seen[url] = versions.current(engine)
    return seen[url]


def cached(engine: Engine, what: str, args: tuple, compute: Callable[[], T]) -> T:
    """`compute()` once per (database, data version, what, args)."""
    version = data_version(engine)  # before computing: a write meanwhile makes a newer key
    if version is None:
        return compute()
    return figures.get_or_compute((str(engine.url), version, what, *args), compute)


def rendered(view) -> object:
    """A Dash view (components, figures) as the JSON the browser receives, so that a cached
    view is neither rebuilt nor re-encoded component by component on the next request: Dash
    sends plain dicts and lists as they are."""
    return json.loads(to_json_plotly(view))
