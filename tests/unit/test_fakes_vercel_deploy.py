"""Checks the Vercel fake's deployment creation, builds over time, promotion and env listing, and the health fake.

The fake's clock is frozen at NOW for every test and moved by hand, so no assertion depends on how fast
this machine runs.
"""
import json

import pytest
import requests

from tests.fakes import SANDBOX_SEED, FakeServices, load_seed
from tests.fakes.vercel import BUILD_DEFAULTS, PROMOTE_QUEUE_S

TOKEN = "sandboxVercelToken01"
TEAM = {"teamId": "team_sandbox01"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = load_seed(SANDBOX_SEED)["vercel"]
WEBAPP = next(p for p in SEED["projects"] if p["name"] == "webapp")
REFS, COMMITS = WEBAPP["git"]["refs"], WEBAPP["git"]["commits"]
DEPLOYMENTS = SEED["deployments"]
LIVE = DEPLOYMENTS[0]
PREVIEW = DEPLOYMENTS[2]  # a READY preview of webapp
PREVIOUS_GOOD = DEPLOYMENTS[4]
MARKETING_LIVE = DEPLOYMENTS[3]
NOW = 1_800_000_000  # epoch seconds, after every seeded deployment; whole, so steps of 0.5 s add up exactly
DOMAINS = ("shop.example.com", "www.shop.example.com")
WEBAPP_ENVS = [e for e in SEED["envs"] if e["projectId"] == WEBAPP["id"]]
HIDDEN_VALUES = [e["value"] for e in WEBAPP_ENVS if e["type"] in ("encrypted", "secret", "sensitive")]
SENSITIVE_VALUES = [e["value"] for e in WEBAPP_ENVS if e["type"] == "sensitive"]


@pytest.fixture(scope="module")
def fakes():
    with FakeServices() as services:
        yield services


@pytest.fixture(autouse=True)
def fake(fakes):
    fakes.reset()
    fakes.vercel.freeze_clock(NOW)
    return fakes


def api(fake, method, path, params=None, headers=None, **kwargs):
    return requests.request(method, fake.vercel_url + path, params={**TEAM, **(params or {})},
                            headers={**AUTH, **(headers or {})}, timeout=5, **kwargs)


def deploy(fake, body, params=None):
    return api(fake, "POST", "/v13/deployments", params, json=body)


def from_ref(ref, target="production", **extra):
    body = {"name": "webapp", "gitSource": {"type": "github", "org": "acme", "repo": "webapp", "ref": ref}, **extra}
    if target:
        body["target"] = target
    return body


def deployment(fake, deployment_id):
    return api(fake, "GET", f"/v13/deployments/{deployment_id}").json()


def listed(fake, deployment_id):
    page = api(fake, "GET", "/v6/deployments", {"projectId": "webapp", "limit": 100}).json()["deployments"]
    return next(item for item in page if item["uid"] == deployment_id)


def serving(fake):
    return {a["alias"]: a["deploymentId"] for a in fake.vercel.state()["aliases"]}


def project(fake, name="webapp"):
    return api(fake, "GET", f"/v9/projects/{name}", {"rollbackInfo": "true"}).json()


def set_project(fake, **changes):
    state = fake.vercel.state()
    next(p for p in state["projects"] if p["name"] == "webapp").update(changes)
    fake.vercel.load(state)


def error(response):
    return response.status_code, response.json()["error"]["code"]


def health(fake):
    answer = requests.get(fake.health_url + "/api/health", timeout=5)
    return answer.status_code, answer.json()


# ----- creating a deployment and building it -----------------------------------

def test_new_production_deployment_builds_over_time_then_serves_the_domains(fake):
    created = deploy(fake, from_ref("main", meta={"runbookSchemaVersion": "42"}), {"forceNew": "1"})
    assert created.status_code == 200
    body = created.json()
    new_id = body["id"]
    assert new_id.startswith("dpl_") and "uid" not in body and body == deployment(fake, new_id)
    assert (body["readyState"], body["target"], body["projectId"], body["name"]) == (
        "QUEUED", "production", WEBAPP["id"], "webapp")
    assert body["createdAt"] == NOW * 1000 and body["url"].endswith("-acme.vercel.app")
    assert body["meta"] == {"runbookSchemaVersion": "42", "githubCommitSha": REFS["main"], "githubCommitRef": "main",
                            "githubCommitMessage": COMMITS[REFS["main"]]["message"], "githubCommitOrg": "acme",
                            "githubCommitRepo": "webapp", "githubCommitAuthorLogin": COMMITS[REFS["main"]]["author"]}
    assert body["creator"] == {"uid": "usr_sandbox01", "username": "ops-bot", "email": "ops-bot@example.com"}
    assert body["gitSource"]["sha"] == REFS["main"] and body["team"]["id"] == body["ownerId"] == "team_sandbox01"
    assert "readySubstate" not in body and "health" not in body and "build" not in body
    assert listed(fake, new_id)["state"] == "QUEUED"
    assert api(fake, "GET", "/v6/deployments", {"projectId": "webapp"}).json()["deployments"][0]["uid"] == new_id

    queued_ms, build_ms = BUILD_DEFAULTS["queued_s"] * 1000, BUILD_DEFAULTS["build_s"] * 1000
    # Frozen at exact moments: sums of decimal steps would drift by a float's last digit.
    fake.vercel.freeze_clock(NOW + 0.499)
    assert deployment(fake, new_id)["readyState"] == "QUEUED"
    fake.vercel.freeze_clock(NOW + 0.5)
    building = deployment(fake, new_id)
    assert building["readyState"] == "BUILDING" and building["buildingAt"] == NOW * 1000 + queued_ms
    assert "ready" not in building and serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"])
    fake.vercel.freeze_clock(NOW + 1.999)
    assert listed(fake, new_id)["state"] == "BUILDING"
    fake.vercel.freeze_clock(NOW + 2)

    ready = deployment(fake, new_id)
    assert (ready["readyState"], ready["readySubstate"]) == ("READY", "PROMOTED")
    assert ready["ready"] == NOW * 1000 + queued_ms + build_ms and sorted(ready["alias"]) == list(DOMAINS)
    assert listed(fake, new_id)["readySubstate"] == "PROMOTED"
    assert serving(fake) == dict.fromkeys(DOMAINS, new_id)
    assert project(fake)["targets"]["production"]["id"] == new_id
    assert health(fake) == (200, {"status": "ok", "deployment": new_id})


def test_preview_and_staging_builds_never_touch_the_domains(fake):
    preview = deploy(fake, from_ref("chore/deps", target=None)).json()
    staging = deploy(fake, from_ref("main", target="staging")).json()
    assert (preview["target"], staging["target"]) == (None, "staging")
    fake.vercel.advance_clock(10)
    for new in (preview, staging):
        ready = deployment(fake, new["id"])
        assert ready["readyState"] == "READY" and "readySubstate" not in ready and ready["alias"] == []
    assert listed(fake, preview["id"])["target"] is None
    assert serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"])


def test_commit_by_sha_repo_id_and_project_override(fake):
    older = PREVIOUS_GOOD["meta"]["githubCommitSha"]
    by_sha = deploy(fake, {"name": "ignored-name", "project": WEBAPP["id"],
                           "gitSource": {"type": "github", "repoId": 123, "ref": "main", "sha": older.upper()}})
    assert by_sha.status_code == 200
    meta = by_sha.json()["meta"]
    assert (meta["githubCommitSha"], meta["githubCommitRef"]) == (older, "main")
    assert meta["githubCommitOrg"] == "acme" and by_sha.json()["name"] == "webapp"
    limited = deploy(fake, {"name": "webapp", "gitSource": {"type": "github-limited", "org": "ACME", "repo": "webapp",
                                                            "repoId": "123", "ref": "release/unhealthy"}},
                     {"slug": "acme", "teamId": ""})
    assert limited.status_code == 200 and limited.json()["meta"]["githubCommitSha"] == REFS["release/unhealthy"]


def test_deployments_are_never_deduplicated(fake):
    first = deploy(fake, from_ref("main"), {"forceNew": "0"}).json()
    second = deploy(fake, from_ref("main"), {"forceNew": "0"}).json()
    assert first["id"] != second["id"] and first["url"] != second["url"]
    assert len(fake.vercel.state()["deployments"]) == len(DEPLOYMENTS) + 2


def test_redeploy_by_id_as_the_cli_promotes_a_preview(fake):
    body = {"deploymentId": PREVIEW["id"], "name": "webapp", "target": "production", "meta": {"action": "promote"}}
    created = deploy(fake, body)
    assert created.status_code == 200
    new = created.json()
    assert new["id"] != PREVIEW["id"] and new["target"] == "production" and new["readyState"] == "QUEUED"
    assert new["meta"] == {**PREVIEW["meta"], "action": "promote"}
    fake.vercel.advance_clock(2)
    assert deployment(fake, new["id"])["readySubstate"] == "PROMOTED"
    assert serving(fake) == dict.fromkeys(DOMAINS, new["id"])
    assert deployment(fake, PREVIEW["id"])["target"] is None  # the preview itself stays a preview


def test_redeploy_of_a_broken_commit_follows_its_build_rule(fake):
    broken = deploy(fake, from_ref("release/broken", target=None)).json()
    fake.vercel.advance_clock(2)
    again = deploy(fake, {"deploymentId": broken["id"], "name": "webapp", "target": "production"}).json()
    fake.vercel.advance_clock(2)
    assert deployment(fake, again["id"])["readyState"] == "ERROR"
    assert again["meta"]["githubCommitSha"] == REFS["release/broken"]


def test_failed_build_reports_the_rules_message_and_leaves_the_domains(fake):
    broken = deploy(fake, from_ref("release/broken")).json()
    fake.vercel.advance_clock(2)
    failed = deployment(fake, broken["id"])
    message = next(r for r in SEED["build_rules"] if REFS["release/broken"].startswith(r["sha"]))["error_message"]
    assert (failed["readyState"], failed["errorCode"], failed["errorMessage"]) == ("ERROR", "BUILD_FAILED", message)
    assert "readySubstate" not in failed and "ready" not in failed and failed["alias"] == []
    item = listed(fake, broken["id"])
    assert (item["state"], item["errorMessage"], item["isRollbackCandidate"]) == ("ERROR", message, False)
    assert serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"])
    assert health(fake) == (200, {"status": "ok", "deployment": LIVE["id"]})


def test_unhealthy_build_goes_live_and_the_health_check_reports_it(fake):
    unhealthy = deploy(fake, from_ref("release/unhealthy")).json()
    fake.vercel.advance_clock(2)
    assert deployment(fake, unhealthy["id"])["readyState"] == "READY"
    assert "error_rate" not in json.dumps(deployment(fake, unhealthy["id"]))
    assert health(fake) == (503, {"status": "fail", "deployment": unhealthy["id"], "error_rate": 0.42})


def test_rules_added_at_run_time_come_first(fake):
    fake.vercel.add_build_rules([{"ref": "main", "outcome": "CANCELED", "queued_s": 0, "build_s": 3}])
    added = requests.post(fake.vercel_url + "/_fake/build_rules", timeout=5,
                          json={"rules": [{"sha": REFS["release/broken"][:8], "outcome": "READY", "build_s": 0}]})
    assert added.status_code == 200 and added.json()["build_rules"][0]["sha"] == REFS["release/broken"][:8]
    assert len(added.json()["build_rules"]) == len(SEED["build_rules"]) + 2

    canceled = deploy(fake, from_ref("main")).json()
    fixed = deploy(fake, from_ref("release/broken")).json()
    fake.vercel.advance_clock(0)
    assert deployment(fake, canceled["id"])["readyState"] == "BUILDING"
    fake.vercel.advance_clock(0.5)
    assert deployment(fake, fixed["id"])["readySubstate"] == "PROMOTED"
    fake.vercel.advance_clock(2.5)
    assert deployment(fake, canceled["id"])["readyState"] == "CANCELED"
    assert serving(fake) == dict.fromkeys(DOMAINS, fixed["id"])

    assert requests.delete(fake.vercel_url + "/_fake/build_rules", timeout=5).json() == {"build_rules": []}
    assert fake.vercel.build_rules() == []
    fake.vercel.reset()
    assert fake.vercel.build_rules() == SEED["build_rules"]


@pytest.mark.parametrize("rule", [{"outcome": "DONE"}, {"health": "meh"}, {"queued_s": -1}, {"build_s": "2"},
                                  {"error_rate": 1.5}, {"sha": 12}, {"branch": "main"}, "READY"])
def test_bad_build_rules_are_refused(fake, rule):
    answer = requests.post(fake.vercel_url + "/_fake/build_rules", json={"rules": [rule]}, timeout=5)
    assert answer.status_code == 400 and "bad control request" in answer.json()["error"]
    with pytest.raises(ValueError):
        fake.vercel.add_build_rules([rule])
    assert fake.vercel.build_rules() == SEED["build_rules"]


def test_state_and_the_health_fake_catch_up_with_a_moved_clock(fake):
    new = deploy(fake, from_ref("main")).json()
    # freeze_clock moves the time without applying anything: the next reader must catch up itself.
    fake.vercel.freeze_clock(NOW + 5)
    assert health(fake) == (200, {"status": "ok", "deployment": new["id"]})
    fake.vercel.reset()
    fake.vercel.freeze_clock(NOW)
    new = deploy(fake, from_ref("main")).json()
    fake.vercel.freeze_clock(NOW + 5)
    assert next(d for d in fake.vercel.state()["deployments"] if d["id"] == new["id"])["state"] == "READY"


def test_clock_control_route(fake):
    clock = fake.vercel_url + "/_fake/clock"
    assert requests.get(clock, timeout=5).json() == {"now": NOW, "frozen": True}
    assert requests.post(clock, json={"advance": 2.5}, timeout=5).json() == {"now": NOW + 2.5, "frozen": True}
    assert requests.post(clock, json={"at": NOW + 100}, timeout=5).json()["now"] == NOW + 100
    running = requests.post(clock, json={"freeze": False}, timeout=5).json()
    assert running["frozen"] is False and running["now"] >= NOW + 100
    for bad in ({}, {"advance": -1}, {"advance": "1"}, {"rewind": 1}):
        assert requests.post(clock, json=bad, timeout=5).status_code == 400
    fake.vercel.reset()
    assert requests.get(clock, timeout=5).json()["frozen"] is False


# ----- refusals of POST /v13/deployments ------------------------------------------

GIT = {"type": "github", "org": "acme", "repo": "webapp", "ref": "main"}


@pytest.mark.parametrize("body, status, code, words", [
    ({"gitSource": GIT}, 400, "bad_request", "`name`"),
    ({"name": "", "gitSource": GIT}, 400, "bad_request", "`name`"),
    ({"name": "webapp", "project": 7, "gitSource": GIT}, 400, "bad_request", "`project`"),
    ({"name": "webapp", "files": [{"file": "index.html", "data": "x"}]}, 400, "bad_request",
     "not supported by the fake"),
    ({"name": "webapp", "target": "qa", "gitSource": GIT}, 400, "bad_request", "`target`"),
    ({"name": "webapp", "meta": ["a"], "gitSource": GIT}, 400, "bad_request", "`meta`"),
    ({"name": "webapp", "meta": {"build": 7}, "gitSource": GIT}, 400, "bad_request", "`meta.build`"),
    ({"name": "webapp"}, 400, "bad_request", "exactly one of `gitSource` or `deploymentId`"),
    ({"name": "webapp", "gitSource": GIT, "deploymentId": PREVIEW["id"]}, 400, "bad_request", "exactly one"),
    ({"name": "webapp", "deploymentId": 12}, 400, "bad_request", "`deploymentId`"),
    ({"name": "webapp", "gitSource": "main"}, 400, "bad_request", "`gitSource`"),
    ({"name": "webapp", "gitSource": {**GIT, "type": "svn"}}, 400, "bad_request", "`gitSource.type`"),
    ({"name": "webapp", "gitSource": {**GIT, "ref": ""}}, 400, "bad_request", "`gitSource.ref`"),
    ({"name": "webapp", "gitSource": {"type": "github", "org": "acme", "ref": "main"}}, 400, "bad_request",
     "`gitSource.repoId`"),
    ({"name": "webapp", "gitSource": {"type": "bitbucket", "owner": "acme", "ref": "main"}}, 400, "bad_request",
     "`gitSource.slug`"),
    ({"name": "webapp", "gitSource": {"type": "gitlab", "ref": "main"}}, 400, "bad_request", "`gitSource.projectId`"),
    ({"name": "webapp", "gitSource": {**GIT, "sha": 5}}, 400, "bad_request", "`gitSource.sha`"),
    ({"name": "webapp", "gitSource": {**GIT, "repo": "storefront"}}, 400, "incorrect_git_source_info",
     "another repository"),
    ({"name": "webapp", "gitSource": {"type": "github", "repoId": 999, "ref": "main"}}, 400,
     "incorrect_git_source_info", "another repository"),
    ({"name": "webapp", "gitSource": {"type": "gitlab", "projectId": 123, "ref": "main"}}, 400,
     "incorrect_git_source_info", "another repository"),
    ({"name": "webapp", "gitSource": {**GIT, "ref": "release/nothing"}}, 400, "incorrect_git_source_info",
     "'release/nothing'"),
    ({"name": "webapp", "gitSource": {**GIT, "sha": "0" * 40}}, 400, "incorrect_git_source_info", "0" * 40),
    ({"name": "marketing", "gitSource": GIT}, 400, "incorrect_git_source_info", "'main' was not found"),
    ({"name": "storefront", "gitSource": GIT}, 404, "not_found", "Project not found"),
    ({"name": "webapp", "project": "storefront", "gitSource": GIT}, 404, "not_found", "Project not found"),
    ({"name": "webapp", "deploymentId": "dpl_doesnotexist"}, 404, "not_found", "Deployment not found"),
    ({"name": "webapp", "deploymentId": PREVIEW["url"]}, 404, "not_found", "Deployment not found"),
    ({"name": "webapp", "deploymentId": MARKETING_LIVE["id"]}, 400, "bad_request", "another project"),
])
def test_create_refusals(fake, body, status, code, words):
    answer = deploy(fake, body)
    assert error(answer) == (status, code)
    assert words in answer.json()["error"]["message"]
    assert len(fake.vercel.state()["deployments"]) == len(DEPLOYMENTS)


@pytest.mark.parametrize("params", [{"forceNew": "yes"}, {"skipAutoDetectionConfirmation": "true"}])
def test_create_refuses_unknown_flag_values(fake, params):
    answer = deploy(fake, from_ref("main"), params)
    assert error(answer) == (400, "bad_request") and next(iter(params)) in answer.json()["error"]["message"]


def test_create_needs_a_json_object_in_a_team(fake):
    form = api(fake, "POST", "/v13/deployments", data={"name": "webapp"})
    assert error(form) == (400, "bad_request") and "Content-Type" in form.json()["error"]["message"]
    broken = api(fake, "POST", "/v13/deployments", data="{", headers={"Content-Type": "application/json"})
    assert error(broken) == (400, "bad_request")
    listed_body = api(fake, "POST", "/v13/deployments", json=[from_ref("main")])
    assert error(listed_body) == (400, "bad_request")
    personal = requests.post(fake.vercel_url + "/v13/deployments", json=from_ref("main"), headers=AUTH, timeout=5)
    assert error(personal) == (404, "not_found")
    other_team = deploy(fake, from_ref("main"), {"teamId": "team_sandbox02"})
    assert error(other_team) == (403, "forbidden")
    no_token = requests.post(fake.vercel_url + "/v13/deployments", params=TEAM, json=from_ref("main"), timeout=5)
    assert error(no_token) == (403, "forbidden")
    assert len(fake.vercel.state()["deployments"]) == len(DEPLOYMENTS)


# ----- staged production and promotion --------------------------------------------

def test_staged_production_build_serves_nothing_until_promoted(fake):
    set_project(fake, autoAssignCustomDomains=False)
    assert project(fake)["autoAssignCustomDomains"] is False
    staged = deploy(fake, from_ref("main")).json()
    fake.vercel.advance_clock(2)
    assert deployment(fake, staged["id"])["readySubstate"] == "STAGED"
    assert listed(fake, staged["id"])["readySubstate"] == "STAGED"
    assert serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"]) and deployment(fake, staged["id"])["alias"] == []

    promoted = api(fake, "POST", f"/v10/projects/{WEBAPP['id']}/promote/{staged['id']}", json={})
    assert (promoted.status_code, promoted.content) == (201, b"")
    assert deployment(fake, staged["id"])["readySubstate"] == "PROMOTED"
    assert serving(fake) == dict.fromkeys(DOMAINS, staged["id"])
    assert project(fake)["lastAliasRequest"] == {"fromDeploymentId": LIVE["id"], "toDeploymentId": staged["id"],
                                                 "jobStatus": "succeeded", "requestedAt": (NOW + 2) * 1000,
                                                 "type": "promote"}
    again = api(fake, "POST", f"/v10/projects/{WEBAPP['id']}/promote/{staged['id']}", json={})
    assert error(again) == (409, "conflict")


def test_queued_promotion_is_pending_then_moves_the_domains(fake):
    set_project(fake, promoteQueued=True)
    queued = api(fake, "POST", f"/v10/projects/webapp/promote/{PREVIOUS_GOOD['id']}", json={})
    assert (queued.status_code, queued.content, queued.headers.get("Content-Type")) == (202, b"", None)
    request = project(fake)["lastAliasRequest"]
    assert (request["jobStatus"], request["toDeploymentId"], request["type"]) == (
        "pending", PREVIOUS_GOOD["id"], "promote")
    assert serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"])
    assert "pendingPromote" not in project(fake)

    fake.vercel.advance_clock(PROMOTE_QUEUE_S - 0.001)
    assert project(fake)["lastAliasRequest"]["jobStatus"] == "pending"
    # Moved without anything applied: the health fake's own look must bring the promotion about.
    fake.vercel.freeze_clock(NOW + PROMOTE_QUEUE_S)
    assert health(fake)[1]["deployment"] == PREVIOUS_GOOD["id"]
    assert project(fake)["lastAliasRequest"]["jobStatus"] == "succeeded"
    assert deployment(fake, PREVIOUS_GOOD["id"])["readySubstate"] == "PROMOTED"


def test_queued_promotion_delay_may_be_given_in_seconds(fake):
    set_project(fake, promoteQueued=5)
    assert api(fake, "POST", f"/v10/projects/webapp/promote/{PREVIOUS_GOOD['id']}", json={}).status_code == 202
    fake.vercel.advance_clock(4.5)
    assert serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"])
    fake.vercel.advance_clock(0.5)
    assert serving(fake) == dict.fromkeys(DOMAINS, PREVIOUS_GOOD["id"])


def test_promote_refusals(fake):
    promote = "/v10/projects/webapp/promote/{}"
    assert error(api(fake, "POST", promote.format(LIVE["id"]), json={})) == (409, "conflict")
    assert error(api(fake, "POST", promote.format(PREVIEW["id"]), json={})) == (400, "bad_request")
    assert error(api(fake, "POST", promote.format("dpl_doesnotexist"), json={})) == (404, "not_found")
    assert error(api(fake, "POST", promote.format(MARKETING_LIVE["id"]), json={})) == (404, "not_found")
    building = deploy(fake, from_ref("main")).json()
    assert error(api(fake, "POST", promote.format(building["id"]), json={})) == (400, "bad_request")
    assert serving(fake) == dict.fromkeys(DOMAINS, LIVE["id"])


# ----- environment variables --------------------------------------------------------

def envs(fake, project_ref="webapp", version="v10", **params):
    answer = api(fake, "GET", f"/{version}/projects/{project_ref}/env", params)
    assert answer.status_code == 200, answer.text
    return answer


def test_env_listing_hides_encrypted_and_sensitive_values(fake):
    answer = envs(fake, source="vercel-cli:env:ls")
    assert all(value not in answer.text for value in HIDDEN_VALUES)
    body = answer.json()
    assert set(body) == {"envs"}  # one page: no pagination
    by_id = {item["id"]: item for item in body["envs"]}
    assert sorted(by_id) == sorted(e["id"] for e in WEBAPP_ENVS)
    for seeded in WEBAPP_ENVS:
        item = by_id[seeded["id"]]
        assert {k: item[k] for k in ("key", "type", "target", "createdAt", "updatedAt")} == {
            k: seeded[k] for k in ("key", "type", "target", "createdAt", "updatedAt")}
        assert item["decrypted"] is False and item["configurationId"] is None
        assert item.get("gitBranch") == seeded.get("gitBranch")
        if seeded["type"] in ("plain", "system"):
            assert item["value"] == seeded["value"]
        elif seeded["type"] == "sensitive":
            assert item["value"] == ""
        else:
            assert item["value"] and "sandbox" not in item["value"]
    assert [item["createdAt"] for item in body["envs"]] == sorted((e["createdAt"] for e in WEBAPP_ENVS), reverse=True)


@pytest.mark.parametrize("version", ["v10", "v8"])
def test_env_listing_decrypts_on_request_but_never_sensitive_values(fake, version):
    answer = envs(fake, version=version, decrypt="true")
    assert all(value not in answer.text for value in SENSITIVE_VALUES)
    by_id = {item["id"]: item for item in answer.json()["envs"]}
    for seeded in WEBAPP_ENVS:
        item = by_id[seeded["id"]]
        if seeded["type"] in ("encrypted", "secret"):
            assert (item["value"], item["decrypted"]) == (seeded["value"], True)
        elif seeded["type"] == "sensitive":
            assert (item["value"], item["decrypted"]) == ("", False)
    assert envs(fake, version=version, decrypt="false").text == envs(fake, version=version).text


def test_env_listing_filters(fake):
    production = envs(fake, target="production").json()["envs"]
    assert sorted(i["key"] for i in production) == sorted(e["key"] for e in WEBAPP_ENVS if "production" in e["target"])
    on_branch = {i["key"] for i in envs(fake, gitBranch="feature/checkout-redesign").json()["envs"]}
    elsewhere = {i["key"] for i in envs(fake, gitBranch="fix/cart-rounding").json()["envs"]}
    assert "API_BASE_URL" in on_branch and "API_BASE_URL" not in elsewhere
    assert "STRIPE_SECRET_KEY" not in on_branch  # production only
    assert on_branch - {"API_BASE_URL"} == elsewhere
    assert envs(fake, customEnvironmentId="env_custom").json()["envs"] == []
    marketing = envs(fake, "prj_other01", slug="acme", teamId="").json()["envs"]
    assert [i["key"] for i in marketing] == ["CMS_TOKEN"]


@pytest.mark.parametrize("params, status, code", [
    ({"decrypt": "yes"}, 400, "bad_request"), ({"target": "qa"}, 400, "bad_request"),
    ({"until": "soon"}, 400, "bad_request"), ({"teamId": "team_sandbox02"}, 403, "forbidden"),
    ({"teamId": ""}, 404, "not_found"),
])
def test_env_listing_refusals(fake, params, status, code):
    answer = api(fake, "GET", "/v10/projects/webapp/env", params)
    assert error(answer) == (status, code)
    assert all(value not in answer.text for value in HIDDEN_VALUES)
    assert error(api(fake, "GET", "/v10/projects/storefront/env")) == (404, "not_found")


def follow_env_pages(fake, **params):
    pages, until = [], None
    while True:
        body = envs(fake, **params, **({"until": until} if until else {})).json()
        pages.append(body)
        until = body["pagination"]["next"]
        if until is None:
            return pages


def test_env_listing_pages_follow_until_and_give_everything_once(fake):
    state = fake.vercel.state()
    state["env_page_size"] = 3
    fake.vercel.load(state)
    pages = follow_env_pages(fake, decrypt="true")
    ids = [item["id"] for page in pages for item in page["envs"]]
    assert [len(page["envs"]) for page in pages] == [3, 3, 3, 1]
    assert sorted(ids) == sorted(e["id"] for e in WEBAPP_ENVS) and len(set(ids)) == len(ids)
    assert all(page["pagination"]["count"] == len(page["envs"]) for page in pages)
    assert pages[0]["pagination"]["next"] == pages[0]["envs"][-1]["createdAt"]


def test_env_pages_never_split_variables_created_at_the_same_moment(fake):
    state = fake.vercel.state()
    state["env_page_size"] = 2
    mine = [e for e in state["envs"] if e["projectId"] == WEBAPP["id"]]
    for env in mine[:4]:
        env["createdAt"] = mine[0]["createdAt"]  # the four oldest share one moment
    fake.vercel.load(state)
    pages = follow_env_pages(fake)
    ids = [item["id"] for page in pages for item in page["envs"]]
    assert sorted(ids) == sorted(e["id"] for e in WEBAPP_ENVS) and len(set(ids)) == len(ids)
    assert len(pages[-1]["envs"]) == 4


# ----- the health fake ---------------------------------------------------------------

def test_health_delay_holds_answers_but_not_the_controls(fake):
    fake.health.set_delay(2000)
    with pytest.raises(requests.Timeout):
        requests.get(fake.health_url + "/api/health", timeout=0.2)
    assert requests.get(fake.health_url + "/_fake/state", timeout=3).json()["delay_ms"] == 2000
    assert requests.post(fake.health_url + "/_fake/health", json={"delay_ms": 0}, timeout=3).json()["delay_ms"] == 0
    assert health(fake) == (200, {"status": "ok", "deployment": LIVE["id"]})


def test_health_settings_are_checked_as_a_whole(fake):
    control = fake.health_url + "/_fake/health"
    for bad in ({"delay_ms": -1}, {"delay_ms": "5"}, {"delay_ms": True}, {"mode": "ok", "delay_ms": -1},
                {"mode": "bogus", "delay_ms": 10}, {}, {"slow": 1}):
        assert requests.post(control, json=bad, timeout=5).status_code == 400
    assert fake.health.state() == {"domain": "shop.example.com", "mode": "auto", "delay_ms": 0}
    with pytest.raises(ValueError):
        fake.health.set_delay(-5)
    both = requests.post(control, json={"mode": "fail", "delay_ms": 1}, timeout=5).json()
    assert (both["mode"], both["delay_ms"]) == ("fail", 1)
    assert health(fake)[0] == 503
    fake.health.reset()
    assert fake.health.state()["delay_ms"] == 0


def test_health_reports_a_seeded_error_rate(fake):
    state = fake.vercel.state()
    state["deployments"][0]["error_rate"] = 0.05
    fake.vercel.load(state)
    assert health(fake) == (200, {"status": "ok", "deployment": LIVE["id"], "error_rate": 0.05})
    fake.health.set_mode("fail")
    assert health(fake) == (503, {"status": "fail", "deployment": LIVE["id"], "error_rate": 0.05})
