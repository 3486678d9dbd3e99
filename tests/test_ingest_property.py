"""Property-based: whatever lines a file holds, the importer never crashes, never writes part
of a strict batch, and accounts for every value (read = inserted + updated + unchanged +
rejected), with one rejected row per faulty line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.importer import import_file
from tests.helpers.ingest_support import assert_accounted, count, load_samples, rejected

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CODES = ["MAIRIE-CONSEIL-T", "MAIRIE-GAZ", "JAURES-DEPART-T", "INCONNU"]
# printable text without line breaks (a line is a line) and without NUL (a binary file)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    max_size=40,
)
GOOD = st.builds(
    lambda c, d, h, m, v, q: f"{c},2024-{d:%m-%d}T{h:02d}:{m:02d}:00+01:00,{v},{q}",
    st.sampled_from(CODES),
    st.dates(
        min_value=__import__("datetime").date(2024, 1, 1),
        max_value=__import__("datetime").date(2024, 12, 31),
    ),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
    st.one_of(st.floats(-50, 20000, allow_nan=False).map(lambda x: f"{x:.3f}"), st.just("")),
    st.sampled_from(["", "measured", "estimated", "e", "??"]),
)
CORRUPT = st.one_of(
    TEXT,
    GOOD.map(lambda s: s.replace(",", ";", 1)),
    GOOD.map(lambda s: s + ",en trop"),
    GOOD.map(lambda s: s[: len(s) // 2]),
    GOOD.map(lambda s: s.replace("2024-", "2024-13-", 1)),
    GOOD.map(lambda s: s.replace("T", "T99", 1)),
    GOOD.map(lambda s: '"' + s),
    st.just(",,,"),
    st.just("   "),
)
LINES = st.lists(st.one_of(GOOD, CORRUPT), min_size=1, max_size=30)


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _write(tmp_path, lines, name="f.csv"):
    path = tmp_path / name
    path.write_text("channel,timestamp,value,quality\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@SETTINGS
@given(lines=LINES, chunk=st.sampled_from([1, 3, 1000]))
def test_every_line_is_accounted_for(town, tmp_path, lines, chunk):
    before = count(town, "reading")
    report = import_file(town, _write(tmp_path, lines), fmt="generic-long", chunk_lines=chunk)
    assert report.status in ("ok", "partial")
    data_lines = [ln for ln in lines if ln.strip()]
    # one value per record; a quote opening a field joins the lines up to the closing quote
    # (csv semantics), so a file with quotes may hold fewer records than lines
    assert report.rows_read <= len(data_lines)
    if not any('"' in ln for ln in lines):
        assert report.rows_read == len(data_lines)
    assert_accounted(report)
    assert count(town, "reading") == before + report.rows_inserted
    rej = rejected(town, report.batch_id)
    assert len(rej) == report.rows_rejected  # one value per line in the long format
    assert rej["reason"].str.len().min() > 0 if len(rej) else True
    physical = {i + 2: ln for i, ln in enumerate(lines)}  # line 1 is the header
    for line_no, raw in zip(rej["line_no"], rej["raw"], strict=True):
        parts = (raw or "").split("\n")  # a record's physical lines, from its first one
        got = [physical[int(line_no) + k].strip() for k in range(len(parts))]
        assert got == [p.strip() for p in parts]


@SETTINGS
@given(good=st.lists(GOOD, min_size=1, max_size=15), bad=st.lists(CORRUPT, max_size=3))
def test_strict_batch_is_whole_or_nothing(town, tmp_path, good, bad):
    before = count(town, "reading")
    report = import_file(town, _write(tmp_path, good + bad), fmt="generic-long", strict=True)
    if report.rows_rejected:
        assert report.status == "failed"
        assert count(town, "reading") == before
        assert report.rows_inserted == report.rows_updated == report.rows_unchanged == 0
    else:
        assert report.status == "ok"
        assert count(town, "reading") == before + report.rows_inserted
    data_lines = [ln for ln in good + bad if ln.strip()]
    assert report.rows_read <= len(data_lines)  # a quoted field may join lines (csv)
    if not any('"' in ln for ln in data_lines):
        assert report.rows_read == len(data_lines)


@SETTINGS
@given(
    cells=st.lists(
        st.lists(
            st.one_of(
                st.just(""),
                st.floats(-10, 90).map(lambda x: f"{x:.1f}".replace(".", ",")),
                TEXT.filter(lambda t: ";" not in t and '"' not in t),
            ),
            min_size=2,
            max_size=2,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_wide_file_accounts_for_every_cell(town, tmp_path, cells):
    lines = [f"0{1 + i % 9}/12/2024 {i % 24:02d}:00;{a};{b}" for i, (a, b) in enumerate(cells)]
    path = tmp_path / "w.csv"
    path.write_text("horodate;JAURES-DEPART-T;INCONNU-X\n" + "\n".join(lines) + "\n")
    report = import_file(town, path, fmt="generic-wide")
    assert report.rows_read == 2 * len(cells)
    assert_accounted(report)
    assert report.rows_rejected >= len(cells)  # the unknown column's cells, at least


@SETTINGS
@given(data=st.binary(max_size=300), name=st.sampled_from(["x.csv", "x.xlsx", "x.txt"]))
def test_any_bytes_never_crash(town, tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(data)
    report = import_file(town, path)
    assert report.status in ("ok", "partial", "unreadable")
    assert report.exit_status in (0, 1, 2)
    assert_accounted(report)
