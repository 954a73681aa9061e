"""What the unit tests share beyond the fakes."""
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
