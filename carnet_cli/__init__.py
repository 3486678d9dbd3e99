"""The `carnet` command: the one composition root, wiring carnet, ingest, contract and dashboards."""
