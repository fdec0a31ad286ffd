"""Fixtures shared by the resale tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.epp.server import EppServer
from tests.resale.domain_flow import random_tld


@pytest.fixture
def registry() -> Iterator[tuple[EppServer, str]]:
    """A registry of its own for the test: one random TLD, transfers approved only when the
    test says so; every frame the code sent was valid and every reply well formed."""
    tld = random_tld()
    with EppServer(tlds=(tld,), transfer_delay_s=None) as server:
        yield server, tld
        assert server.invalid_frames == []
        assert server.reply_errors == []
