"""Register maps, block planning and site configuration: validation and clear errors."""

from __future__ import annotations

import pytest
import yaml

from ingest.modbus.blocks import MAX_REGISTERS, plan_blocks
from ingest.modbus.config import ConfigError, load_config, parse_config
from ingest.modbus.registers import MapError, load_map, parse_map, registers_dir

SHIPPED = ["generic-boiler", "sm-boiler-controller", "heat-meter-cdab", "gas-pulse-counter"]


def _map(points, **extra):
    return {"model": "m", "points": points, **extra}


def test_shipped_maps_load_with_the_issue_keys():
    for name in SHIPPED:
        m = load_map(name)
        assert m.model == name
        assert (registers_dir() / f"{name}.yaml").is_file()
    sm = load_map("sm-boiler-controller")
    outdoor = sm.point("outdoor_temp")
    # plc_4xxxx: 40008 is protocol address 7
    assert (outdoor.address, outdoor.encoding, outdoor.invalid) == (7, "sign_magnitude", (0xFFFF,))
    assert sm.point("fault_code").address == 465 and sm.point("fault_code").alarm
    heat = load_map("heat-meter-cdab")
    assert {p.word_order for p in heat.points if p.type == "float32"} == {"CDAB"}
    gas = load_map("gas-pulse-counter").point("pulses_raw")
    assert gas.counter and gas.type == "uint32" and gas.modulus == 2**32


