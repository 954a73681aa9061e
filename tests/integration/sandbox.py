"""What the integration tests know of the sandbox seed, and how they read the fakes' state."""
import json
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANDBOX = json.loads((REPO / "tests/fakes/sandbox.json").read_text(encoding="utf-8"))
TOKEN = "sandboxVercelToken01"
INCIDENT_HOOK = "/services/T0SANDBOX/B0INCIDENT/sandboxsecretincident0001"
MAINTENANCE_HOOK = "/services/T0SANDBOX/B0MAINT/sandboxsecretmaint0000001"
DEPLOY_HOOK = "/services/T0SANDBOX/B0DEPLOY/sandboxsecretdeploy00001"
STATUSPAGE_KEY = "sandboxStatuspageKey01"
STATUSPAGE_PAGE = "sbxpage00001"
PAGERDUTY_ROUTING_KEY = "sandboxpagerdutyroutingkey000001"
PAGERDUTY_TOKEN = "sandboxPagerDutyApiToken01"
PAGERDUTY_SERVICE = "PSBX001"


def deployment(index):
    """The id of the sandbox seed's deployment at this position (0 is the live one)."""
    return SANDBOX["vercel"]["deployments"][index]["id"]


LIVE, PREVIOUS, UNHEALTHY = deployment(0), deployment(4), deployment(7)


@dataclass
class Run:
    rc: int
    output: str
    audit: list = field(default_factory=list)

    @property
    def record(self):
        """The run's audit record (each run writes exactly one)."""
        assert len(self.audit) == 1, self.audit
        return self.audit[0]

    @property
    def changed(self):
        """The play recap's changed count (of the first host)."""
        recap = self.output.rsplit("PLAY RECAP", 1)[-1]
        return int(recap.split("changed=", 1)[1].split()[0])


def serving(fake):
    return {alias["alias"]: alias["deploymentId"] for alias in fake.vercel.state()["aliases"]}


def writes(fake):
    """The requests that could have changed something in Vercel."""
    return [r for r in fake.vercel.requests() if r["method"] != "GET"]


def slack_texts(fake, channel=None):
    return [message["payload"].get("text", "") for message in fake.slack.state()["messages"]
            if channel is None or message.get("channel") == channel]


def statuspage_incidents(fake):
    """The sandbox page's incidents, oldest first, each with its updates newest first."""
    page = next(p for p in fake.statuspage.state()["pages"] if p["id"] == STATUSPAGE_PAGE)
    return page["incidents"]


def component_statuses(fake):
    """``{component name: status}`` of the sandbox page."""
    return fake.statuspage.component_statuses(STATUSPAGE_PAGE)


def pagerduty_alerts(fake):
    """``{dedup_key: status}`` of every alert, the newest one winning when a key was reused."""
    return {alert["dedup_key"]: alert["status"] for alert in fake.pagerduty.state()["alerts"]}


def pagerduty_events(fake, outcome=None):
    """The events PagerDuty accepted; ``outcome`` keeps only created, deduplicated, acknowledged, resolved or
    dropped ones."""
    return fake.pagerduty.events(outcome)


def change_events(fake):
    return [event["summary"] for event in fake.pagerduty.state()["change_events"]]
