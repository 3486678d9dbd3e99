"""Property-based: the number reader never misreads (a value is accepted only when it has one
reading, and then with that reading; French-formatted numbers always read back), and the
encoding reader gives the same fields whatever the encoding the text was saved in."""

from __future__ import annotations

import math
import re

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.numbers import read_numbers
from ingest.sniff import iter_tables, sniff

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NBSP, NNBSP = "\u00a0", "\u202f"
DECIMALS = st.sampled_from([",", ".", ""])  # the file's mark: comma, point, unknown


def _read(text: str, decimal: str) -> tuple[float, str | None]:
    num, _, reason = read_numbers(pd.Series([text], dtype=object), decimal)
    return float(num[0]), reason[0]


def readings(text: str, decimal: str) -> set[float]:
    """Every value `text` can mean, by a reference written independently of the reader: one
    decimal mark (or none) and one thousands separator (or none), groups of three digits,
    the file's own decimal mark never grouping thousands."""
    t = text.strip().replace(NBSP, " ").replace(NNBSP, " ")
    sign = -1.0 if t.startswith("-") else 1.0
    t = t[1:] if t[:1] in "+-" else t
    values = set()
    for mark in (",", ".", None):
        for group in (" ", ",", ".", None):
            if group is not None and group in (mark, decimal):
                continue
            if mark is None:
                whole, frac = t, ""
            elif t.count(mark) == 1:
                whole, frac = t.split(mark)
                if not re.fullmatch(r"[0-9]+", frac):
                    continue
            else:
                continue
            if group is None:
                if not re.fullmatch(r"[0-9]+", whole) and not (mark and whole == ""):
                    continue
            elif not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(group)}[0-9]{{3}})+", whole):
                continue
            digits = whole.replace(group, "") if group else whole
            values.add(sign * float(f"{digits or '0'}.{frac or '0'}"))
    return values


@SETTINGS
@given(
    text=st.from_regex(r"[+-]?[0-9][0-9., \u00a0]{0,10}[0-9]", fullmatch=True),
    decimal=DECIMALS,
)
@example(text="1.280", decimal=",")
@example(text="1,280", decimal=".")
@example(text="1,234.5", decimal=",")
@example(text="1.234,5", decimal=".")
@example(text="12 041.500", decimal=",")
def test_a_value_is_accepted_only_with_its_one_reading(text, decimal):
    value, reason = _read(text, decimal)
    meanings = readings(text, decimal)
    if reason is None:
        assert len(meanings) == 1, (text, decimal, meanings)
        assert math.isclose(value, meanings.pop(), rel_tol=1e-15, abs_tol=0.0)
    if len(meanings) > 1:  # two readings: never a guess
        assert reason is not None and math.isnan(value)
        assert reason.startswith("nombre ambigu")


def _french(whole: int, frac: str, sep: str, negative: bool) -> str:
    groups = f"{whole:,}".replace(",", sep)
    return ("-" if negative else "") + groups + ("," + frac if frac else "")


@SETTINGS
@given(
    whole=st.integers(0, 10**12),
    frac=st.from_regex(r"[0-9]{0,6}", fullmatch=True),
    sep=st.sampled_from(["", " ", NBSP, NNBSP]),
    negative=st.booleans(),
)
def test_french_formatted_numbers_read_back(whole, frac, sep, negative):
    text = _french(whole, frac, sep, negative)
    expected = (-1 if negative else 1) * float(f"{whole}.{frac or '0'}")
    value, reason = _read(text, ",")
    assert reason is None and math.isclose(value, expected, rel_tol=1e-15), text
    # a file of unknown mark reads it too, unless three decimals make it ambiguous
    value, reason = _read(text, "")
    if len(frac) != 3:
        assert reason is None and math.isclose(value, expected, rel_tol=1e-15), text


@SETTINGS
@given(
    whole=st.integers(0, 10**12),
    frac=st.from_regex(r"[0-9]{0,6}", fullmatch=True),
    grouped=st.booleans(),
)
def test_machine_numbers_read_back_in_a_decimal_point_file(whole, frac, grouped):
    text = (f"{whole:,}" if grouped else str(whole)) + ("." + frac if frac else "")
    value, reason = _read(text, ".")
    if grouped and 1000 <= whole < 10**6 and not frac:  # 1,000: 1 or 1 000?
        assert reason.startswith("nombre ambigu") and math.isnan(value)
        return
    assert reason is None and math.isclose(value, float(f"{whole}.{frac or '0'}"), rel_tol=1e-15)


