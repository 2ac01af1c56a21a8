"""Outside counterparts of the identity tests, started by the tests on free local ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.identity.oidc_provider import Provider


@pytest.fixture(scope="session")
def idp() -> Iterator[Provider]:
    """A real OpenID Connect provider (`oidc-provider-mock`) for the whole run."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield Provider(issuer=f"http://localhost:{server.server_port}")


@pytest.fixture(scope="session")
def other_idp() -> Iterator[Provider]:
    """A second provider: another issuer, with keys of its own."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield Provider(issuer=f"http://localhost:{server.server_port}")
