"""The import reads the next chunk while it writes this one (ingest.importer._Reader):
one chunk ahead, never more, errors raised in the file's order, the worker always stopped."""

from __future__ import annotations

import threading

import pytest

from ingest import importer
from ingest.formats.generic import LongParser
from ingest.import_run import ImportRun
from tests.helpers.calls import sizes_of_calls
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


def _parsed_sizes(monkeypatch) -> list[int]:
    """The size of each table parsed from now on, in order."""
    return sizes_of_calls(monkeypatch, LongParser, "parse", arg=1)  # (self, table)


def _wait_for(parses: list, n: int) -> None:
    for _ in range(200):
        if len(parses) >= n:
            return
        threading.Event().wait(0.01)


def test_next_chunk_is_parsed_while_this_one_is_written(town, tmp_path, monkeypatch):
    """The worker starts on chunk k + 1 when the rows of chunk k are about to be sent (the
    store calls `ahead`), not before: the writer's own checks of chunk k run alone."""
    at_take: list[int] = []  # chunks parsed when the k-th write starts
    at_send: list[int] = []  # ... when its rows are about to be sent
    after_take: list[int] = []  # ... once it is written (the worker given time to run)
    parses = _parsed_sizes(monkeypatch)
    take = ImportRun.take

    def watching_take(self, parsed, table=None, ahead=None):
        threading.Event().wait(0.05)  # a worker running ahead would parse now
        at_take.append(len(parses))

        def watched_ahead():
            if len(at_send) < len(at_take):
                at_send.append(len(parses))
            ahead()

        take(self, parsed, table, ahead=watched_ahead)
        _wait_for(parses, min(len(at_take) + 1, 6))
        threading.Event().wait(0.05)
        after_take.append(len(parses))

    monkeypatch.setattr(ImportRun, "take", watching_take)
    report = importer.import_file(town, _file(tmp_path / "f.csv", 6 * 60), chunk_lines=60)
    assert report.status == "ok", report.as_dict()
    assert report.rows_inserted == 6 * 60
    assert len(readings(town, "MAIRIE-CONSEIL-T")) == 6 * 60
    # at the k-th write (from 1) only chunks up to k are parsed, up to the sending of its
    # rows; chunk k + 1 is parsed while they are written, and chunk k + 2 is not
    assert at_take == [1, 2, 3, 4, 5, 6]
    assert at_send == [1, 2, 3, 4, 5, 6]
    assert after_take == [2, 3, 4, 5, 6, 6]
    assert not _workers()


def test_a_chunk_with_nothing_to_send_still_lets_the_worker_go(town, tmp_path, monkeypatch):
    """A write that never reaches the database (here: never calls `ahead`) does not stall the
    reading: the next chunk is asked for, and read."""
    parses = _parsed_sizes(monkeypatch)
    take = ImportRun.take

    def silent_take(self, parsed, table=None, ahead=None):
        return take(self, parsed, table)

    monkeypatch.setattr(ImportRun, "take", silent_take)
    report = importer.import_file(town, _file(tmp_path / "f.csv", 6 * 60), chunk_lines=60)
    assert report.status == "ok" and report.rows_inserted == 6 * 60
    assert parses == [60] * 6
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
    def interrupted_take(self, parsed, table=None, ahead=None):
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


def _sizes_of_150_lines_at_60(town, tmp_path, monkeypatch) -> list[int]:
    sizes = _parsed_sizes(monkeypatch)
    report = importer.import_file(town, _file(tmp_path / "f.csv", 150), chunk_lines=60)
    assert report.status == "ok" and report.rows_inserted == 150
    assert len(readings(town, "MAIRIE-CONSEIL-T")) == 150
    return sizes


def test_a_file_is_read_in_chunks_of_equal_size(town, tmp_path, monkeypatch):
    """150 lines at 60 a chunk: three of 50, not 60, 60 and 30 (a short last chunk leaves
    the reading ahead idle while the file's end is written)."""
    assert _sizes_of_150_lines_at_60(town, tmp_path, monkeypatch) == [50, 50, 50]


def test_the_first_chunk_is_half_the_others():
    assert importer.chunk_sizes(200_000, 240_000) == (60_000, 90_000)
    assert importer.chunk_sizes(200_000, 1_200_000) == (100_000, 183_334)
    assert importer.chunk_sizes(200_000, 40_000) == (200_000, 200_000)  # one chunk, whole
    assert importer.chunk_sizes(200_000, 0) == (200_000, 200_000)  # line count unknown


def test_chunk_sizes_never_add_more_than_one_chunk(monkeypatch):
    monkeypatch.setattr(importer, "HALF_FIRST_MIN_LINES", 0)
    for cap in (1, 2, 7, 60):
        for lines in range(2, 300):
            first, then = importer.chunk_sizes(cap, lines)
            assert 1 <= first <= then <= cap or lines <= cap and then <= lines
            chunks = 1 + -(-(lines - first) // then)
            assert chunks <= -(-lines // cap) + 1
            assert first < lines  # the first is never the whole file: it is half of one


def test_a_large_file_starts_with_half_a_chunk(town, tmp_path, monkeypatch):
    """150 lines at 60 a chunk, above the threshold: 25, then three of 42 or less."""
    monkeypatch.setattr(importer, "HALF_FIRST_MIN_LINES", 100)
    assert _sizes_of_150_lines_at_60(town, tmp_path, monkeypatch) == [25, 42, 42, 41]
