"""Checks that the fakes in tests/fakes keep to the published contracts."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fakes import SANDBOX_SEED, FakeServices, load_seed

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sandboxVercelToken01"
TEAM = {"teamId": "team_sandbox01"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INCIDENT_HOOK = "/services/T0SANDBOX/B0INCIDENT/sandboxsecretincident0001"
SEED = load_seed(SANDBOX_SEED)
DEPLOYMENTS = SEED["vercel"]["deployments"]
LIVE = DEPLOYMENTS[0]
PREVIOUS_GOOD = DEPLOYMENTS[4]  # newest READY production of webapp older than LIVE
UNHEALTHY = next(d for d in DEPLOYMENTS if d.get("health") == "fail")
BUILDING = next(d for d in DEPLOYMENTS if d["state"] == "BUILDING")


@pytest.fixture(scope="module")
def fakes():
    with FakeServices() as services:
        yield services


@pytest.fixture(autouse=True)
def clean(fakes):
    fakes.reset()


def vercel_get(fakes, path, params=None, headers=None):
    params = TEAM if params is None else params
    headers = AUTH if headers is None else headers
    return requests.get(fakes.vercel_url + path, params=params, headers=headers, timeout=5)


def assign_alias(fakes, deployment_id, alias, legacy=False):
    prefix = "/now" if legacy else "/v2"
    return requests.post(f"{fakes.vercel_url}{prefix}/deployments/{deployment_id}/aliases", params=TEAM,
                         headers=AUTH, json={"alias": alias, "redirect": None}, timeout=5)


def test_sandbox_seed_layout():
    webapp = [d for d in DEPLOYMENTS if d["projectId"] == "prj_webapp01"]
    assert len(DEPLOYMENTS) == 45 and DEPLOYMENTS == sorted(DEPLOYMENTS, key=lambda d: -d["created"])
    assert (LIVE["state"], LIVE["target"]) == ("READY", "production")
    assert (DEPLOYMENTS[1]["state"], DEPLOYMENTS[1]["target"], DEPLOYMENTS[2]["target"]) == ("ERROR", "production", None)
    assert PREVIOUS_GOOD == next(d for d in webapp[1:] if d["state"] == "READY" and d["target"] == "production")
    assert {a["deploymentId"] for a in SEED["vercel"]["aliases"]} == {LIVE["id"]}


def test_auth_refusals_and_common_headers(fakes):
    missing = vercel_get(fakes, "/v2/user", headers={})
    assert missing.status_code == 403
    assert missing.json()["error"]["message"] == "The request is missing an authentication token"
    wrong = vercel_get(fakes, "/v2/user", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json() == {"error": {"code": "forbidden", "message": "Not authorized", "invalidToken": True}}
    other_team = vercel_get(fakes, "/v9/projects/webapp", params={"teamId": "team_sandbox02"})
    assert other_team.json() == {"error": {"code": "forbidden", "message": "Not authorized"}}
    personal = vercel_get(fakes, "/v9/projects/webapp", params={})
    assert personal.status_code == 404 and personal.json()["error"]["code"] == "not_found"
    ok = vercel_get(fakes, "/v9/projects/webapp", params={"slug": "acme"})
    assert ok.json()["targets"]["production"]["id"] == LIVE["id"]
    assert ok.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(ok.headers["X-RateLimit-Reset"]) > time.time()
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(ok.headers)
    logged = requests.get(fakes.vercel_url + "/_fake/requests", timeout=5).json()["requests"]
    assert [r["authorized"] for r in logged] == [False, True, True, True, True]
    assert all(TOKEN not in json.dumps(r) for r in logged) and logged[-1]["headers"]["Authorization"] == "<redacted>"


def test_unknown_path_and_wrong_method(fakes):
    assert vercel_get(fakes, "/v99/nothing").json()["error"]["message"] == "The requested path was not found"
    wrong = requests.delete(fakes.vercel_url + "/v2/user", headers=AUTH, timeout=5)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_unknown"


def test_list_paginates_with_until_until_next_is_null(fakes):
    params, seen, pages = {**TEAM, "projectId": "webapp", "limit": 10}, [], 0
    while True:
        body = vercel_get(fakes, "/v6/deployments", params=params).json()
        seen += body["deployments"]
        pages += 1
        if body["pagination"]["next"] is None:
            break
        assert body["pagination"]["next"] == body["deployments"][-1]["created"]
        params["until"] = body["pagination"]["next"]
    webapp = [d for d in DEPLOYMENTS if d["projectId"] == "prj_webapp01"]
    assert pages == 5 and [d["uid"] for d in seen] == [d["id"] for d in webapp]
    assert all("id" not in d and d["name"] == "webapp" for d in seen)
    first = vercel_get(fakes, f"/v13/deployments/{seen[0]['uid']}").json()
    assert first["id"] == LIVE["id"] and "uid" not in first
    assert first["team"]["id"] == first["ownerId"] == "team_sandbox01"
    assert sorted(first["alias"]) == ["shop.example.com", "www.shop.example.com"]
    by_host = vercel_get(fakes, f"/v13/deployments/{LIVE['url']}").json()
    assert by_host["id"] == LIVE["id"] and "health" not in by_host


def test_state_filter_and_limit_validation(fakes):
    body = vercel_get(fakes, "/v7/deployments", params={**TEAM, "state": "ERROR,CANCELED", "limit": 100}).json()
    assert body["deployments"] and {d["state"] for d in body["deployments"]} == {"ERROR", "CANCELED"}
    assert body["pagination"]["next"] is None
    bad = vercel_get(fakes, "/v6/deployments", params={**TEAM, "state": "READY,DONE"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    assert "`state`" in bad.json()["error"]["message"]
    for limit in (0, 101, "x"):
        assert vercel_get(fakes, "/v6/deployments", params={**TEAM, "limit": limit}).status_code == 400


def test_alias_assign_moves_and_reports_old_deployment(fakes):
    moved = assign_alias(fakes, PREVIOUS_GOOD["id"], "shop.example.com")
    assert moved.status_code == 200 and moved.json()["oldDeploymentId"] == LIVE["id"]
    assert moved.json()["alias"] == "shop.example.com" and moved.json()["created"].endswith("Z")
    alias = vercel_get(fakes, "/v4/aliases/shop.example.com").json()
    assert alias["deploymentId"] == PREVIOUS_GOOD["id"]
    assert alias["uid"] == moved.json()["uid"]  # moved in place, not recreated
    again = assign_alias(fakes, PREVIOUS_GOOD["url"], "shop.example.com", legacy=True)
    assert again.status_code == 200 and "oldDeploymentId" not in again.json()
    listed = vercel_get(fakes, f"/v2/deployments/{LIVE['id']}/aliases").json()["aliases"]
    assert [a["alias"] for a in listed] == ["www.shop.example.com"]


def test_alias_assign_refusals(fakes):
    not_ready = assign_alias(fakes, BUILDING["id"], "shop.example.com")
    assert not_ready.status_code == 400 and not_ready.json()["error"]["code"] == "deployment_not_ready"
    unknown_domain = assign_alias(fakes, PREVIOUS_GOOD["id"], "shop.example.org")
    assert unknown_domain.json() == {"error": {"code": "not_found", "message": "Domain not found"}}
    invalid = assign_alias(fakes, PREVIOUS_GOOD["id"], "not a host!")
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_alias"
    missing = assign_alias(fakes, "dpl_doesnotexist", "shop.example.com")
    assert missing.json() == {"error": {"code": "not_found", "message": "Deployment not found"}}
    as_form = requests.post(f"{fakes.vercel_url}/v2/deployments/{PREVIOUS_GOOD['id']}/aliases", params=TEAM,
                            headers=AUTH, data={"alias": "shop.example.com"}, timeout=5)
    assert as_form.status_code == 400 and as_form.json()["error"]["code"] == "bad_request"
    assert fakes.vercel.alias_target("shop.example.com")["id"] == LIVE["id"]


def test_rate_limit_fault_then_recovery(fakes):
    fault = {"method": "GET", "path": "^/v6/deployments$", "action": "status", "status": 429,
             "headers": {"Retry-After": "2"}}
    assert requests.post(fakes.vercel_url + "/_fake/faults", json={"faults": [fault]}, timeout=5).ok
    limited = vercel_get(fakes, "/v6/deployments")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    error = limited.json()["error"]
    assert error["code"] == "rate_limited" and error["limit"]["remaining"] == 0
    assert error["limit"]["resetMs"] == error["limit"]["reset"] * 1000
    assert vercel_get(fakes, "/v6/deployments").status_code == 200  # times=1 was consumed


def test_reset_and_malformed_faults(fakes):
    fakes.vercel.add_faults([{"path": "/v13/", "action": "reset"}, {"path": "/v13/", "action": "malformed"}])
    with pytest.raises(requests.ConnectionError):
        vercel_get(fakes, f"/v13/deployments/{LIVE['id']}")
    malformed = vercel_get(fakes, f"/v13/deployments/{LIVE['id']}")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    assert vercel_get(fakes, f"/v13/deployments/{LIVE['id']}").json()["id"] == LIVE["id"]
    assert fakes.vercel.faults() == []


def test_slack_answers(fakes):
    hook = fakes.slack_url + INCIDENT_HOOK
    ok = requests.post(hook, json={"text": "Rolled back webapp"}, timeout=5)
    assert (ok.status_code, ok.text) == (200, "ok") and ok.headers["Content-Type"].startswith("text/plain")
    form = requests.post(hook, data={"payload": json.dumps({"text": "via form"})}, timeout=5)
    assert form.text == "ok"
    no_text = requests.post(hook, json={"username": "bot"}, timeout=5)
    assert (no_text.status_code, no_text.text) == (400, "no_text")
    broken = requests.post(hook, data="{not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert (broken.status_code, broken.text) == (400, "invalid_payload")
    mismatch = requests.post(hook, data='{"text": "x"}', headers={"Content-Type": "text/plain"}, timeout=5)
    assert (mismatch.status_code, mismatch.text) == (400, "invalid_payload")
    bad_blocks = requests.post(hook, json={"text": "x", "blocks": [{"text": "no type"}]}, timeout=5)
    assert (bad_blocks.status_code, bad_blocks.text) == (400, "invalid_blocks")
    unknown = requests.post(fakes.slack_url + "/services/T0/B0/wrong", json={"text": "x"}, timeout=5)
    assert (unknown.status_code, unknown.text) == (404, "no_service")
    messages = fakes.slack.state()["messages"]
    assert [(m["channel"], m["payload"]["text"]) for m in messages] == [
        ("#incidents", "Rolled back webapp"), ("#incidents", "via form")]


def test_slack_rate_limit_defaults(fakes):
    fakes.slack.add_faults([{"action": "status", "status": 429}])
    limited = requests.post(fakes.slack_url + INCIDENT_HOOK, json={"text": "x"}, timeout=5)
    assert (limited.status_code, limited.text, limited.headers["Retry-After"]) == (429, "rate_limited", "1")
    assert fakes.slack.state()["messages"] == []


def test_slack_sdk_webhook_client_accepts_fake(fakes):
    webhook = pytest.importorskip("slack_sdk.webhook")
    response = webhook.WebhookClient(fakes.slack_url + INCIDENT_HOOK).send(text="deploy finished")
    assert (response.status_code, response.body) == (200, "ok")
    assert fakes.slack.state()["messages"][0]["payload"]["text"] == "deploy finished"


def test_health_follows_alias_and_forced_mode(fakes):
    health = fakes.health_url + "/api/health"
    assert requests.get(health, timeout=5).json() == {"status": "ok", "deployment": LIVE["id"]}
    assert assign_alias(fakes, UNHEALTHY["id"], "shop.example.com").ok
    failing = requests.get(fakes.health_url + "/", timeout=5)
    assert failing.status_code == 503 and failing.json() == {"status": "fail", "deployment": UNHEALTHY["id"]}
    assert requests.post(fakes.health_url + "/_fake/health", json={"mode": "ok"}, timeout=5).ok
    assert requests.get(health, timeout=5).status_code == 200
    fakes.health.set_mode("fail")
    assert assign_alias(fakes, LIVE["id"], "shop.example.com").ok
    assert requests.get(health, timeout=5).status_code == 503
    assert requests.post(fakes.health_url + "/_fake/health", json={"mode": "bogus"}, timeout=5).status_code == 400


def test_control_state_and_reset(fakes):
    seed = requests.get(fakes.vercel_url + "/_fake/state", timeout=5).json()
    assert requests.post(fakes.vercel_url + "/_fake/state", json={**seed, "deployments": []}, timeout=5).ok
    assert vercel_get(fakes, "/v6/deployments").json()["deployments"] == []
    assert requests.post(fakes.vercel_url + "/_fake/reset", timeout=5).ok
    assert len(vercel_get(fakes, "/v6/deployments", params={**TEAM, "limit": 100}).json()["deployments"]) == 45
    assert [r["path"] for r in fakes.vercel.requests()] == ["/v6/deployments"]  # control calls not logged


def test_cli_starts_writes_ready_file_and_stops_on_sigterm(tmp_path):
    ready = tmp_path / "ready.json"
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes", "--seed", str(SANDBOX_SEED),
                                "--ready-file", str(ready)], cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        urls = json.loads(ready.read_text())
        assert urls["pid"] == process.pid
        assert all(urls[name].startswith("http://127.0.0.1:")
                   for name in ("vercel", "slack", "health", "statuspage", "pagerduty"))
        user = requests.get(urls["vercel"] + "/v2/user", headers=AUTH, timeout=5).json()["user"]
        assert user["username"] == "ops-bot"
        components = requests.get(urls["statuspage"] + "/pages/sbxpage00001/components", timeout=5,
                                  headers={"Authorization": "OAuth sandboxStatuspageKey01"})
        assert [c["name"] for c in components.json()] == ["Website", "API", "Database", "Checkout"]
        incidents = requests.get(urls["pagerduty"] + "/incidents", timeout=5,
                                 headers={"Authorization": "Token token=sandboxPagerDutyApiToken01"})
        assert incidents.json()["incidents"] == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not ready.exists()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