@pytest.mark.parametrize(
    ("raw", "path_fragment"),
    [
        ({"points": [{"key": "a", "table": "holding", "address": 0, "type": "int16"}]}, "model"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "int8"}]), "points[0] (a).type"),
        (_map([{"key": "a", "table": "coils", "address": 0, "type": "int16"}]), "points[0] (a).table"),
        (_map([{"key": "a", "table": "holding", "type": "int16"}]), "points[0].address"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "int16", "colour": 1}]), "points[0].colour"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "float32", "word_order": "ACBD"}]), "points[0] (a).word_order"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "uint16", "encoding": "sign_magnitude"}]), "points[0] (a).encoding"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "int16", "invalid": [0x1FFFF]}]), "points[0] (a).invalid[0]"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "uint16", "modulus": 65536}]), "points[0] (a).modulus"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "int16", "scale": "x"}]), "points[0] (a).scale"),
        (_map([{"key": "a", "table": "holding", "address": 39999, "type": "int16"}], addressing="plc_4xxxx"), "points[0] (a).address"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "int32"},
               {"key": "b", "table": "holding", "address": 1, "type": "int16"}]), "points[1].address"),
        (_map([{"key": "a", "table": "holding", "address": 0, "type": "int16"},
               {"key": "a", "table": "holding", "address": 1, "type": "int16"}]), "points[1].key"),
        (_map([]), "points"),
    ],
)  # fmt: skip
def test_map_errors_name_the_file_and_the_key_path(tmp_path, raw, path_fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(MapError) as exc:
        load_map(path)
    message = str(exc.value)
    assert str(path) in message
    assert path_fragment in message


def test_invalid_negative_means_twos_complement_and_input_plc_addresses():
    m = parse_map(
        _map(
            [
                {
                    "key": "t",
                    "table": "holding",
                    "address": 40001,
                    "type": "int16",
                    "invalid": [-1],
                },
                {"key": "e", "table": "input", "address": 30003, "type": "float32"},
            ],
            addressing="plc_4xxxx",
        )
    )
    assert m.point("t").invalid == (0xFFFF,) and m.point("t").address == 0
    assert m.point("e").address == 2


def _points(specs):
    return parse_map(_map([dict(zip(("key", "table", "address", "type"), s, strict=True))
                           for s in specs])).points  # fmt: skip


def test_blocks_group_contiguous_points_and_respect_the_limit():
    # 130 contiguous int16 in holding -> 125 + 5; a float32 in input; a hole splits blocks
    specs = [(f"h{i}", "holding", i, "int16") for i in range(130)]
    specs += [
        ("f", "input", 10, "float32"),
        ("g", "input", 12, "uint32"),
        ("x", "input", 20, "int16"),
    ]
    points = _points(specs)
    blocks = plan_blocks(points)
    spans = sorted((b.table, b.start, b.count) for b in blocks)
    assert spans == [("holding", 0, 125), ("holding", 125, 5), ("input", 10, 4), ("input", 20, 1)]
    covered = sorted(i for b in blocks for i in b.members)
    assert covered == list(range(len(points)))
    assert all(b.count <= MAX_REGISTERS for b in blocks)
    # with max_gap the hole 14..19 is spanned
    gap_blocks = plan_blocks(points, max_gap=6)
    assert ("input", 10, 11) in {(b.table, b.start, b.count) for b in gap_blocks}


def test_blocks_never_split_a_point_at_the_limit():
    specs = [(f"h{i}", "holding", i, "int16") for i in range(124)] + [
        ("w", "holding", 124, "float32")
    ]
    blocks = plan_blocks(_points(specs))
    assert [(b.start, b.count) for b in blocks] == [(0, 124), (124, 2)]


def _gateway(**over):
    gw = {
        "code": "GW-MAIRIE",
        "host": "127.0.0.1",
        "port": 5020,
        "framer": "socket",
        "timeout_s": 2,
        "devices": [
            {"unit": 10, "map": "generic-boiler", "poll_s": 60,
             "channels": {"outdoor_temp": "MAIRIE-TEXT", "fault_code": "MAIRIE-DEFAUT"}}
        ],
    }  # fmt: skip
    gw.update(over)
    return gw


def test_config_of_the_issue_parses(tmp_path):
    path = tmp_path / "portfolio.yaml"
    path.write_text(yaml.safe_dump({"buildings": [], "gateways": [_gateway()]}), encoding="utf-8")
    cfg = load_config(path)
    gw = cfg.gateways[0]
    assert (gw.code, gw.host, gw.port, gw.framer, gw.timeout_s) == (
        "GW-MAIRIE",
        "127.0.0.1",
        5020,
        "socket",
        2.0,
    )
    dev = gw.devices[0]
    assert dev.unit == 10 and dev.map.model == "generic-boiler" and dev.poll_s == 60
    assert dev.channels == {"outdoor_temp": "MAIRIE-TEXT", "fault_code": "MAIRIE-DEFAUT"}
    serial = parse_config({"gateways": [_gateway(code="GW-S", host=None, port="/dev/ttyUSB0",
                                                 framer="rtu", baudrate=19200, parity="E")]})  # fmt: skip
    assert serial.gateways[0].kind == "serial" and serial.gateways[0].parity == "E"


@pytest.mark.parametrize(
    ("over", "fragment"),
    [
        ({"framer": "ascii"}, "gateways[0] (GW-MAIRIE).framer"),
        ({"host": None}, "gateways[0] (GW-MAIRIE).host"),
        ({"devices": [{"unit": 10, "map": "no-such-map"}]}, "devices[0].map"),
        ({"devices": [{"unit": 10, "map": "generic-boiler", "channels": {"nope": "X"}}]}, "devices[0].channels.nope"),
        ({"devices": [{"unit": 10, "map": "generic-boiler"}, {"unit": 10, "map": "generic-boiler"}]}, "adresse d'esclave 10"),
        ({"devices": [{"unit": 300, "map": "generic-boiler"}]}, "devices[0].unit"),
        ({"timeout_s": "vite"}, "timeout_s"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key_path(over, fragment):
    with pytest.raises(ConfigError) as exc:
        parse_config({"gateways": [_gateway(**over)]}, "site.yaml")
    assert "site.yaml" in str(exc.value) and fragment in str(exc.value)


def test_decoder_agrees_with_pymodbus_convert_from_registers():
    """pymodbus' own converter is an independent oracle for ABCD ("big") and CDAB ("little")."""
    import numpy as np
    from pymodbus.client import ModbusTcpClient

    from ingest.modbus.decode import DecodePlan

    conv = ModbusTcpClient.convert_from_registers
    dt_ = ModbusTcpClient.DATATYPE
    kinds = {"int16": dt_.INT16, "uint16": dt_.UINT16, "int32": dt_.INT32,
             "uint32": dt_.UINT32, "float32": dt_.FLOAT32, "float64": dt_.FLOAT64}  # fmt: skip
    rng = np.random.default_rng(4)
    specs, rows, expected = [], [], []
    for order, pymodbus_order in (("ABCD", "big"), ("CDAB", "little")):
        for kind, datatype in kinds.items():
            width = datatype.value[1]
            for _ in range(50):
                regs = [int(r) for r in rng.integers(0, 0x10000, size=width)]
                specs.append({"key": f"p{len(specs)}", "table": "holding",
                              "address": 4 * len(specs), "type": kind, "word_order": order})  # fmt: skip
                rows.append(regs + [0] * (4 - width))
                expected.append(float(conv(regs, datatype, word_order=pymodbus_order)))
    plan = DecodePlan(parse_map(_map(specs)).points)
    out = plan.decode(np.array(rows, dtype=np.uint64))
    want = np.array(expected)
    finite = np.isfinite(want)
    assert np.array_equal(out.value[finite], want[finite])
    assert np.isnan(out.value[~finite]).all()  # NaN/inf floats are flagged invalid
    assert (out.quality[~finite] == 3).all() and (out.quality[finite] == 0).all()
