"""The import reads the next chunk while it writes this one (ingest.importer._parsed_tables):
one chunk ahead, never more, errors raised in the file's order, the worker always stopped."""

from __future__ import annotations

import threading

import pytest

from ingest import importer
from ingest.formats.generic import LongParser
from ingest.import_run import ImportRun
from tests.helpers.ingest_support import count, load_samples, readings


@pytest.fixture
def town(engine):
    load_samples(engine)
    return engine


def _file(path, n: int):
    rows = "".join(
        f"MAIRIE-CONSEIL-T,2024-12-01T{h % 24:02d}:{m:02d}:00+01:00,{19 + (h * 60 + m) % 7}\n"
        for h, m in ((i // 60, i % 60) for i in range(n))
    )
    path.write_text("channel,timestamp,value\n" + rows, encoding="utf-8")
    return path


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "carnet-import-lecture"]


def test_next_chunk_is_parsed_while_this_one_is_written(town, tmp_path, monkeypatch):
    parsed_before_take: list[int] = []
    parses = []
    parse, take = LongParser.parse, ImportRun.take

    def counting_parse(self, table):
        parses.append(len(table))
        return parse(self, table)

    def waiting_take(self, parsed, table=None):
        # give the worker time to parse ahead: it is one chunk ahead, never more
        for _ in range(200):
            if len(parses) >= min(len(parsed_before_take) + 2, 6):
                break
            threading.Event().wait(0.01)
        parsed_before_take.append(len(parses))
        return take(self, parsed, table)

    monkeypatch.setattr(LongParser, "parse", counting_parse)
    monkeypatch.setattr(ImportRun, "take", waiting_take)
    report = importer.import_file(town, _file(tmp_path / "f.csv", 6 * 60), chunk_lines=60)
    assert report.status == "ok", report.as_dict()
    assert report.rows_inserted == 6 * 60
    assert len(readings(town, "MAIRIE-CONSEIL-T")) == 6 * 60
    # at the k-th write (from 1), chunk k + 1 is already parsed and chunk k + 2 is not
    assert parsed_before_take == [2, 3, 4, 5, 6, 6]
    assert not _workers()


def test_an_error_in_a_later_chunk_writes_nothing_and_stops_the_worker(town, tmp_path, monkeypatch):
    parse = LongParser.parse
    seen = []

    def failing_parse(self, table):
        seen.append(len(table))
        if len(seen) == 3:
            raise RuntimeError("panne de lecture")
        return parse(self, table)

    monkeypatch.setattr(LongParser, "parse", failing_parse)
    before = count(town, "reading")
    report = importer.import_file(town, _file(tmp_path / "f.csv", 6 * 60), chunk_lines=60)
    assert report.status == "failed"
    assert "panne de lecture" in report.message
    assert count(town, "reading") == before  # chunks 1 and 2 were written, then rolled back
    assert len(seen) == 3  # nothing parsed after the error
    assert not _workers()


def test_leaving_early_stops_the_worker(town, tmp_path, monkeypatch):
    def interrupted_take(self, parsed, table=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(ImportRun, "take", interrupted_take)
    with pytest.raises(KeyboardInterrupt):
        importer.import_file(town, _file(tmp_path / "f.csv", 6 * 60), chunk_lines=60)
    assert not _workers()


def test_chunk_sizes_are_balanced_for_the_file():
    assert importer.balanced_chunk_lines(200_000, 240_000) == 120_000
    assert importer.balanced_chunk_lines(200_000, 1_200_000) == 200_000
    assert importer.balanced_chunk_lines(200_000, 1_200_001) == 171_429  # 7 chunks
    assert importer.balanced_chunk_lines(200_000, 150_000) == 200_000  # one chunk
    assert importer.balanced_chunk_lines(200_000, 0) == 200_000  # line count unknown
    for cap in (1, 2, 7, 60):
        for lines in range(0, 200):
            size = importer.balanced_chunk_lines(cap, lines)
            chunks = -(-lines // size) if lines else 0
            assert size <= max(cap, lines) and (lines <= cap or size <= cap)
            assert chunks == max(-(-lines // cap), 1 if lines else 0)  # never more chunks


def test_a_file_is_read_in_chunks_of_equal_size(town, tmp_path, monkeypatch):
    """150 lines at 60 a chunk: three of 50, not 60, 60 and 30 (a short last chunk leaves
    the reading ahead idle while the file's end is written)."""
    sizes: list[int] = []
    parse = LongParser.parse

    def recording_parse(self, table):
        sizes.append(len(table))
        return parse(self, table)

    monkeypatch.setattr(LongParser, "parse", recording_parse)
    report = importer.import_file(town, _file(tmp_path / "f.csv", 150), chunk_lines=60)
    assert report.status == "ok" and report.rows_inserted == 150
    assert sizes == [50, 50, 50]
    assert len(readings(town, "MAIRIE-CONSEIL-T")) == 150
