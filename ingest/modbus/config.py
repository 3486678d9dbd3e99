"""The site configuration of the poller (`gateways:`), in the portfolio file or a file of its own.

Checked completely before the first request: a typo in a channel code must stop the service at
start-up with a clear message, not lose a winter of readings. Errors name the file and key path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import yaml
from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from carnet.kinds import ChannelKind
from carnet.models import Building, Channel, Equipment
from ingest.modbus.registers import MapError, RegisterMap, load_map

log = logging.getLogger(__name__)

FRAMERS = ("socket", "rtu")
PARITIES = ("N", "E", "O")
GATEWAY_KEYS = {
    "code", "host", "port", "framer", "timeout_s", "retries", "devices", "type",
    "baudrate", "parity", "stopbits", "bytesize", "description",
}  # fmt: skip
DEVICE_KEYS = {"unit", "map", "poll_s", "channels", "equipment", "building", "name"}
POLLER_KEYS = {"flush_s", "flush_rows", "backoff_max_s"}


class ConfigError(ValueError):
    """The site configuration cannot be used; the message names the file and the key path."""


@dataclass
class DeviceConfig:
    unit: int
    map: RegisterMap
    poll_s: float = 60.0
    channels: dict[str, str] = field(default_factory=dict)  # point key -> channel code
    equipment: str | None = None
    building: str | None = None
    name: str | None = None


@dataclass
class GatewayConfig:
    code: str
    host: str | None = None
    port: int | str = 502  # TCP port, or serial device path
    framer: str = "socket"
    kind: str = "tcp"  # tcp or serial
    timeout_s: float = 2.0
    retries: int = 1
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8
    devices: list[DeviceConfig] = field(default_factory=list)


@dataclass
class PollerConfig:
    gateways: list[GatewayConfig]
    flush_s: float = 60.0  # write the buffer at least this often
    flush_rows: int = 5000  # ... or as soon as it holds this many readings
    backoff_max_s: float = 3600.0  # longest wait between two tries of a silent device
    source: str = "<dict>"


def _err(source: str, path: str, message: str) -> ConfigError:
    return ConfigError(f"{source} : {path} : {message}")


def _num(source, path, value, kind=float, low=None):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(source, path, f"{value!r} n'est pas un nombre")
    if kind is int and not float(value).is_integer():
        raise _err(source, path, f"{value!r} n'est pas un entier")
    value = kind(value)
    if low is not None and value < low:
        raise _err(source, path, f"doit être au moins {low}")
    return value


def _device(source: str, path: str, raw, base: Path | None, maps: dict | None = None
            ) -> DeviceConfig:  # fmt: skip
    """`maps`: the maps this configuration already loaded (hundreds of devices share one)."""
    if not isinstance(raw, dict):
        raise _err(source, path, "chaque équipement doit être un dictionnaire")
    unknown = sorted(set(raw) - DEVICE_KEYS)
    if unknown:
        raise _err(source, f"{path}.{unknown[0]}", "clé inconnue")
    for key in ("unit", "map"):
        if key not in raw:
            raise _err(source, f"{path}.{key}", "clé obligatoire absente")
    unit = _num(source, f"{path}.unit", raw["unit"], int)
    if not 0 <= unit <= 247:
        raise _err(source, f"{path}.unit", "l'adresse d'esclave doit être entre 0 et 247")
    try:
        key = (str(raw["map"]), base)
        register_map = maps.get(key) if maps is not None else None
        if register_map is None:
            register_map = load_map(raw["map"], base)
            if maps is not None:
                maps[key] = register_map
    except MapError as exc:
        raise _err(source, f"{path}.map", str(exc)) from exc
    channels = raw.get("channels") or {}
    if not isinstance(channels, dict):
        raise _err(source, f"{path}.channels", "doit être un dictionnaire {point: CODE-VOIE}")
    for key, code in channels.items():
        if not register_map.has(key):
            raise _err(
                source,
                f"{path}.channels.{key}",
                f"point inconnu de la table {register_map.model}"
                f" (points : {', '.join(register_map.keys)})",
            )
        if not isinstance(code, str) or not code:
            raise _err(source, f"{path}.channels.{key}", "le code de voie doit être un texte")
    return DeviceConfig(
        unit=unit,
        map=register_map,
        poll_s=_num(source, f"{path}.poll_s", raw.get("poll_s", 60), float, 0.01),
        channels={str(k): str(v) for k, v in channels.items()},
        equipment=raw.get("equipment"),
        building=raw.get("building"),
        name=raw.get("name"),
    )


def _gateway(source: str, path: str, raw, base: Path | None, maps: dict | None = None
             ) -> GatewayConfig:  # fmt: skip
    if not isinstance(raw, dict):
        raise _err(source, path, "chaque passerelle doit être un dictionnaire")
    unknown = sorted(set(raw) - GATEWAY_KEYS)
    if unknown:
        raise _err(source, f"{path}.{unknown[0]}", "clé inconnue")
    code = raw.get("code")
    if not isinstance(code, str) or not code:
        raise _err(source, f"{path}.code", "clé obligatoire absente")
    path = f"{path} ({code})"
    port = raw.get("port", 502)
    kind = raw.get("type") or ("serial" if isinstance(port, str) and not port.isdigit() else "tcp")
    if kind not in ("tcp", "serial"):
        raise _err(source, f"{path}.type", f"{kind!r} inconnu (tcp ou serial)")
    framer = raw.get("framer", "rtu" if kind == "serial" else "socket")
    if framer not in FRAMERS:
        raise _err(source, f"{path}.framer", f"{framer!r} inconnu (socket ou rtu)")
    if kind == "serial":
        if framer != "rtu":
            raise _err(source, f"{path}.framer", "une liaison série utilise le tramage rtu")
        if not isinstance(port, str):
            raise _err(source, f"{path}.port", "port série attendu (ex. /dev/ttyUSB0)")
        host = None
    else:
        host = raw.get("host")
        if not isinstance(host, str) or not host:
            raise _err(source, f"{path}.host", "clé obligatoire absente")
        port = _num(source, f"{path}.port", int(port) if isinstance(port, str) else port, int, 1)
    parity = raw.get("parity", "N")
    if parity not in PARITIES:
        raise _err(source, f"{path}.parity", f"{parity!r} inconnue (N, E ou O)")
    devices_raw = raw.get("devices")
    if not isinstance(devices_raw, list) or not devices_raw:
        raise _err(source, f"{path}.devices", "liste d'équipements obligatoire et non vide")
    devices = [_device(source, f"{path}.devices[{i}]", d, base, maps)
               for i, d in enumerate(devices_raw)]  # fmt: skip
    units = [d.unit for d in devices]
    dupes = sorted({u for u in units if units.count(u) > 1})
    if dupes:
        raise _err(source, f"{path}.devices", f"adresse d'esclave {dupes[0]} utilisée deux fois")
    return GatewayConfig(
        code=code,
        host=host,
        port=port,
        framer=framer,
        kind=kind,
        timeout_s=_num(source, f"{path}.timeout_s", raw.get("timeout_s", 2), float, 0.001),
        retries=_num(source, f"{path}.retries", raw.get("retries", 1), int, 0),
        baudrate=_num(source, f"{path}.baudrate", raw.get("baudrate", 9600), int, 1),
        parity=parity,
        stopbits=_num(source, f"{path}.stopbits", raw.get("stopbits", 1), int, 1),
        bytesize=_num(source, f"{path}.bytesize", raw.get("bytesize", 8), int, 5),
        devices=devices,
    )


def parse_config(raw, source: str = "<dict>", base: Path | None = None) -> PollerConfig:
    if not isinstance(raw, dict):
        raise _err(source, "(racine)", "le fichier doit contenir un dictionnaire")
    gateways_raw = raw.get("gateways")
    if not isinstance(gateways_raw, list) or not gateways_raw:
        raise _err(source, "gateways", "liste de passerelles obligatoire et non vide")
    maps: dict = {}
    gateways = [_gateway(source, f"gateways[{i}]", g, base, maps)
                for i, g in enumerate(gateways_raw)]  # fmt: skip
    codes = [g.code for g in gateways]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise _err(source, "gateways", f"code de passerelle {dupes[0]} utilisé deux fois")
    poller = raw.get("poller") or {}
    if not isinstance(poller, dict):
        raise _err(source, "poller", "doit être un dictionnaire")
    unknown = sorted(set(poller) - POLLER_KEYS)
    if unknown:
        raise _err(source, f"poller.{unknown[0]}", "clé inconnue")
    return PollerConfig(
        gateways=gateways,
        flush_s=_num(source, "poller.flush_s", poller.get("flush_s", 60), float, 0.1),
        flush_rows=_num(source, "poller.flush_rows", poller.get("flush_rows", 5000), int, 1),
        backoff_max_s=_num(
            source, "poller.backoff_max_s", poller.get("backoff_max_s", 3600), float, 0.0
        ),
        source=source,
    )


def load_config(path: str | Path) -> PollerConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} : fichier de configuration introuvable")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} : YAML illisible : {exc}") from exc
    return parse_config(raw, str(path), path.parent)


# --- binding to the database ------------------------------------------------------------------


@dataclass
class BoundDevice:
    """A device with its points' channel ids and where its alarms go."""

    gateway: str
    config: DeviceConfig
    channel_ids: dict[str, int]  # point key -> channel id
    building_id: int | None
    equipment_id: int | None

    @property
    def unit(self) -> int:
        return self.config.unit


