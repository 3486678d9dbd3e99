"""Text timestamps to UTC epoch seconds, with every Europe/Paris ambiguity decided explicitly.

- A timestamp with an offset (`+02:00`, `Z`) is taken as is.
- A naive local time goes through Europe/Paris. The October hour that happens twice is decided
  by an offset column when the file has one, otherwise by order of appearance (per channel):
  the first occurrence is summer time (UTC+2), the second winter time (UTC+1), a third is
  rejected. The March hour that does not exist is rejected with its reason. Nothing is ever
  shifted silently.
- A timestamp outside the admitted years (`ingest.limits`, 1900 to 2099) is rejected with its
  reason before any time-zone arithmetic (year 9999, or beyond what pandas can hold, never
  reaches a conversion that would fail).
All functions return (epoch seconds, reason) arrays: reason is None for a good value.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from carnet.timeutil import TZ_NAME
from ingest import limits

NAT = np.iinfo("int64").min
_OFFSET_RE = r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"
_FR_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d/%m/%Y")
_ISO_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_ISO_Z = "%Y-%m-%dT%H:%M:%S%z"
MIN_EPOCH = int(pd.Timestamp(f"{limits.TS_MIN_YEAR}-01-01", tz="UTC").timestamp())
MAX_EPOCH = int(pd.Timestamp(f"{limits.TS_MAX_YEAR + 1}-01-01", tz="UTC").timestamp())
OUT_OF_RANGE = (
    f"horodatage hors de la plage admise (années {limits.TS_MIN_YEAR} à {limits.TS_MAX_YEAR})"
)


def _epoch(values) -> np.ndarray:
    """datetime64 (naive = wall clock, or UTC) to int64 seconds, NAT where missing."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    out = idx.as_unit("s").asi8.astype("int64")
    out[idx.isna()] = NAT
    return out


