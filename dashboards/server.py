"""Serve the app on waitress (a production WSGI server, not Flask's development server)."""

from __future__ import annotations

import logging

from carnet import write_gate
from carnet.db import get_engine
from dashboards.app import create_app


def make_server(host: str = "127.0.0.1", port: int = 8050, database_url: str | None = None):
    """A waitress server bound to (host, port), not yet running: `.run()` serves until
    `.close()`. Port 0 picks a free port (see `server_url`)."""
    from waitress.server import create_server

    app = create_app(database_url)
    write_gate.install(get_engine(database_url))  # SQLite: the server's writes one at a time
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


class BackgroundServer:
    """A waitress server running in a daemon thread (tests, embedding); `stop()` closes every
    connection from inside the server's own loop, so the thread ends cleanly."""

    def __init__(self, wsgi_app, host: str = "127.0.0.1", port: int = 0, threads: int = 4):
        import threading

        from waitress.server import create_server

        self.server = create_server(wsgi_app, host=host, port=port, threads=threads, ident="carnet")
        self.url = server_url(self.server)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="carnet-waitress", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # kept for stop(): a loop that died is a failure to report
            self.error = exc

    def stop(self, timeout: float = 5.0) -> None:
        from waitress import wasyncore

        server = self.server
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:  # the loop has already closed its trigger: close what is left here
            wasyncore.close_all(server._map)
        self.thread.join(timeout)
        server.task_dispatcher.shutdown()
        if self.error is not None:
            raise RuntimeError("le serveur de test s'est arrêté sur une erreur") from self.error