@SETTINGS
@given(
    lead=st.integers(0, 999),
    tail=st.integers(0, 999),
    mark=st.sampled_from([",", "."]),
    decimal=DECIMALS,
    negative=st.booleans(),
)
def test_a_lone_mark_before_three_digits_is_never_misread(lead, tail, mark, decimal, negative):
    if mark == decimal:
        return  # the file's own mark: a decimal mark, one reading
    text = ("-" if negative else "") + f"{lead}{mark}{tail:03d}"
    value, reason = _read(text, decimal)
    assert math.isnan(value) and reason.startswith(f"nombre ambigu « {text} » : ")
    sign = "-" if negative else ""
    as_decimal = f"{lead},{tail:03d}".rstrip("0").rstrip(",")
    as_thousands = f"{int(f'{lead}{tail:03d}'):,}".replace(",", NBSP)
    assert f": {sign}{as_decimal} ou {sign}{as_thousands} ?" in reason


@SETTINGS
@given(
    lead=st.integers(1, 999),
    groups=st.lists(st.integers(0, 999), min_size=1, max_size=3),
    frac=st.from_regex(r"[0-9]{1,3}", fullmatch=True),
    decimal=st.sampled_from([",", "."]),
)
def test_the_files_decimal_mark_never_groups_thousands(lead, groups, frac, decimal):
    other = "." if decimal == "," else ","
    text = str(lead) + "".join(f"{decimal}{g:03d}" for g in groups) + other + frac
    value, reason = _read(text, decimal)
    assert math.isnan(value) and "contraire" in reason


# --- encodings -------------------------------------------------------------------------------

# letters whose Windows-1252 bytes are all >= 0xC0: such a text is never valid UTF-8
CP1252_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789éèàçôûêâîïëùÉÈÀÇ-_'"
FIELD = (
    st.text(alphabet=CP1252_SAFE + "€«»°œ’ ", min_size=1, max_size=12).map(str.strip).filter(bool)
)
ROWS = st.lists(st.lists(FIELD, min_size=3, max_size=3), min_size=1, max_size=25)


def _fields(path) -> list[list[str]]:
    sn = sniff(path)
    assert sn.sep == ";"
    out = []
    for table in iter_tables(sn, 0):
        assert not len(table.rejects)
        cols = [table.col(i).tolist() for i in range(3)]
        out += [list(r) for r in zip(*cols, strict=True)]
    return out


ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-sig": lambda t: t.encode("utf-8-sig"),
    "utf-16-le": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16-be": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "cp1252": lambda t: t.encode("cp1252"),
}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=ROWS, crlf=st.booleans())
def test_every_encoding_gives_the_same_fields(tmp_path_factory, rows, crlf):
    text = ("\r\n" if crlf else "\n").join(";".join(r) for r in rows) + "\n"
    folder = tmp_path_factory.mktemp("enc")
    for name, encode in ENCODINGS.items():
        if name == "cp1252" and any(c in text for c in "€«»°œ’"):
            continue  # their bytes could form valid UTF-8: not a cp1252 test
        path = folder / f"{name}.csv"
        path.write_bytes(encode(text))
        assert _fields(path) == rows, name


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(FIELD, min_size=2, max_size=2), min_size=2, max_size=25),
    data=st.data(),
)
def test_stray_bytes_in_a_utf8_file_touch_their_own_lines_only(tmp_path_factory, rows, data):
    rows = [r + ["qualité"] for r in rows]  # every line holds a valid UTF-8 "é"
    n_stray = data.draw(st.integers(1, max(1, len(rows) // 2)))
    stray = set(data.draw(st.permutations(range(len(rows))))[:n_stray])
    lines = []
    for i, row in enumerate(rows):
        line = ";".join(row).encode("utf-8")
        if i in stray:  # that line's last "é" saved as Windows-1252 (one byte, 0xE9)
            head, _, tail = line.rpartition("é".encode())
            line = head + b"\xe9" + tail
        lines.append(line)
    path = tmp_path_factory.mktemp("stray") / "presque.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert sniff(path).encoding == "utf-8"
    assert _fields(path) == rows  # the stray byte read as Windows-1252: the same "é"
    notes = [n for t in iter_tables(sniff(path), 0) for n in t.notes]
    assert notes and f"{len(stray)} ligne(s) contenant des octets hors UTF-8" in notes[0]