def parse_naive_checked(
    text: pd.Series, fmt: str | None = None
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Wall-clock times: `fmt` when given, else ISO, dd/mm/yyyy[ HH:MM[:SS]] or yyyymmdd[HH];
    NaT where unreadable or outside the admitted years, and which values were readable but
    outside them."""
    idx = _parse_naive(text, fmt)
    try:
        years = idx.year.to_numpy(dtype=float, na_value=np.nan)
    except (OverflowError, ValueError):  # beyond what a datetime can hold
        years = np.full(len(idx), np.nan)
    outside = ~np.isnan(years) & ((years < limits.TS_MIN_YEAR) | (years > limits.TS_MAX_YEAR))
    if outside.any():
        idx = pd.DatetimeIndex(np.where(outside, np.datetime64("NaT"), idx.to_numpy()))
    return idx, outside


def day_reasons(text: pd.Series, label: str = "date") -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Calendar days (local midnight) and the reason of each unreadable one."""
    idx, outside = parse_naive_checked(text)
    day = idx.normalize()
    raw = text.astype(object).fillna("").astype(str).to_numpy()
    reason = np.full(len(day), None, dtype=object)
    bad = np.asarray(day.isna())
    if bad.any():
        reason[bad] = [
            f"{label} hors de la plage admise (années {limits.TS_MIN_YEAR} à "
            f"{limits.TS_MAX_YEAR}) « {t} »"
            if o
            else f"{label} illisible « {t} »"
            for t, o in zip(raw[bad], outside[bad], strict=True)
        ]
    return day, reason


_FR_MINUTES = "%d/%m/%Y %H:%M"


def _parse_naive(text: pd.Series, fmt: str | None = None) -> pd.DatetimeIndex:
    s = text.astype(object).fillna("").astype(str).str.strip()
    fixed = None
    if fmt in (None, _FR_MINUTES) and _looks_fr(s):  # the French export: read in numpy
        wall, fixed = fr_minutes_fixed(s)
        if fixed.all():
            return pd.DatetimeIndex(wall.astype("datetime64[s]"))
    if fmt:
        return pd.DatetimeIndex(pd.to_datetime(s, format=fmt, errors="coerce"))
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    if fixed is not None and fixed.any():
        out[fixed] = wall[fixed].astype("datetime64[s]")
        s = s.where(~fixed, "")  # read: matched by no layout below
    iso = s.str.match(_ISO_NAIVE)
    if iso.any():
        out[iso] = pd.to_datetime(
            s[iso].str.replace(" ", "T", n=1), format="ISO8601", errors="coerce"
        )
    fr = ~iso & s.str.match(r"^\d{1,2}/\d{1,2}/\d{4}")
    for f in _FR_FORMATS:
        todo = fr & out.isna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(s[todo], format=f, errors="coerce")
    digits = out.isna() & s.str.fullmatch(r"\d{8}(?:\d{2})?")
    if digits.any():
        d = s[digits]
        hourly = d.str.len() == 10
        out[digits & ~hourly.reindex(s.index, fill_value=False)] = pd.to_datetime(
            d[~hourly], format="%Y%m%d", errors="coerce"
        )
        out[digits & hourly.reindex(s.index, fill_value=False)] = pd.to_datetime(
            d[hourly], format="%Y%m%d%H", errors="coerce"
        )
    return pd.DatetimeIndex(out)


def parse_offset_minutes(text: pd.Series) -> np.ndarray:
    """`+02:00`, `+0200`, `+2`, `UTC+2`, `Z` to minutes east of UTC (NaN when blank/unreadable)."""
    s = text.astype(object).fillna("").astype(str).str.strip().str.upper()
    s = s.str.replace(r"^(?:UTC|GMT)", "", regex=True).str.replace("Z", "+00:00", regex=False)
    m = s.str.extract(r"^([+-])?(\d{1,2})(?::?(\d\d))?$")
    sign = np.where(m[0].fillna("+") == "-", -1.0, 1.0)
    hours = pd.to_numeric(m[1], errors="coerce").to_numpy(dtype=float)
    minutes = pd.to_numeric(m[2], errors="coerce").fillna(0).to_numpy(dtype=float)
    return sign * (hours * 60 + minutes)


class LocalClock:
    """Turns naive Europe/Paris times into UTC, remembering across chunks how often each
    ambiguous wall-clock time has been seen for each key (channel), so that the first
    occurrence of the repeated October hour is summer time and the second winter time."""

    def __init__(self) -> None:
        self._seen: dict[tuple, int] = {}

    def to_utc(
        self,
        naive: pd.DatetimeIndex,
        keys: np.ndarray | None = None,
        offset_min: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        naive = pd.DatetimeIndex(naive)
        n = len(naive)
        reason = np.full(n, None, dtype=object)
        reason[naive.isna()] = "horodatage illisible"
        summer = _epoch(naive.tz_localize(TZ_NAME, ambiguous=np.ones(n, bool), nonexistent="NaT"))
        winter = _epoch(naive.tz_localize(TZ_NAME, ambiguous=np.zeros(n, bool), nonexistent="NaT"))
        wall = _epoch(naive)
        missing = (summer == NAT) & (wall != NAT)
        if missing.any():
            reason[missing] = "heure inexistante (passage à l'heure d'été, 02:00 → 03:00)"
        out = summer.copy()
        ambiguous = (summer != winter) & (summer != NAT)
        if offset_min is not None:
            has = ~np.isnan(offset_min) & (wall != NAT)
            given = wall - (np.nan_to_num(offset_min) * 60).astype("int64")
            ok = has & ((given == summer) | (given == winter))
            bad = has & ~ok & ~missing
            out[ok] = given[ok]
            if bad.any():
                reason[bad] = [
                    f"décalage UTC{o:+.0f} min incohérent avec l'heure de Paris"
                    for o in offset_min[bad]
                ]
            ambiguous &= ~has
        if ambiguous.any():
            out[ambiguous] = self._by_order(naive, wall, summer, winter, ambiguous, keys, reason)
        out[reason != None] = NAT  # noqa: E711 (element-wise on an object array)
        return out, reason

    def _by_order(self, naive, wall, summer, winter, ambiguous, keys, reason) -> np.ndarray:
        pos = np.flatnonzero(ambiguous)
        key = keys[pos] if keys is not None else np.zeros(len(pos), dtype="int64")
        frame = pd.DataFrame({"k": key, "w": wall[pos]})
        occurrence = frame.groupby(["k", "w"], sort=False).cumcount().to_numpy()
        before = np.fromiter(
            (self._seen.get((k, w), 0) for k, w in zip(frame["k"], frame["w"], strict=True)),
            dtype="int64",
            count=len(pos),
        )
        occurrence = occurrence + before
        for (k, w), size in frame.groupby(["k", "w"], sort=False).size().items():
            self._seen[(k, w)] = self._seen.get((k, w), 0) + int(size)
        picked = np.where(occurrence == 0, summer[pos], winter[pos])
        third = occurrence >= 2
        if third.any():
            reason[pos[third]] = "heure déjà vue deux fois (été puis hiver) : troisième occurrence"
        return picked


def parse_timestamps(
    text: pd.Series,
    clock: LocalClock,
    keys: np.ndarray | None = None,
    offset_min: np.ndarray | None = None,
    fmt: str | None = None,
    timezone: str = "local",
) -> tuple[np.ndarray, np.ndarray]:
    """Any mix of ISO-with-offset and naive texts to UTC epoch seconds and reasons.

    Naive texts are Europe/Paris wall-clock time unless `timezone` is "utc". The common
    machine case (`2024-10-27T02:00:00+01:00` or `...Z`) is one exact-format C conversion;
    only what it cannot read goes through the general path. Instants outside the admitted
    years are rejected.
    """
    out, reason = _parse_timestamps(text, clock, keys, offset_min, fmt, timezone)
    outside = (out != NAT) & ((out < MIN_EPOCH) | (out >= MAX_EPOCH))
    if outside.any():
        raw = text.astype(object).fillna("").astype(str).str.strip().to_numpy()
        reason[outside] = [f"{OUT_OF_RANGE} « {t} »" for t in raw[outside]]
        out[outside] = NAT
    return out, reason


def _fixed_width(text: pd.Series, width: int) -> np.ndarray | None:
    """The texts as an (n, width + 1) array of character codes (255 for any beyond it), NUL
    padded: a text of exactly `width` characters has a non-NUL code at width - 1 and NUL at
    `width`. The readers refuse control characters (NUL included) before any format sees a
    field, so a NUL here is padding. None when a value cannot be made text."""
    try:
        codes = text.to_numpy().astype(f"U{width + 1}").view(np.uint32)
    except (TypeError, ValueError):
        return None
    return np.minimum(codes, 255).astype(np.uint8).reshape(len(text), width + 1)


_YEARS = np.arange(limits.TS_MIN_YEAR, limits.TS_MAX_YEAR + 1)
_LEAP = ((_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))).astype("int64")
# days from 1970-01-01 to January 1st of each admitted year
_YEAR_DAYS = (_YEARS - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype("int64")
_MONTH_LENGTH = np.array(
    [
        [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
        [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    ]
)
_MONTH_START = np.concatenate([np.zeros((2, 1), "int64"), _MONTH_LENGTH.cumsum(axis=1)[:, :-1]], 1)


def _civil(u: np.ndarray, layout: dict[str, int], sep: dict[int, str], width: int) -> tuple:
    """(seconds since the epoch of the wall-clock fields, valid) of `_fixed_width` texts: `width` characters, digits where `layout` says (field -> first
    column; a year has 4), `sep` characters where it says. Invalid wherever a character is
    out of place, a field out of range or a day past its month's end; years outside the
    admitted ones are left to the general path (it says why)."""
    d = u[:, :width] - np.uint8(48)  # a digit is 0..9; anything else wraps above 9
    ok = u[:, width] == 0
    for name, start in layout.items():
        for col in range(start, start + (4 if name == "year" else 2)):
            ok &= d[:, col] < 10
    for col, ch in sep.items():
        ok &= u[:, col] == ord(ch)
    f = {}
    for name, start in layout.items():  # two digits fit a byte (99), a year two
        pair = d[:, start] * np.uint8(10) + d[:, start + 1]
        if name == "year":
            pair = pair.astype("int64") * 100 + (d[:, start + 2] * np.uint8(10) + d[:, start + 3])
        f[name] = pair.astype("int64")
    y, m, day = f["year"], f["month"], f["day"]
    hh, mm, ss = f["hour"], f["minute"], f.get("second", 0)
    ok &= (y >= limits.TS_MIN_YEAR) & (y <= limits.TS_MAX_YEAR) & (m >= 1) & (m <= 12)
    # table lookups instead of integer divisions (slow in numpy): indices clipped, the rows
    # they would have read out of range being invalid already
    year = np.clip(y - limits.TS_MIN_YEAR, 0, len(_YEAR_DAYS) - 1)
    month = np.clip(m, 1, 12) - 1
    leap = _LEAP[year]
    ok &= (day >= 1) & (day <= _MONTH_LENGTH[leap, month]) & (hh <= 23) & (mm <= 59)
    ok &= ss <= 59
    days = _YEAR_DAYS[year] + _MONTH_START[leap, month] + day - 1
    return days * 86400 + hh * 3600 + mm * 60 + ss, ok


_FR_FIELDS = {"day": 0, "month": 3, "year": 6, "hour": 11, "minute": 14}
_FR_SEP = {2: "/", 5: "/", 10: " ", 13: ":"}


def fr_minutes_fixed(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock epoch seconds (as if UTC) of `dd/mm/yyyy HH:MM` and where a text has exactly
    that layout with valid fields; the rest is left (False) to the general path."""
    n = len(text)
    fixed = _fixed_width(text, 16) if n else None
    if fixed is None:
        return np.full(n, NAT, dtype="int64"), np.zeros(n, dtype=bool)
    wall, ok = _civil(fixed, _FR_FIELDS, _FR_SEP, width=16)
    return np.where(ok, wall, NAT), ok


def _looks_fr(text: pd.Series) -> bool:
    """Whether the first text has the `dd/mm/yyyy HH:MM` layout: the file's layout, decided
    once, so that no other file pays for looking for it."""
    first = text.iloc[0] if len(text) else None
    return isinstance(first, str) and len(first) == 16 and first[2] == "/"


def _wall_to_utc(text, wall, clock, keys, offset_min, timezone):
    """Epoch seconds and reasons of readable wall-clock times (`wall`, epoch seconds as if
    UTC), as the general path decides them: through Europe/Paris (`LocalClock`, in the
    file's order) unless `timezone` is "utc"."""
    if timezone == "utc":
        return wall.copy(), np.full(len(wall), None, dtype=object)
    naive = pd.DatetimeIndex(wall.astype("datetime64[s]"))
    out, reason = clock.to_utc(naive, None if keys is None else np.asarray(keys), offset_min)
    return _refused_quoted(out, reason, text)


def _parse_timestamps(text, clock, keys, offset_min, fmt, timezone):
    if fmt in (None, _FR_MINUTES) and _looks_fr(text):
        # the French export, every text in its fixed layout: no ISO attempt, no regex, no
        # strptime; otherwise the general path below reads the file as it always did
        wall, fixed = fr_minutes_fixed(text)
        if fixed.all():
            return _wall_to_utc(text, wall, clock, keys, offset_min, timezone)
    if fmt is None:
        # already an exact-format C parse: a numpy reading of the fixed-width bytes measured
        # no faster for this layout (it is for the French one, see `fr_minutes_fixed`)
        fast = pd.to_datetime(text, format=_ISO_Z, errors="coerce", utc=True)
        done = fast.notna().to_numpy()
        if done.all():
            return _epoch(fast), np.full(len(text), None, dtype=object)
        if done.any():
            out = _epoch(fast)
            reason = np.full(len(text), None, dtype=object)
            rest = np.flatnonzero(~done)
            ep, r = _parse_timestamps(
                text.iloc[rest].reset_index(drop=True),
                clock,
                None if keys is None else np.asarray(keys)[rest],
                None if offset_min is None else np.asarray(offset_min)[rest],
                "\x00general",
                timezone,
            )
            out[rest], reason[rest] = ep, r
            return out, reason
    if fmt == "\x00general":
        fmt = None
    s = text.astype(object).fillna("").astype(str).str.strip()
    n = len(s)
    out = np.full(n, NAT, dtype="int64")
    reason = np.full(n, None, dtype=object)
    reason[(s == "").to_numpy()] = "horodatage vide"
    aware = np.zeros(n, dtype=bool)
    if fmt is None:
        # a `dd/mm/yyyy HH:MM` text carries no offset: only the others are searched for one
        other = ~fr_minutes_fixed(s)[1] if _looks_fr(s) else np.ones(n, dtype=bool)
        if other.any():
            aware[other] = s[other].str.contains(_OFFSET_RE, regex=True).to_numpy()
    if aware.any():
        parsed = pd.to_datetime(s[aware], format="ISO8601", utc=True, errors="coerce")
        out[aware] = _epoch(parsed)
        reason[aware & (out == NAT)] = "horodatage illisible"
    naive_mask = ~aware & (reason == None)  # noqa: E711
    if naive_mask.any():
        naive, outside = parse_naive_checked(s[naive_mask], fmt)
        if timezone == "utc":
            ep = _epoch(naive)
            r = np.where(ep == NAT, "horodatage illisible", None)
        else:
            ep, r = clock.to_utc(
                naive,
                None if keys is None else np.asarray(keys)[naive_mask],
                None if offset_min is None else offset_min[naive_mask],
            )
        if outside.any():
            r = np.asarray(r, dtype=object)
            r[outside] = OUT_OF_RANGE
        out[naive_mask] = ep
        reason[naive_mask] = r
    return _refused_quoted(out, reason, s)


def _refused_quoted(out, reason, text):
    """Refused stamps become NaT and their reason quotes the cell as written."""
    bad = reason != None  # noqa: E711
    out[bad] = NAT
    if bad.any():
        raw = text.to_numpy()[bad]
        reason[bad] = [f"{r} « {t} »" for r, t in zip(reason[bad], raw, strict=True)]
    return out, reason
