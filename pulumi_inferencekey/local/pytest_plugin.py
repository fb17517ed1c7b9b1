"""Pytest fixture ``local_control_plane``: one local platform per session, reset before each test.

Registered through the ``pytest11`` entry point, so installing the package provides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from .control_plane import LocalControlPlane


@pytest.fixture(scope="session")
def local_control_plane_session() -> Iterator[LocalControlPlane]:
    """Run one local platform for the whole session, shared by every test that requests it."""
    # Imported here because pytest loads this plugin in every project that installs the
    # package, including those installed without the 'local' extra and its server libraries.
    from .control_plane import LocalControlPlane

    with LocalControlPlane() as control_plane:
        yield control_plane


@pytest.fixture
def local_control_plane(local_control_plane_session: LocalControlPlane) -> LocalControlPlane:
    """Return the running local platform after wiping its workloads, credentials, requests and faults.

    Workloads become ready at once unless the test sets ``ready_after``.
    """
    local_control_plane_session.reset()
    return local_control_plane_session
