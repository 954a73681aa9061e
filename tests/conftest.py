"""Shared by unit and integration tests: import paths, the fake services and a throwaway PostgreSQL."""
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The product imports itself as ansible_collections.runbook.ops (a link back to the repo root);
# the repo root itself makes ``tests.fakes`` importable however pytest is started.
for entry in (REPO_ROOT / "collections", REPO_ROOT):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))


@pytest.fixture(scope="session")
def fakes():
    """The fakes of Vercel, Slack, the health endpoint, Statuspage and PagerDuty on 127.0.0.1, started once per session."""
    from tests.fakes import FakeServices  # importable once the path above is set

    with FakeServices() as services:
        yield services


@pytest.fixture
def fake(fakes):
    """The same fakes, back to the sandbox seed with no faults and an empty request log."""
    fakes.reset()
    return fakes


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1, started once per session and removed at the end."""
    from tests.postgres_cluster import ThrowawayCluster  # importable once the path above is set

    cluster = ThrowawayCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def ssh_hosts():
    """Two SSH hosts on loopback addresses, the ops hosts of the plays, started once per session and removed at
    the end. ``ssh_hosts.write_inventory(path)`` writes an inventory of them."""
    from tests.ssh_hosts import SshHosts  # importable once the path above is set

    hosts = SshHosts(count=2)
    yield hosts
    hosts.stop()