def bind_channels(session: Session, config: PollerConfig) -> dict[tuple[str, int], BoundDevice]:
    """Resolve channel, equipment and building codes; unknown codes are a configuration error.

    Counter points give their rollover modulus to a channel that has none yet, so that the
    store's daily consumption handles the rollover.
    """
    codes = {c for g in config.gateways for d in g.devices for c in d.channels.values()}
    # plain rows, not ORM objects: a site binds thousands of channels at every start-up
    if session.get_bind().dialect.name == "postgresql":  # one array, not 10 000 parameters
        wanted = Channel.code == any_(bindparam("codes", sorted(codes), type_=ARRAY(String)))
    else:
        wanted = Channel.code.in_(codes)
    rows = session.execute(
        select(Channel.id, Channel.code, Channel.kind, Channel.modulus, Channel.equipment_id,
               Channel.building_id).where(wanted)
    )  # fmt: skip
    channels = {
        code: SimpleNamespace(id=i, code=code, kind=kind, modulus=modulus, equipment_id=eq,
                              building_id=b)
        for i, code, kind, modulus, eq, b in rows
    }  # fmt: skip
    errors = []
    bound = {}
    for gi, gw in enumerate(config.gateways):
        for di, dev in enumerate(gw.devices):
            path = f"gateways[{gi}] ({gw.code}).devices[{di}]"
            ids = {}
            for key, code in dev.channels.items():
                channel = channels.get(code)
                if channel is None:
                    errors.append(f"{path}.channels.{key} : voie {code!r} inconnue")
                    continue
                ids[key] = channel.id
                point = dev.map.point(key)
                if point.counter and point.modulus and channel.modulus is None:
                    channel.modulus = point.modulus
                    session.execute(
                        update(Channel)
                        .where(Channel.id == channel.id)
                        .values(modulus=point.modulus)
                    )
                    log.info("voie %s : modulo %g repris de la table %s", code, point.modulus,
                             dev.map.model)  # fmt: skip
                if point.counter and channel.kind != ChannelKind.INDEX:
                    log.warning("voie %s : le point %s est un compteur mais la voie est de type %s",
                                code, key, channel.kind)  # fmt: skip
            equipment_id = building_id = None
            if dev.equipment:
                eq = session.scalar(select(Equipment).where(Equipment.code == dev.equipment))
                if eq is None:
                    errors.append(f"{path}.equipment : équipement {dev.equipment!r} inconnu")
                else:
                    equipment_id, building_id = eq.id, eq.building_id
            if dev.building:
                b = session.scalar(select(Building).where(Building.code == dev.building))
                if b is None:
                    errors.append(f"{path}.building : bâtiment {dev.building!r} inconnu")
                else:
                    building_id = b.id
            for code in dev.channels.values():  # fall back on the channels' attachments
                channel = channels.get(code)
                if channel is None:
                    continue
                if equipment_id is None and channel.equipment_id is not None:
                    equipment_id = channel.equipment_id
                if building_id is None and channel.building_id is not None:
                    building_id = channel.building_id
            if building_id is None and equipment_id is not None:
                building_id = session.get(Equipment, equipment_id).building_id
            bound[(gw.code, dev.unit)] = BoundDevice(gw.code, dev, ids, building_id, equipment_id)
    if errors:
        raise ConfigError(f"{config.source} : " + " ; ".join(errors))
    return bound
