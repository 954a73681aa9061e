"""What the unit tests share beyond the fakes."""
import time

import pytest


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps; it records every sleep."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(scope="module")
def cluster(postgres, request):
    """The session's PostgreSQL cluster with a database of the test module's own, named by its ``DATABASE``:
    created before the module's first test, dropped after its last with any session still on it."""
    database = request.module.DATABASE
    postgres.psql(f"CREATE DATABASE {database}")
    yield postgres
    postgres.psql(f"DROP DATABASE {database} WITH (FORCE)")


@pytest.fixture
def tokyo_local_time(monkeypatch):
    """This process's local time zone is Asia/Tokyo for the test, as a host's would be."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
