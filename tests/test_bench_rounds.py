"""benchmarks/bench_import.py and bench_poll.py on a tiny scale, so that they cannot rot: each
round is printed, the rows both sides wrote are checked by the benchmark itself, and the
last line is `ratio=R`, the median of the rounds' ratios."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(name: str, *args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    return out.strip().splitlines()


def _ratio(lines: list[str]) -> float:
    last = re.fullmatch(r"ratio=(\d+\.\d{3})", lines[-1])
    assert last, lines[-1]
    return float(last.group(1))


def test_import_benchmark_reports_the_median_of_its_rounds():
    lines = _run("bench_import.py", "--existing", "24000", "--rows", "1200", "--repeat", "3")
    rounds = [float(m.group(1)) for ln in lines if (m := re.search(r"rapport (\d\.\d{3})", ln))]
    assert len(rounds) == 3
    assert "existing_rows=24000" in lines
    assert abs(_ratio(lines) - statistics.median(rounds)) <= 0.001


def test_poll_benchmark_reports_the_median_of_its_rounds():
    lines = _run("bench_poll.py", "--devices", "2", "--rounds", "1", "--prefill-min", "1",
                 "--repeat", "3")  # fmt: skip
    rounds = [float(m.group(1)) for ln in lines if (m := re.search(r"rapport (\d\.\d{3})", ln))]
    assert len(rounds) == 3
    assert abs(_ratio(lines) - statistics.median(rounds)) <= 0.001
