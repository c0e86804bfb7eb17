"""Fixtures of the HTTP tests: one real server shared by the package (starting one costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import settings_env_for
from tests.support.server import PkiServer, start_pki_server
from tests.support.softhsm import SoftHsmToken


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, softhsm: SoftHsmToken) -> Iterator[PkiServer]:
    """`egov serve` over its own CA, for tests that each work on certificates of their own."""
    server = start_pki_server(settings_env_for(tmp_path_factory.mktemp("pki") / "data", softhsm))
    try:
        yield server
    finally:
        server.stop()
