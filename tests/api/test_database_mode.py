"""The server under test keeps its data where this pass of the suite says: SQLite in the data dir by default, a
real PostgreSQL in the second pass (`--egov-database=postgres`, run by scripts/test)."""

from __future__ import annotations

from pathlib import Path

import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from egov.db import Database
from tests.conftest import SERVICE_DATABASE


def test_the_server_answers_from_the_database_this_pass_asks_for(server):
    url = server.env.get("EGOV_DATABASE_URL") or f"sqlite:///{Path(server.env['EGOV_DATA_DIR']) / 'egov.sqlite3'}"
    expected = "postgresql" if SERVICE_DATABASE["kind"] == "postgres" else "sqlite"
    assert make_url(url).get_backend_name() == expected
    database = Database(url)
    try:
        with database.transaction() as session:
            issued = session.execute(text("SELECT COUNT(*) FROM certificates")).scalar_one()
    finally:
        database.dispose()
    assert issued >= 5  # root, issuing CAs, TSA, OCSP responders: the CA the server answers for lives there
    assert requests.get(f"{server.url}/readyz", timeout=10).json()["checks"]["database"] == "ok"
