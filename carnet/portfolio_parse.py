"""Reading and validating a portfolio document against `carnet.portfolio_schema`: every
problem is collected with the path to its key (« buildings[0].rooms[1].capacity »), in French,
before anything is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from carnet.portfolio_schema import (
    BOOLEAN,
    DATE,
    DAY_OF_YEAR,
    DECIMAL,
    ENTITIES,
    INTEGER,
    LIST,
    NUMBER,
    OBJECT,
    RANGE,
    SECTIONS,
    TEXT,
    UNIQUE_NESTED,
)
from carnet.quantities import QUANTITIES


class PortfolioError(ValueError):
    """Every problem found in a portfolio file, each with the path to its key."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


class _Refused(Exception):
    """A value of the wrong kind; the argument says what was expected."""


def _text(value: Any) -> str:
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        if text:
            return text
    raise _Refused("texte non vide")


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Refused("nombre entier")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.replace(",", ".").replace("\u202f", "").replace(" ", ""))
        except InvalidOperation:
            pass
    raise _Refused("nombre")


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return float(_decimal(value))


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Refused("booléen (true/false)")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return dt.datetime.strptime(value.strip(), fmt).date()
            except ValueError:
                continue
    raise _Refused("date (AAAA-MM-JJ ou JJ/MM/AAAA)")


def _day_of_year(value: Any) -> str:
    if isinstance(value, str):
        try:
            dt.datetime.strptime(f"2024-{value.strip()}", "%Y-%m-%d")
            return value.strip()
        except ValueError:
            pass
    raise _Refused("jour de l'année MM-JJ (ex. « 10-01 »)")


def _range(value: Any) -> tuple[float | None, float | None]:
    """`[min, max]`, either bound may be null (no bound); min below max."""
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            low, high = (None if v is None else _number(v) for v in value)
        except _Refused:
            pass
        else:
            if low is None or high is None or low < high:
                return low, high
    raise _Refused("plage [min, max] (min < max, null pour aucune borne)")


READERS: dict[str, Callable[[Any], Any]] = {
    TEXT: _text,
    INTEGER: _integer,
    NUMBER: _number,
    DECIMAL: _decimal,
    BOOLEAN: _boolean,
    DATE: _date,
    DAY_OF_YEAR: _day_of_year,
    RANGE: _range,
}


def _validate(entity: str, obj: Any, path: str, problems: list[str]) -> dict | None:
    spec = ENTITIES[entity]
    if not isinstance(obj, dict):
        problems.append(f"{path}: un objet (clé: valeur) est attendu, reçu {obj!r}")
        return None
    out: dict[str, Any] = {}
    for key in obj:
        if key not in spec:
            problems.append(f"{path}.{key}: clé inconnue (clés admises : {', '.join(spec)})")
    for key, field in spec.items():
        sub = f"{path}.{key}"
        if key not in obj or obj[key] is None:
            if field.required:
                problems.append(f"{sub}: clé obligatoire absente")
            continue
        value = obj[key]
        if field.kind == LIST:
            if not isinstance(value, list):
                problems.append(f"{sub}: une liste est attendue")
                continue
            found = [_validate(field.of, v, f"{sub}[{i}]", problems) for i, v in enumerate(value)]
            out[key] = [i for i in found if i is not None]
        elif field.kind == OBJECT:
            if not isinstance(value, dict):
                problems.append(f"{sub}: un objet (clé: valeur) est attendu")
                continue
            out[key] = _validate(field.of, value, sub, problems) if field.of else value
        else:
            try:
                read = READERS[field.kind](value)
            except _Refused as exc:
                problems.append(f"{sub}: {exc.args[0]} attendu, reçu {value!r}")
                continue
            if field.choices is not None and read not in field.choices:
                problems.append(
                    f"{sub}: valeur « {read} » non admise (attendu : "
                    f"{', '.join(str(c) for c in field.choices)})"
                )
                continue
            out[key] = read
    return out


def parse_portfolio(data: Any, source: str = "portefeuille") -> dict[str, list[dict]]:
    """Validate a portfolio document; raises PortfolioError listing every problem."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PortfolioError(source, ["le document doit être un objet YAML (clé: valeur)"])
    clean: dict[str, list[dict]] = {}
    for key, value in data.items():
        if key not in SECTIONS:
            if key == "poller":  # the poller's own tuning, read by `carnet poll` alone
                continue
            problems.append(f"{key}: section inconnue (admises : {', '.join(SECTIONS)})")
            continue
        if not isinstance(value, list):
            problems.append(f"{key}: une liste est attendue")
            continue
        found = [_validate(SECTIONS[key], v, f"{key}[{i}]", problems) for i, v in enumerate(value)]
        clean[key] = [i for i in found if i is not None]
    _check_unique(clean, problems)
    _check_quantities(clean, problems)
    if problems:
        raise PortfolioError(source, problems)
    return clean


def _check_unique(clean: dict[str, list[dict]], problems: list[str]) -> None:
    seen: dict[tuple[str, str], str] = {}

    def check(kind: str, code: str, path: str) -> None:
        if (kind, code) in seen:
            problems.append(f"{path}.code: « {code} » déjà défini en {seen[(kind, code)]}")
        else:
            seen[(kind, code)] = path

    for section, entity in SECTIONS.items():
        if entity not in UNIQUE_NESTED:
            continue
        for i, obj in enumerate(clean.get(section, [])):
            check(entity, obj["code"], f"{section}[{i}]")
            for sub, kind in UNIQUE_NESTED[entity]:
                for j, item in enumerate(obj.get(sub, [])):
                    check(kind, item["code"], f"{section}[{i}].{sub}[{j}]")


def _check_quantities(clean: dict[str, list[dict]], problems: list[str]) -> None:
    """A declared quantity is new: it may not redefine a built-in one nor be declared twice."""
    seen: dict[str, str] = {}
    for i, q in enumerate(clean.get("quantities", [])):
        path = f"quantities[{i}].code"
        if q["code"] in QUANTITIES:
            problems.append(f"{path}: « {q['code']} » est une grandeur intégrée, déjà définie")
        elif q["code"] in seen:
            problems.append(f"{path}: « {q['code']} » déjà défini en {seen[q['code']]}")
        else:
            seen[q["code"]] = path


def read_portfolio_file(path: str | Path) -> Any:
    import yaml  # here: the import checks use this module's limits without reading a file

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PortfolioError(str(path), [f"fichier illisible : {exc.strerror}"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"ligne {mark.line + 1}, colonne {mark.column + 1}: " if mark else ""
        raise PortfolioError(str(path), [f"{where}YAML invalide ({exc})"]) from exc
