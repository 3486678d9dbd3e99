"""`carnet poll` (the Modbus poller) and `carnet modbus read` (the technician's one-off read)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from carnet.config import carnet_home
from carnet.kinds import Quality
from carnet_cli.main import CliError
from carnet_cli.notify_schedule import add_schedule_option, every_minutes, start_schedule


def register(sub) -> None:
    p = sub.add_parser("poll", help="relève Modbus des chaudières et compteurs")
    p.add_argument(
        "--config",
        help="fichier YAML contenant `gateways:` (portefeuille ou fichier dédié ;"
        " défaut : $CARNET_POLL_CONFIG ou CARNET_HOME/poller.yaml s'il existe, sinon les"
        " passerelles enregistrées dans la base : portfolio load, administration)",
    )
    p.add_argument("--once", action="store_true", help="interroge chaque équipement une fois")
    p.add_argument("-v", "--verbose", action="store_true", help="journal détaillé")
    add_schedule_option(p)
    p.set_defaults(handler=_poll)

    m = sub.add_parser("modbus", help="diagnostic Modbus")
    msub = m.add_subparsers(dest="modbus_command", required=True)
    r = msub.add_parser("read", help="lit et décode une fois tous les points d'une table")
    r.add_argument(
        "target",
        metavar="HOTE[:PORT]",
        help="adresse de la passerelle (port 502), ou port série (/dev/ttyUSB0, COM3,"
        " URL pyserial) pour une liaison RS-485 directe",
    )
    r.add_argument("--unit", type=int, required=True, help="adresse d'esclave Modbus")
    r.add_argument("--map", required=True, help="modèle de data/registers/ ou chemin d'un YAML")
    r.add_argument("--framer", choices=("socket", "rtu"), default="socket")
    r.add_argument("--timeout", type=float, default=2.0, help="secondes par requête")
    r.add_argument("--baudrate", type=int, default=9600, help="liaison série : débit")
    r.add_argument("--parity", choices=("N", "E", "O"), default="N", help="liaison série")
    r.set_defaults(handler=_modbus_read)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pymodbus reports every timeout as an error; we log silent devices ourselves, once
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


def _config_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("CARNET_POLL_CONFIG")
    return Path(env) if env else carnet_home() / "poller.yaml"


def _site_config(arg: str | None):
    """The site file when one is given (or CARNET_HOME/poller.yaml exists), else the gateways
    stored in the record, checked by the same `parse_config`."""
    from ingest.modbus.config import ConfigError, load_config, parse_config

    if arg or os.environ.get("CARNET_POLL_CONFIG") or _config_path(None).is_file():
        return load_config(_config_path(arg))
    from carnet.db import get_engine, session_scope
    from carnet.portfolio_export import export_gateways

    with session_scope(get_engine()) as s:
        gateways = export_gateways(s)
    if not gateways:
        raise ConfigError(
            f"aucune passerelle Modbus : ni fichier de site ({_config_path(None)}, --config,"
            " CARNET_POLL_CONFIG) ni passerelle enregistrée dans la base (portfolio load,"
            " administration)"
        )
    return parse_config({"gateways": gateways}, "base de données (passerelles)")


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f}".replace(".", ",") + " s"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _poll(args) -> int:
    from ingest.modbus.config import ConfigError
    from ingest.modbus.poller import Poller
    from ingest.modbus.registers import MapError
    from ingest.modbus.writer import held_phrase

    _logging(args.verbose)
    try:
        config = _site_config(args.config)
        poller = Poller(config, on_status=lambda line: print(line, flush=True))
    except (ConfigError, MapError) as exc:
        raise CliError(str(exc)) from exc
    except SQLAlchemyError as exc:  # the channels are resolved at start: the base is needed
        first = str(exc).splitlines()[0][:300]
        raise CliError(f"base de données injoignable au démarrage : {first}", 3) from exc

    if not args.once:
        minutes = every_minutes(args.notify_every_min)
        if minutes:
            from carnet.db import get_engine

            start_schedule(get_engine(), minutes)
        print(
            f"relève démarrée : {len(poller.readers)} équipements sur"
            f" {len(poller.gateways)} passerelle(s) ; arrêt par SIGTERM ou Ctrl-C",
            flush=True,
        )
        asyncio.run(poller.run())
        flush = poller.last_flush
        print("relève arrêtée" + ("" if flush is None or flush.written else " (mise en attente)"))
        return 0

    async def once():
        try:
            return await poller.poll_once()
        finally:
            poller.close()

    results = asyncio.run(once())
    for res in results:
        reader = next(
            r for r in poller.readers if (r.bound.gateway, r.bound.unit) == (res.gateway, res.unit)
        )
        model = reader.bound.config.map.model
        print(f"\n{res.gateway} / esclave {res.unit} ({model}) : {res.state_label}")
        print(
            _table(
                ["points lus", "en échec", "durée", "erreur"],
                [[res.points_read, res.points_failed, _fmt_s(res.duration_s), res.error or ""]],
            )
        )
    flush = poller.last_flush
    total = sum(len(r.channel_idx) for r in poller.readers)
    held = 0
    if flush is not None and flush.written:
        print(
            f"\n{flush.stored} mesure(s) écrite(s) (lot n° {flush.batch_id}) pour {total} voie(s)"
        )
    if flush is not None and (flush.held or flush.held_replayed):
        held = flush.held + flush.held_replayed
        print(f"{held_phrase(held)} (voir carnet quarantine list) :")
        for line in flush.held_samples:
            print(f"  {line}")
        if held > len(flush.held_samples):
            print(f"  ... et {held - len(flush.held_samples)} autre(s)")
    if flush is not None and not flush.written:
        print(
            f"\nbase indisponible ({flush.error}) : {flush.rows} mesure(s) mise(s) en attente dans"
            f" {poller.writer.spool.dir}"
        )
        return 1
    # 1 as soon as something was not read (partiel, en échec, muet) or was held in quarantine
    return 0 if all(r.state == "ok" for r in results) and not held else 1


def _modbus_read(args) -> int:
    from ingest.modbus.config import BoundDevice, DeviceConfig, GatewayConfig
    from ingest.modbus.decode import enum_label
    from ingest.modbus.device_reader import DeviceReader
    from ingest.modbus.gateway import Gateway
    from ingest.modbus.registers import MapError, load_map

    _logging(False)
    target = args.target
    serial = target.startswith(("/", "COM")) or "://" in target
    try:
        register_map = load_map(args.map, Path.cwd())
    except MapError as exc:
        raise CliError(str(exc)) from exc
    if serial:
        gw_config = GatewayConfig(
            code="diagnostic", kind="serial", port=target, framer="rtu", timeout_s=args.timeout,
            retries=0, baudrate=args.baudrate, parity=args.parity,
        )  # fmt: skip
        where = f"{target} ({args.baudrate} bauds, parité {args.parity})"
    else:
        host, _, port = target.rpartition(":") if ":" in target else (target, "", "502")
        try:
            port_n = int(port)
        except ValueError as exc:
            raise CliError(f"port invalide : {port!r}") from exc
        gw_config = GatewayConfig(
            code="diagnostic", host=host, port=port_n, framer=args.framer,
            timeout_s=args.timeout, retries=0,
        )  # fmt: skip
        where = f"{host}:{port_n} ({args.framer})"
    device = DeviceConfig(unit=args.unit, map=register_map)
    reader = DeviceReader(BoundDevice("diagnostic", device, {}, None, None), read_all=True)

    async def read():
        gateway = Gateway(gw_config)
        try:
            return await reader.read(gateway)
        finally:
            gateway.close()

    result, value, quality = asyncio.run(read())
    print(
        f"{where} esclave {args.unit}, table {register_map.model},"
        f" lu en {_fmt_s(result.duration_s)} : {result.state_label}"
    )
    rows = []
    for i, p in enumerate(reader.points):
        regs = " ".join(f"{int(r):04X}" for r in reader.last_regs[i, : p.width])
        q = int(quality[i])
        if q == Quality.GAP:
            shown, note = "-", "non lu"
        elif q == Quality.INVALID:
            shown, note = "-", "valeur invalide (sonde absente ?)"
        else:
            shown = f"{value[i]:.6g}".replace(".", ",")
            note = enum_label(p, float(value[i])) or ""
        address = f"{p.table} {p.address}"
        rows.append([p.key, address, p.type, regs, shown, p.unit or "", note])
    print(_table(["point", "adresse", "type", "registres", "valeur", "unité", "remarque"], rows))
    if result.error:
        print(f"\nerreur : {result.error}")
    hints = reader.hinted
    if hints:
        print(
            "\nattention : flottant(s) invraisemblable(s), vérifier word_order :", ", ".join(hints)
        )
    if not result.answered:
        return 1
    return 0 if result.points_failed == 0 else 1
