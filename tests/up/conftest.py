"""The running platform for tests of `egov up` and end-to-end tests: one `egov up` per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`egov up` in a fresh data dir on free loopback ports, ready (URLs answer, demo users exist) for the whole
    session; at the end Ctrl-C and a check that none of its processes is left. A test may `stop()` and `start()` it:
    it comes back in the same data dir on the same ports, with the same users and URLs."""
    with running_stack(tmp_path_factory.mktemp("up") / "egov") as running:
        yield running
