"""Serving the Flask app with gunicorn: several worker processes, each building its own app and connections."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from egov.settings import Settings

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def default_workers() -> int:
    # The status endpoints are CPU-bound (parsing, signing): one worker per core.
    return max(os.cpu_count() or 1, 2)


def ensure_multiprocess_metrics(settings: Settings) -> None:
    """Make every worker count into files /metrics can add up. prometheus_client reads the directory when it is
    imported, which the `egov` command has already done: so set it and start this command again in place."""
    if os.environ.get(METRICS_ENV):
        return
    os.environ[METRICS_ENV] = str(settings.data_dir / "prometheus")
    os.execv(sys.executable, [sys.executable, "-m", "api.cli", *sys.argv[1:]])


def _fresh_metrics_dir() -> None:
    directory = Path(os.environ[METRICS_ENV])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # counts of a previous run's workers
        stale.unlink()


def _worker_exited(server: Any, worker: Any) -> None:  # noqa: ANN401 - gunicorn's arbiter and worker
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class EgovServer(BaseApplication):
    """gunicorn with our options and the app factory; the app is created in each worker after the fork, so
    database connections and HSM sessions are never shared between processes."""

    def __init__(self, options: dict[str, Any], settings: Settings) -> None:
        self.options = options
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:  # noqa: ANN401 - a WSGI application
        from api.app import create_app
        from api.ops import configure_logging

        configure_logging(self.settings.log_level)
        return create_app()


def serve(settings: Settings, host: str, port: int, workers: int | None = None, threads: int = 4) -> None:
    """Run until SIGTERM/SIGINT (gunicorn stops the workers gracefully).

    Threaded workers keep HTTP connections alive, which roughly doubles OCSP answers per second over one
    request per connection (docs/benchmarks.md); the remaining work per request is CPU in the worker.
    """
    if os.environ.get(METRICS_ENV):
        _fresh_metrics_dir()
    EgovServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_workers(),
            "worker_class": "gthread" if threads > 1 else "sync",
            "threads": threads,
            "timeout": 60,
            "graceful_timeout": 10,
            "keepalive": 5,
            "accesslog": None,  # requests are logged as JSON by the app (api/ops.py)
            "errorlog": "-",
            "loglevel": settings.log_level.lower(),
            "proc_name": "egov-trust",
            "preload_app": False,
            "child_exit": _worker_exited,
        },
        settings,
    ).run()
