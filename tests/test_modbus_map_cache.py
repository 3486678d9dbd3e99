"""Register maps are parsed once per file version: a 500-device site shares a few maps."""

from __future__ import annotations

import os
import shutil

from ingest.modbus import registers
from ingest.modbus.config import parse_config
from ingest.modbus.registers import load_map, registers_dir


def _site(maps: list[str], devices_per_gateway: int, gateways: int) -> dict:
    return {
        "gateways": [
            {
                "code": f"GW{g}",
                "host": "127.0.0.1",
                "port": 5020 + g,
                "devices": [
                    {"unit": u + 1, "map": maps[(g * devices_per_gateway + u) % len(maps)]}
                    for u in range(devices_per_gateway)
                ],
            }
            for g in range(gateways)
        ]
    }


def test_a_site_parses_each_map_file_once(tmp_path):
    for name in ("generic-boiler", "heat-meter-cdab"):
        shutil.copy(registers_dir() / f"{name}.yaml", tmp_path / f"{name}.yaml")
    maps = ["generic-boiler.yaml", "heat-meter-cdab.yaml"]
    before = registers.files_parsed()
    config = parse_config(_site(maps, 10, 5), "site.yaml", tmp_path)
    assert sum(len(g.devices) for g in config.gateways) == 50
    assert registers.files_parsed() - before == 2
    # a second start-up in the same process parses nothing again
    parse_config(_site(maps, 10, 5), "site.yaml", tmp_path)
    assert registers.files_parsed() - before == 2
    devices = [d for g in config.gateways for d in g.devices]
    assert len({id(d.map) for d in devices}) == 2  # one shared, immutable map per file


def test_an_edited_map_is_parsed_again(tmp_path):
    path = tmp_path / "boiler.yaml"
    shutil.copy(registers_dir() / "generic-boiler.yaml", path)
    first = load_map(path)
    before = registers.files_parsed()
    assert load_map(path) is first
    assert registers.files_parsed() == before
    text = path.read_text(encoding="utf-8").replace(first.model, first.model + "-v2", 1)
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    edited = load_map(path)
    assert registers.files_parsed() == before + 1
    assert edited.model == first.model + "-v2"
