"""Serve the app on waitress (a production WSGI server, not Flask's development server)."""

from __future__ import annotations

import logging

from dashboards.app import create_app


def make_server(host: str = "127.0.0.1", port: int = 8050, database_url: str | None = None):
    """A waitress server bound to (host, port), not yet running: `.run()` serves until
    `.close()`. Port 0 picks a free port (see `server_url`)."""
    from waitress.server import create_server

    app = create_app(database_url)
    return create_server(app.server, host=host, port=port, threads=8, ident="carnet")


def server_url(server) -> str:
    host, port = server.effective_host, server.effective_port
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in str(host):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8050, database_url: str | None = None) -> None:
    """Serve until interrupted, printing the address first."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = make_server(host, port, database_url)
    print(f"Carnet est servi sur {server_url(server)}  (Ctrl+C pour arrêter)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
