"""A real Kamailio per test module, mirroring its traffic as HEP v3 or raw SIP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.telephony.kamailio import Kamailio, free_udp_port, start_kamailio


@pytest.fixture(scope="module", params=["hep", "raw"])
def proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kamailio]:
    workdir = tmp_path_factory.mktemp(f"kamailio-{request.param}")
    kamailio = start_kamailio(workdir, request.param, free_udp_port())
    yield kamailio
    kamailio.stop()
