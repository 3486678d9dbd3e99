"""Register maps: one YAML file per device model (`data/registers/*.yaml`), validated up front.

A wrong map silently produces wrong numbers for months, so every key is checked when the map is
loaded and errors name the file and the key path (`points[3].type`), in French for the technician.
A site's devices share a handful of maps: each file is parsed once per version (path and mtime),
since the YAML loader costs milliseconds per device at a 500-device start-up.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from carnet.config import data_dir

TYPES = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4}
WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
TABLES = ("holding", "input")
ADDRESSINGS = ("zero_based", "plc_4xxxx")
ENCODINGS = ("twos_complement", "sign_magnitude")
# first PLC-style address of each table (5 and 6 digit forms)
PLC_BASE = {"holding": (40001, 400001), "input": (30001, 300001)}
MAX_ADDRESS = 65535
MAP_KEYS = {"model", "word_order", "addressing", "points", "description", "make", "max_gap"}
POINT_KEYS = {
    "key",
    "table",
    "address",
    "type",
    "scale",
    "offset",
    "unit",
    "encoding",
    "invalid",
    "word_order",
    "counter",
    "modulus",
    "enum",
    "alarm",
    "description",
}


class MapError(ValueError):
    """A register map that cannot be trusted; the message names the file and the key path."""


@dataclass(frozen=True)
class Point:
    key: str
    table: str
    address: int  # zero-based protocol address
    type: str
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    encoding: str = "twos_complement"
    invalid: tuple[int, ...] = ()  # raw unsigned values meaning "no value"
    word_order: str = "ABCD"
    counter: bool = False
    modulus: float | None = None
    enum: dict[int, str] = field(default_factory=dict, hash=False, compare=False)
    alarm: bool = False
    description: str | None = None

    @property
    def width(self) -> int:
        """Number of 16-bit registers the value spans."""
        return TYPES[self.type]

    @property
    def end(self) -> int:
        return self.address + self.width


@dataclass(frozen=True)
class RegisterMap:
    model: str
    points: tuple[Point, ...]
    word_order: str = "ABCD"
    addressing: str = "zero_based"
    description: str | None = None
    max_gap: int = 0  # unused registers a block read may span between two points
    source: str = "<dict>"

    def point(self, key: str) -> Point:
        return self._by_key[key]

    @property
    def keys(self) -> list[str]:
        return list(self._by_key)

    def has(self, key: str) -> bool:
        return key in self._by_key

    @functools.cached_property
    def _by_key(self) -> dict[str, Point]:
        """Points by key, once per map: a site binds thousands of points to one shared map."""
        return {p.key: p for p in self.points}


def _fail(source: str, path: str, message: str) -> MapError:
    return MapError(f"{source} : {path} : {message}")


def _number(source: str, path: str, value, *, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "un entier" if integer else "un nombre"
        raise _fail(source, path, f"{value!r} n'est pas {kind}")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise _fail(source, path, f"{value!r} n'est pas un entier")
    if not math.isfinite(float(value)):
        raise _fail(source, path, f"{value!r} n'est pas un nombre fini")
    return int(value) if integer else float(value)


def _choice(source: str, path: str, value, allowed) -> str:
    if value not in allowed:
        raise _fail(source, path, f"{value!r} inconnu (valeurs possibles : {', '.join(allowed)})")
    return value


def _protocol_address(source: str, path: str, raw, table: str, addressing: str) -> int:
    address = _number(source, path, raw, integer=True)
    if addressing == "plc_4xxxx":
        low5, low6 = PLC_BASE[table]
        if low6 <= address <= low6 + MAX_ADDRESS:
            address -= low6
        elif low5 <= address <= low5 + 9998:
            address -= low5
        else:
            raise _fail(
                source,
                path,
                f"{raw} hors de la plage {low5}..{low5 + 9998} (ou {low6}..{low6 + MAX_ADDRESS})"
                f" de la table {table} en adressage plc_4xxxx",
            )
    if not 0 <= address <= MAX_ADDRESS:
        raise _fail(source, path, f"{raw} hors de la plage 0..{MAX_ADDRESS}")
    return address


def _point(source: str, i: int, raw, defaults: dict) -> Point:
    where = f"points[{i}]"
    if not isinstance(raw, dict):
        raise _fail(source, where, "chaque point doit être un dictionnaire {key: ..., ...}")
    unknown = sorted(set(raw) - POINT_KEYS)
    if unknown:
        raise _fail(source, f"{where}.{unknown[0]}", "clé inconnue")
    for required in ("key", "table", "address", "type"):
        if required not in raw:
            raise _fail(source, f"{where}.{required}", "clé obligatoire absente")
    key = raw["key"]
    if not isinstance(key, str) or not key.strip():
        raise _fail(source, f"{where}.key", "doit être un texte non vide")
    where = f"points[{i}] ({key})"
    table = _choice(source, f"{where}.table", raw["table"], TABLES)
    kind = _choice(source, f"{where}.type", raw["type"], tuple(TYPES))
    address = _protocol_address(
        source, f"{where}.address", raw["address"], table, defaults["addressing"]
    )
    if address + TYPES[kind] - 1 > MAX_ADDRESS:
        raise _fail(source, f"{where}.address", "la valeur dépasse le dernier registre 65535")
    encoding = _choice(
        source, f"{where}.encoding", raw.get("encoding", "twos_complement"), ENCODINGS
    )
    if encoding == "sign_magnitude" and kind not in ("int16", "int32"):
        raise _fail(source, f"{where}.encoding", "sign_magnitude ne s'applique qu'à int16/int32")
    bits = 16 * TYPES[kind]
    invalid_raw = raw.get("invalid", [])
    if not isinstance(invalid_raw, list):
        invalid_raw = [invalid_raw]
    invalid = []
    for j, v in enumerate(invalid_raw):
        n = _number(source, f"{where}.invalid[{j}]", v, integer=True)
        if not -(1 << (bits - 1)) <= n < (1 << bits):
            raise _fail(source, f"{where}.invalid[{j}]", f"{v} ne tient pas sur {bits} bits")
        invalid.append(n % (1 << bits))  # -1 means 0xFFFF for an int16
    enum_raw = raw.get("enum") or {}
    if not isinstance(enum_raw, dict):
        raise _fail(source, f"{where}.enum", "doit être un dictionnaire {code: libellé}")
    enum = {}
    for code, label in enum_raw.items():
        enum[_number(source, f"{where}.enum.{code}", code, integer=True)] = str(label)
    modulus = raw.get("modulus")
    if modulus is not None:
        modulus = _number(source, f"{where}.modulus", modulus)
        if modulus <= 0:
            raise _fail(source, f"{where}.modulus", "doit être strictement positif")
    counter = raw.get("counter", False)
    alarm = raw.get("alarm")
    for name, flag in (("counter", counter), ("alarm", alarm)):
        if flag is not None and not isinstance(flag, bool):
            raise _fail(source, f"{where}.{name}", "doit valoir true ou false")
    if modulus is not None and not counter:
        raise _fail(source, f"{where}.modulus", "n'a de sens que pour un compteur (counter: true)")
    if alarm is None:  # a fault code opens alarms unless told otherwise
        alarm = key.startswith(("fault", "alarm", "defaut"))
    if alarm and kind not in ("int16", "uint16", "int32", "uint32"):
        raise _fail(source, f"{where}.alarm", "un code de défaut doit être un type entier")
    scale = _number(source, f"{where}.scale", raw.get("scale", 1.0))
    if scale == 0:
        raise _fail(source, f"{where}.scale", "ne peut pas valoir 0")
    unit = raw.get("unit")
    return Point(
        key=key,
        table=table,
        address=address,
        type=kind,
        scale=scale,
        offset=_number(source, f"{where}.offset", raw.get("offset", 0.0)),
        unit=None if unit is None else str(unit),
        encoding=encoding,
        invalid=tuple(invalid),
        word_order=_choice(
            source,
            f"{where}.word_order",
            raw.get("word_order", defaults["word_order"]),
            WORD_ORDERS,
        ),
        counter=bool(counter),
        modulus=modulus,
        enum=enum,
        alarm=bool(alarm),
        description=raw.get("description"),
    )


def parse_map(raw, source: str = "<dict>") -> RegisterMap:
    """Validate a map given as a dict (the parsed YAML)."""
    if not isinstance(raw, dict):
        raise _fail(source, "(racine)", "le fichier doit contenir un dictionnaire")
    unknown = sorted(set(raw) - MAP_KEYS)
    if unknown:
        raise _fail(source, unknown[0], "clé inconnue")
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _fail(source, "model", "clé obligatoire (nom du modèle) absente ou vide")
    defaults = {
        "word_order": _choice(source, "word_order", raw.get("word_order", "ABCD"), WORD_ORDERS),
        "addressing": _choice(
            source, "addressing", raw.get("addressing", "zero_based"), ADDRESSINGS
        ),
    }
    points_raw = raw.get("points")
    if not isinstance(points_raw, list) or not points_raw:
        raise _fail(source, "points", "liste de points obligatoire et non vide")
    points = [_point(source, i, p, defaults) for i, p in enumerate(points_raw)]
    seen: dict[str, int] = {}
    for i, p in enumerate(points):
        if p.key in seen:
            raise _fail(
                source, f"points[{i}].key", f"{p.key!r} déjà défini en points[{seen[p.key]}]"
            )
        seen[p.key] = i
    for table in TABLES:
        spans = sorted((p.address, p.end, i) for i, p in enumerate(points) if p.table == table)
        for (_a0, e0, i0), (a1, _e1, i1) in zip(spans, spans[1:], strict=False):
            if a1 < e0:
                raise _fail(
                    source,
                    f"points[{i1}].address",
                    f"chevauche points[{i0}] ({points[i0].key}) dans la table {table}",
                )
    max_gap = _number(source, "max_gap", raw.get("max_gap", 0), integer=True)
    if not 0 <= max_gap <= 124:
        raise _fail(source, "max_gap", "doit être compris entre 0 et 124")
    return RegisterMap(
        model=model,
        points=tuple(points),
        word_order=defaults["word_order"],
        addressing=defaults["addressing"],
        description=raw.get("description"),
        max_gap=max_gap,
        source=source,
    )


def registers_dir() -> Path:
    return data_dir() / "registers"


def resolve_map_path(name: str | Path, base: Path | None = None) -> Path:
    """A map name (`generic-boiler`) from `data/registers/`, or a path (relative to `base`)."""
    text = str(name)
    candidate = Path(text)
    looks_like_path = candidate.suffix in (".yaml", ".yml") or "/" in text or "\\" in text
    if looks_like_path:
        if not candidate.is_absolute() and base is not None:
            candidate = base / candidate
        return candidate
    return registers_dir() / f"{text}.yaml"


_parsed: dict[Path, tuple[tuple[int, int], RegisterMap]] = {}
_parsed_lock = threading.Lock()
_files_parsed = 0
# libyaml's safe loader when PyYAML has it: ten times the pure-Python one on a large map
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def files_parsed() -> int:
    """How many map files this process has parsed (a cached map is not counted again)."""
    return _files_parsed


def load_map(name: str | Path, base: Path | None = None) -> RegisterMap:
    """The map of `name`, parsed once per file version (a map is immutable, so shared)."""
    global _files_parsed
    path = resolve_map_path(name, base)
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not path.is_file():
        available = sorted(p.stem for p in registers_dir().glob("*.yaml"))
        raise MapError(
            f"{path} : table d'échange introuvable (modèles livrés : {', '.join(available)})"
        )
    key, version = path.resolve(), (stat.st_mtime_ns, stat.st_size)
    with _parsed_lock:
        cached = _parsed.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
        except yaml.YAMLError as exc:
            raise MapError(f"{path} : YAML illisible : {exc}") from exc
        _files_parsed += 1
        register_map = parse_map(raw, str(path))
        _parsed[key] = (version, register_map)
        return register_map


def model_label(model: str | None) -> str | None:
    """How people call a device model: its map's description up to the first comma
    (`generic-boiler` -> « Régulateur de chaudière générique »); an unknown model as written."""
    if not model:
        return model
    try:
        description = load_map(model).description
    except (MapError, OSError, ValueError):
        return model
    return description.split(",")[0].strip() if description else model
