"""One real Keycloak for the whole test session (started and stopped through `egov idp`), realms applied, and the
two demo portals serving on free loopback ports so Keycloak can call their back-channel logout endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sso import SsoWorld, running_sso


@pytest.fixture(scope="session")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoWorld]:
    with running_sso(tmp_path_factory.mktemp("sso")) as world:
        yield world
