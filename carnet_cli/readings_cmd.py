"""`carnet readings CHANNEL`: any figure on a page can be checked from a shell.

pandas and the record are imported by the handler, not here: `carnet readings --help` costs
no more than the parser (tests/test_cli_startup.py)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from carnet_cli.main import CliError

if TYPE_CHECKING:
    import pandas as pd


def register(sub) -> None:
    p = sub.add_parser(
        "readings",
        help="relevés d'un point de mesure, ou ses chiffres par jour / mois (heure de Paris)",
    )
    p.add_argument("channel", metavar="POINT")
    p.add_argument("--from", dest="day_from", metavar="DATE", help="date locale incluse")
    p.add_argument("--to", dest="day_to", metavar="DATE", help="date locale incluse")
    grain = p.add_mutually_exclusive_group()
    grain.add_argument("--daily", action="store_true", help="par jour local")
    grain.add_argument("--monthly", action="store_true", help="par mois local")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=_readings)


def _readings(args) -> int:
    from carnet.db import get_engine
    from carnet.queries import UnknownChannel, daily_frame, monthly_frame, readings_frame
    from carnet.timeutil import parse_local_date

    try:
        day_from = parse_local_date(args.day_from) if args.day_from else None
        day_to = parse_local_date(args.day_to) if args.day_to else None
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    engine = get_engine()
    try:
        if args.daily:
            frame = daily_frame(engine, [args.channel], day_from, day_to).drop(columns="channel")
        elif args.monthly:
            frame = monthly_frame(engine, [args.channel], day_from, day_to).drop(columns="channel")
        else:
            frame = readings_frame(engine, args.channel, day_from, day_to)
    except UnknownChannel as exc:
        raise CliError(str(exc)) from exc
    write_frame(frame, args.format, sys.stdout)
    return 0


def _machine(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    if "time_local" in out:
        out["ts"] = pd.to_datetime(out["ts"], unit="s", utc=True).map(lambda t: t.isoformat())
        out["time_local"] = out["time_local"].map(lambda t: t.isoformat())
    if "day" in out:
        out["day"] = out["day"].astype(str)
    return out


def write_frame(frame: pd.DataFrame, fmt: str, stream) -> None:
    """table: for people (dd/mm/yyyy, decimal comma); csv and json: for machines."""
    if fmt == "json":
        records = _machine(frame).astype(object).where(frame.notna(), None).to_dict("records")
        json.dump(records, stream, ensure_ascii=False, indent=1)
        stream.write("\n")
    elif fmt == "csv":
        _machine(frame).to_csv(stream, index=False, lineterminator="\n")
    else:
        stream.write(format_table(frame) + "\n")


def _fr_cell(value) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%d/%m/%Y %H:%M")
    if hasattr(value, "strftime"):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".").replace(".", ",") or "0"
    return str(value)


def format_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(aucune donnée)"
    shown = frame.drop(columns=[c for c in ("ts",) if c in frame and "time_local" in frame])
    cells = [[_fr_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    headers = list(shown.columns)
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
