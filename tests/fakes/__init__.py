"""Fake Vercel, Slack-webhook, health, Statuspage and PagerDuty services for the collection's tests.

``FakeServices`` starts all five on 127.0.0.1 in the current process; run
``python -m tests.fakes`` from the repository root for a standalone copy.
These are test doubles only, never product code.
"""
import json
from pathlib import Path

from .health import HealthServer
from .pagerduty import PagerDutyServer
from .slack import SlackServer
from .statuspage import StatuspageServer
from .vercel import VercelServer

SANDBOX_SEED = Path(__file__).with_name("sandbox.json")

__all__ = ["FakeServices", "HealthServer", "PagerDutyServer", "SlackServer", "StatuspageServer", "VercelServer",
           "SANDBOX_SEED", "load_seed"]


def load_seed(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


class FakeServices:
    """The five fakes, started on construction; use as a context manager or call ``stop()``."""

    def __init__(self, seed=SANDBOX_SEED, vercel_port=0, slack_port=0, health_port=0, statuspage_port=0,
                 pagerduty_port=0):
        seed = seed if isinstance(seed, dict) else load_seed(seed)
        self._servers = []
        try:
            self.vercel = self._start(VercelServer(seed.get("vercel", {}), vercel_port))
            self.slack = self._start(SlackServer(seed.get("slack", {}), slack_port))
            domain = seed.get("health", {}).get("domain")
            self.health = self._start(HealthServer(self.vercel, domain, health_port))
            self.statuspage = self._start(StatuspageServer(seed.get("statuspage", {}), statuspage_port))
            self.pagerduty = self._start(PagerDutyServer(seed.get("pagerduty", {}), pagerduty_port))
        except BaseException:
            self.stop()  # a port already in use must not leave the others running
            raise

    def _start(self, server):
        self._servers.append(server)
        return server.start()

    @property
    def vercel_url(self):
        return self.vercel.url

    @property
    def slack_url(self):
        return self.slack.url

    @property
    def health_url(self):
        return self.health.url

    @property
    def statuspage_url(self):
        """The API base, ``/v1`` included, as the real ``https://api.statuspage.io/v1``."""
        return self.statuspage.url + "/v1"

    @property
    def pagerduty_url(self):
        """One origin for both the Events API (``/v2/enqueue``) and the REST API (``/incidents``)."""
        return self.pagerduty.url

    def urls(self):
        return {"vercel": self.vercel_url, "slack": self.slack_url, "health": self.health_url,
                "statuspage": self.statuspage_url, "pagerduty": self.pagerduty_url}

    def reset(self):
        for server in self._servers:
            server.reset()

    def stop(self):
        while self._servers:
            self._servers.pop().stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
