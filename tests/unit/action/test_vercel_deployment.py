"""vercel_deployment: the action plugin as a task runs it, against the Vercel fake.

The fake's clock is frozen at NOW, and the plugin's Deployer is handed that clock and a sleep that moves
it on (the ``vercel`` fixture): builds pass QUEUED, BUILDING and READY at exact moments, and nothing
waits. Two tests keep the plugin's own clock and sleep, with builds of a tenth of a second.
"""
import functools

import pytest
import requests
from ansible.errors import AnsibleActionFail

from ansible_collections.runbook.ops.plugins.action import vercel_deployment
from ansible_collections.runbook.ops.plugins.module_utils._vercel_deploy import Deployer
from tests.fakes import SANDBOX_SEED, load_seed
from tests.fakes.vercel import BUILD_DEFAULTS, PROMOTE_QUEUE_S
from tests.unit.action.conftest import run

TOKEN = "sandboxVercelToken01"
SEED = load_seed(SANDBOX_SEED)["vercel"]
WEBAPP = next(p for p in SEED["projects"] if p["name"] == "webapp")
REFS = WEBAPP["git"]["refs"]
MAIN_SHA, BROKEN_SHA = REFS["main"], REFS["release/broken"]
DEPLOYMENTS = SEED["deployments"]
LIVE = DEPLOYMENTS[0]
LIVE_SHA = LIVE["meta"]["githubCommitSha"]
PREVIEW = DEPLOYMENTS[2]  # a READY preview of webapp
MARKETING_LIVE = DEPLOYMENTS[3]  # another project's
PREVIOUS_GOOD = DEPLOYMENTS[4]  # READY production of webapp, older than LIVE
DOMAINS = ["shop.example.com", "www.shop.example.com"]
NOW = 1_800_000_000  # epoch seconds, after every seeded deployment; whole, so steps of 0.5 s add up exactly
SCHEMA = "20261201093000"
BROKEN_MESSAGE = next(r for r in SEED["build_rules"] if BROKEN_SHA.startswith(r["sha"]))["error_message"]
# The gitSource of the project's link: Vercel's repoId wins over org and repo.
LINKED = {"type": "github", "repoId": WEBAPP["link"]["repoId"]}


@pytest.fixture
def vercel(fake, monkeypatch):
    """The Vercel fake, frozen at NOW; the plugin measures its time on that clock and each sleep moves it on."""
    fake.vercel.freeze_clock(NOW)
    monkeypatch.setattr(vercel_deployment, "Deployer",
                        functools.partial(Deployer, clock=fake.vercel.now, sleep=fake.vercel.advance_clock))
    return fake.vercel


@pytest.fixture
def running_clock(fake):
    """The Vercel fake's clock running from NOW, and the plugin on its own clock and sleep."""
    fake.vercel.freeze_clock(NOW)
    fake.vercel.unfreeze_clock()
    return fake.vercel


@pytest.fixture
def shown(monkeypatch):
    """Every line the plugin puts in the job log."""
    lines = []
    monkeypatch.setattr(vercel_deployment.display, "display", lambda message, *args, **kwargs: lines.append(message))
    return lines


def task_args(fake, **args):
    return {"token": TOKEN, "team": "acme", "api_url": fake.vercel_url, "project": "webapp", "domains": DOMAINS,
            "poll_interval": 0.5, **args}


def deploy(fake, args, check=False):
    """Run the task; whatever it returns, the token is never in it."""
    result = run(vercel_deployment, task_args(fake, **args), check=check)
    assert TOKEN not in result["_text"]
    return result


def serving(fake):
    return {a["alias"]: a["deploymentId"] for a in fake.vercel.state()["aliases"]}


def everywhere(deployment_id):
    return dict.fromkeys(DOMAINS, deployment_id)


def writes(fake):
    return [(r["method"], r["path"]) for r in fake.vercel.requests() if r["method"] != "GET"]


def creations(fake):
    return [r for r in fake.vercel.requests() if (r["method"], r["path"]) == ("POST", "/v13/deployments")]


def promotions(fake):
    return [r["path"] for r in fake.vercel.requests() if r["method"] == "POST" and "/promote/" in r["path"]]


def stored(fake, deployment_id):
    return next(d for d in fake.vercel.state()["deployments"] if d["id"] == deployment_id)


def new_deployments(fake):
    seeded = {d["id"] for d in DEPLOYMENTS}
    return [d for d in fake.vercel.state()["deployments"] if d["id"] not in seeded]


def set_project(fake, **changes):
    state = fake.vercel.state()
    next(p for p in state["projects"] if p["name"] == "webapp").update(changes)
    fake.vercel.load(state)


def start_build(fake, ref, sha):
    """A production build started outside the plugin, as an interrupted run leaves one."""
    source = {"type": "github", "org": "acme", "repo": "webapp", "ref": ref, "sha": sha}
    answer = requests.post(fake.vercel_url + "/v13/deployments", params={"slug": "acme"}, timeout=5,
                           headers={"Authorization": f"Bearer {TOKEN}"},
                           json={"name": "webapp", "target": "production", "gitSource": source})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def test_sandbox_preconditions():
    assert (LIVE["state"], LIVE["target"]) == ("READY", "production")
    assert (PREVIEW["state"], PREVIEW["target"]) == ("READY", None)
    assert (PREVIOUS_GOOD["state"], PREVIOUS_GOOD["target"]) == ("READY", "production")
    assert PREVIOUS_GOOD["created"] < LIVE["created"] < NOW * 1000
    assert MARKETING_LIVE["projectId"] != WEBAPP["id"]
    assert {a["alias"]: a["deploymentId"] for a in SEED["aliases"]} == everywhere(LIVE["id"])
    assert LIVE_SHA != MAIN_SHA


# ----- building from git -------------------------------------------------------------------------

def test_build_of_a_commit_goes_live(vercel, fake, shown):
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "schema_version": SCHEMA, "meta": {"ticket": "OPS-12"}})

    assert "failed" not in result, result["msg"]
    assert [creation["body"] for creation in creations(fake)] == [{
        "name": "webapp", "project": WEBAPP["id"], "target": "production",
        "gitSource": {**LINKED, "ref": "main", "sha": MAIN_SHA},
        "meta": {"ticket": "OPS-12", "runbookSchemaVersion": SCHEMA}}]
    new = result["deployment"]
    assert [d["id"] for d in new_deployments(fake)] == [new["id"]]
    assert stored(fake, new["id"])["state"] == "READY"
    assert stored(fake, new["id"])["meta"]["runbookSchemaVersion"] == SCHEMA
    assert serving(fake) == everywhere(new["id"])
    assert promotions(fake) == []  # Vercel moved the domains itself

    assert (result["changed"], result["created"], result["adopted"], result["promoted"], result["already_live"]) == (
        True, True, False, False, False)
    assert (new["state"], new["commit_sha"], new["target"], new["schema_version"]) == (
        "READY", MAIN_SHA, "production", SCHEMA)
    assert result["project"] == {"id": WEBAPP["id"], "name": "webapp"}
    assert (result["previous"]["id"], result["previous"]["commit_sha"]) == (LIVE["id"], LIVE_SHA)
    assert result["serving_before"] == everywhere(LIVE["id"]) and result["serving"] == everywhere(new["id"])
    assert result["git_source"] == {**LINKED, "ref": "main", "sha": MAIN_SHA}
    queued_s, build_s = BUILD_DEFAULTS["queued_s"], BUILD_DEFAULTS["build_s"]
    assert result["states"] == [{"state": "QUEUED", "after_s": 0}, {"state": "BUILDING", "after_s": int(queued_s)},
                                {"state": "READY", "after_s": int(queued_s + build_s)}]
    assert result["diff"] == {"before": {"serving": everywhere(LIVE["id"])},
                              "after": {"serving": everywhere(new["id"])}}

    assert all(line.startswith("vercel_deployment: ") for line in shown)
    assert any(f"created {new['id']} from main" in line for line in shown)
    for state in ("QUEUED", "BUILDING", "READY"):
        assert sum(f"{new['id']} {state} after" in line for line in shown) == 1
    assert not any(TOKEN in line for line in shown)


def test_without_commit_each_run_builds_the_newest_commit_of_the_ref(vercel, fake):
    first = deploy(fake, {"ref": "main"})
    second = deploy(fake, {"ref": "main"})

    assert [creation["body"]["gitSource"] for creation in creations(fake)] == [{**LINKED, "ref": "main"}] * 2
    assert "runbookSchemaVersion" not in creations(fake)[0]["body"]["meta"]
    assert first["deployment"]["commit_sha"] == second["deployment"]["commit_sha"] == MAIN_SHA
    assert first["deployment"]["id"] != second["deployment"]["id"] and second["changed"] is True
    assert second["previous"]["id"] == first["deployment"]["id"]
    assert serving(fake) == everywhere(second["deployment"]["id"])


def test_without_domains_the_production_target_counts(vercel, fake):
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "domains": []})

    new_id = result["deployment"]["id"]
    assert result["serving_before"] == {"(production)": LIVE["id"]} and result["previous"]["id"] == LIVE["id"]
    assert result["serving"] == {"(production)": new_id}
    assert serving(fake) == everywhere(new_id)


@pytest.mark.parametrize("commit", [LIVE_SHA, LIVE_SHA[:7], LIVE_SHA[:12].upper()])
def test_the_live_commit_is_not_built_again(vercel, fake, commit):
    result = deploy(fake, {"ref": "main", "commit": commit})

    assert (result["changed"], result["already_live"], result["created"]) == (False, True, False)
    assert result["deployment"]["id"] == result["previous"]["id"] == LIVE["id"]
    assert result["serving"] == result["serving_before"] == everywhere(LIVE["id"])
    assert "diff" not in result
    assert writes(fake) == [] and serving(fake) == everywhere(LIVE["id"])


def test_a_second_run_of_the_built_commit_changes_nothing(vercel, fake):
    first = deploy(fake, {"ref": "main", "commit": MAIN_SHA})
    fake.vercel.clear_requests()
    again = deploy(fake, {"ref": "main", "commit": MAIN_SHA[:8]})

    assert (again["changed"], again["already_live"]) == (False, True)
    assert again["deployment"]["id"] == first["deployment"]["id"]
    assert writes(fake) == [] and len(new_deployments(fake)) == 1


# A READY one that served once, and one stuck BUILDING since before the live one was made.
@pytest.mark.parametrize("older", [PREVIOUS_GOOD, DEPLOYMENTS[8]], ids=["READY", "BUILDING"])
def test_a_production_build_of_the_commit_older_than_the_live_one_is_not_taken_over(vercel, fake, older):
    older_sha = older["meta"]["githubCommitSha"]
    result = deploy(fake, {"ref": "main", "commit": older_sha})

    assert (older["target"], older["created"] < LIVE["created"]) == ("production", True)
    assert (result["created"], result["adopted"]) == (True, False)
    assert result["deployment"]["id"] != older["id"] and result["deployment"]["commit_sha"] == older_sha
    assert serving(fake) == everywhere(result["deployment"]["id"])


@pytest.mark.parametrize("options, source", [
    ({"repository": "acme/webapp"}, {"type": "github", "org": "acme", "repo": "webapp"}),
    ({"repository": "acme/webapp", "git_provider": "github"}, {"type": "github", "org": "acme", "repo": "webapp"}),
])
def test_a_repository_given_is_built_from(vercel, fake, options, source):
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, **options})

    assert "failed" not in result, result["msg"]
    assert [c["body"]["gitSource"] for c in creations(fake)] == [{**source, "ref": "main", "sha": MAIN_SHA}]
    assert serving(fake) == everywhere(result["deployment"]["id"])


@pytest.mark.parametrize("options, complaint", [
    ({"repository": "webapp"}, "repository must be owner/name, not 'webapp'."),
    ({"repository": "acme/web/app"}, "repository must be owner/name, not 'acme/web/app'."),
    ({"git_provider": "gitlab"}, "The project has no linked GitLab repository: give repository"),
    ({"git_provider": "bitbucket"}, "The project webapp has no linked git repository that Vercel reports"),
])
def test_a_repository_that_cannot_be_named_is_refused(vercel, fake, options, complaint):
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, **options})

    assert result["failed"] is True and complaint in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert writes(fake) == []


def test_a_commit_vercel_does_not_know_fails_with_its_answer(vercel, fake):
    result = deploy(fake, {"ref": "main", "commit": "0" * 40})

    assert result["failed"] is True
    assert (result["status"], result["api_error"]["code"]) == (400, "incorrect_git_source_info")
    assert result["msg"].startswith(f"Vercel API: POST {fake.vercel_url}/v13/deployments answered 400")
    assert new_deployments(fake) == [] and serving(fake) == everywhere(LIVE["id"])


def test_the_first_deployment_of_a_project_that_serves_nothing(vercel, fake):
    state = fake.vercel.state()
    state["aliases"] = []
    fake.vercel.load(state)
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert "failed" not in result, result["msg"]
    assert result["previous"] is None and result["serving_before"] == everywhere(None)
    assert result["created"] is True and serving(fake) == everywhere(result["deployment"]["id"])


# ----- an interrupted run ------------------------------------------------------------------------

def test_a_run_that_timed_out_leaves_its_build_to_the_next_run(vercel, fake, shown):
    fake.vercel.add_build_rules([{"ref": "main", "queued_s": 0, "build_s": 30}])
    stopped = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "wait_timeout": 5, "poll_interval": 1})
    assert stopped["failed"] is True and serving(fake) == everywhere(LIVE["id"])
    building_id = stopped["deployment"]["id"]
    fake.vercel.clear_requests()
    shown.clear()

    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA[:10], "poll_interval": 2})

    assert "failed" not in result, result["msg"]
    assert (result["adopted"], result["created"]) == (True, False)
    assert creations(fake) == [] and [d["id"] for d in new_deployments(fake)] == [building_id]
    assert result["deployment"]["id"] == building_id and result["deployment"]["state"] == "READY"
    assert serving(fake) == everywhere(building_id) and result["serving"] == everywhere(building_id)
    assert result["states"][0]["state"] == "BUILDING" and result["states"][-1]["state"] == "READY"
    assert any(f"taking over {building_id}" in line for line in shown)


def test_a_ready_staged_build_of_the_commit_is_taken_over_and_promoted(vercel, fake):
    set_project(fake, autoAssignCustomDomains=False)
    staged_id = start_build(fake, "main", MAIN_SHA)
    fake.vercel.advance_clock(5)
    assert stored(fake, staged_id)["state"] == "READY" and serving(fake) == everywhere(LIVE["id"])
    fake.vercel.clear_requests()

    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert "failed" not in result, result["msg"]
    assert (result["adopted"], result["created"], result["promoted"]) == (True, False, True)
    assert result["states"] == []  # READY already: nothing to wait for
    assert creations(fake) == [] and promotions(fake) == [f"/v10/projects/{WEBAPP['id']}/promote/{staged_id}"]
    assert serving(fake) == everywhere(staged_id) and result["serving"] == everywhere(staged_id)


def test_a_failed_build_of_the_commit_is_not_taken_over(vercel, fake):
    fake.vercel.add_build_rules([{"sha": MAIN_SHA[:12], "outcome": "ERROR"}])
    failed_id = start_build(fake, "main", MAIN_SHA)
    fake.vercel.advance_clock(5)
    fake.vercel.clear_build_rules()
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert stored(fake, failed_id)["state"] == "ERROR"
    assert (result["adopted"], result["created"]) == (False, True) and result["deployment"]["id"] != failed_id
    assert serving(fake) == everywhere(result["deployment"]["id"])


def test_a_build_rolled_back_from_is_not_taken_over_but_built_afresh(vercel, fake):
    rolled_back = requests.post(f"{fake.vercel_url}/v9/projects/webapp/rollback/{PREVIOUS_GOOD['id']}", json={},
                                params={"slug": "acme"}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert rolled_back.status_code == 201 and serving(fake) == everywhere(PREVIOUS_GOOD["id"])
    fake.vercel.clear_requests()
    result = deploy(fake, {"ref": "main", "commit": LIVE_SHA})

    assert "failed" not in result, result["msg"]
    assert result["previous"]["id"] == PREVIOUS_GOOD["id"]
    assert (result["adopted"], result["created"]) == (False, True)
    new = result["deployment"]
    assert new["id"] != LIVE["id"] and new["commit_sha"] == LIVE_SHA
    assert len(creations(fake)) == 1 and serving(fake) == everywhere(new["id"])


def test_taking_over_a_build_that_then_goes_live_is_a_change(vercel, fake):
    start_build(fake, "main", MAIN_SHA)
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert result["adopted"] is True and result["serving"] != result["serving_before"]
    assert result["changed"] is True and "diff" in result


def test_check_mode_reports_that_a_left_build_would_go_live(vercel, fake):
    start_build(fake, "main", MAIN_SHA)
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA}, check=True)

    assert writes(fake) == [("POST", "/v13/deployments")]  # the earlier run's, not this one's
    assert result["adopted"] is True and result["changed"] is True


# ----- builds that do not finish well ------------------------------------------------------------

def test_a_failed_build_fails_with_vercels_reason_and_moves_nothing(vercel, fake):
    result = deploy(fake, {"ref": "release/broken", "commit": BROKEN_SHA})

    assert result["failed"] is True
    failed = result["deployment"]
    assert failed["state"] == "ERROR" and stored(fake, failed["id"])["state"] == "ERROR"
    assert BROKEN_MESSAGE in result["msg"] and failed["inspector_url"] in result["msg"]
    assert failed["inspector_url"].startswith("https://vercel.com/acme/webapp/")
    assert f"The deployment {failed['id']} ended ERROR" in result["msg"]
    assert "Production was not changed" in result["msg"]
    assert result["created"] is True and result["states"][-1]["state"] == "ERROR"
    assert serving(fake) == everywhere(LIVE["id"]) and result["serving"] == everywhere(LIVE["id"])
    assert writes(fake) == [("POST", "/v13/deployments")]


def test_a_failed_builds_message_reads_as_one_sentence_each(vercel, fake):
    result = deploy(fake, {"ref": "release/broken", "commit": BROKEN_SHA})
    assert result["failed"] is True and ".." not in result["msg"]


def test_a_canceled_build_fails_without_a_reason_from_vercel(vercel, fake):
    fake.vercel.add_build_rules([{"ref": "main", "outcome": "CANCELED"}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert result["failed"] is True and result["deployment"]["state"] == "CANCELED"
    assert f"The deployment {result['deployment']['id']} ended CANCELED: Vercel gave no reason" in result["msg"]
    assert serving(fake) == everywhere(LIVE["id"]) and promotions(fake) == []


def test_a_build_still_running_at_the_timeout_fails_and_changes_nothing_else(vercel, fake):
    fake.vercel.add_build_rules([{"ref": "main", "queued_s": 0, "build_s": 600}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "wait_timeout": 3, "poll_interval": 1})

    assert result["failed"] is True
    building = result["deployment"]
    assert result["msg"].startswith(f"The deployment {building['id']} is still BUILDING after 3 s.")
    assert building["inspector_url"] in result["msg"]
    assert building["state"] == "BUILDING" and stored(fake, building["id"])["state"] == "BUILDING"
    assert result["states"] == [{"state": "BUILDING", "after_s": 0}]
    assert serving(fake) == everywhere(LIVE["id"]) and result["serving"] == everywhere(LIVE["id"])
    assert writes(fake) == [("POST", "/v13/deployments")]


def test_a_long_build_is_reported_every_half_minute(vercel, fake, shown):
    fake.vercel.add_build_rules([{"ref": "main", "queued_s": 0, "build_s": 70}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "poll_interval": 5})

    assert [(s["state"], s["after_s"]) for s in result["states"]] == [
        ("BUILDING", 0), ("BUILDING", 30), ("BUILDING", 60), ("READY", 70)]
    assert sum(" BUILDING after " in line for line in shown) == 3


def test_with_the_plugins_own_clock_a_build_goes_live(running_clock, fake, shown):
    fake.vercel.add_build_rules([{"ref": "main", "queued_s": 0.05, "build_s": 0.1}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "poll_interval": 0.05})

    assert "failed" not in result, result["msg"]
    assert result["states"][-1]["state"] == "READY"
    assert serving(fake) == everywhere(result["deployment"]["id"]) and len(creations(fake)) == 1
    assert any(" READY after " in line for line in shown)


def test_with_the_plugins_own_clock_a_build_times_out(running_clock, fake):
    fake.vercel.add_build_rules([{"ref": "main", "queued_s": 0, "build_s": 600}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "wait_timeout": 0.3, "poll_interval": 0.05})

    assert result["failed"] is True and "is still BUILDING after 0.3 s" in result["msg"]
    assert serving(fake) == everywhere(LIVE["id"]) and writes(fake) == [("POST", "/v13/deployments")]


# ----- projects that stage production builds -----------------------------------------------------

def test_a_staged_build_is_promoted(vercel, fake, shown):
    set_project(fake, autoAssignCustomDomains=False)
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert "failed" not in result, result["msg"]
    new_id = result["deployment"]["id"]
    assert (result["created"], result["promoted"], result["changed"]) == (True, True, True)
    assert promotions(fake) == [f"/v10/projects/{WEBAPP['id']}/promote/{new_id}"]
    assert serving(fake) == everywhere(new_id) and result["serving"] == everywhere(new_id)
    assert any(f"promoting {new_id} to production" in line for line in shown)


@pytest.mark.parametrize("queued", [True, 5])
def test_a_queued_promotion_is_waited_for(vercel, fake, shown, queued):
    set_project(fake, autoAssignCustomDomains=False, promoteQueued=queued)
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert "failed" not in result, result["msg"]
    new_id = result["deployment"]["id"]
    assert result["promoted"] is True and len(promotions(fake)) == 1
    assert serving(fake) == everywhere(new_id) and result["serving"] == everywhere(new_id)
    assert any("queued the promotion" in line for line in shown)


def test_a_promotion_still_queued_at_the_timeout_fails_and_says_what_serves(vercel, fake):
    set_project(fake, autoAssignCustomDomains=False, promoteQueued=600)
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "wait_timeout": 10})

    assert result["failed"] is True
    new_id = result["deployment"]["id"]
    assert result["msg"].startswith(f"The deployment {new_id} is READY, but after 10 s the domains "
                                    f"serve {everywhere(LIVE['id'])}.")
    assert (result["promoted"], result["deployment"]["state"]) == (True, "READY")
    assert serving(fake) == everywhere(LIVE["id"]) and len(promotions(fake)) == 1


def test_a_domain_that_never_serves_the_build_fails_the_task(vercel, fake):
    typo = "shpo.example.com"
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "domains": [*DOMAINS, typo], "wait_timeout": 10})

    assert result["failed"] is True and result["serving_before"][typo] is None
    new_id = result["deployment"]["id"]
    assert f"'{typo}': None" in result["msg"] and serving(fake) == everywhere(new_id)


def test_a_promotion_vercel_refused_as_done_is_not_reported_as_this_tasks(vercel, fake):
    typo = "shpo.example.com"
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "domains": [*DOMAINS, typo], "wait_timeout": 10})

    assert result["failed"] is True and promotions(fake)  # answered 409: Vercel had moved the domains itself
    assert result["promoted"] is False and "was promoted" not in result["msg"]


# ----- putting a deployment that exists live -----------------------------------------------------

def test_a_ready_production_deployment_is_promoted(vercel, fake, shown):
    result = deploy(fake, {"deployment": PREVIOUS_GOOD["id"]})

    assert "failed" not in result, result["msg"]
    assert (result["changed"], result["promoted"], result["created"]) == (True, True, False)
    assert result["source_deployment"]["id"] == result["deployment"]["id"] == PREVIOUS_GOOD["id"]
    assert writes(fake) == [("POST", f"/v10/projects/{WEBAPP['id']}/promote/{PREVIOUS_GOOD['id']}")]
    assert serving(fake) == everywhere(PREVIOUS_GOOD["id"]) and result["serving"] == everywhere(PREVIOUS_GOOD["id"])
    assert result["diff"]["after"] == {"serving": everywhere(PREVIOUS_GOOD["id"])}


@pytest.mark.parametrize("named", [LIVE["id"], "https://" + LIVE["url"] + "/"])
def test_the_live_deployment_changes_nothing(vercel, fake, named):
    result = deploy(fake, {"deployment": named})

    assert (result["changed"], result["already_live"]) == (False, True)
    assert result["deployment"]["id"] == LIVE["id"] and writes(fake) == []


def test_a_preview_is_rebuilt_for_production_then_goes_live(vercel, fake):
    result = deploy(fake, {"deployment": PREVIEW["id"], "schema_version": SCHEMA})

    assert "failed" not in result, result["msg"]
    assert [creation["body"] for creation in creations(fake)] == [{
        "deploymentId": PREVIEW["id"], "name": "webapp", "project": WEBAPP["id"], "target": "production",
        "meta": {"runbookSchemaVersion": SCHEMA, "action": "promote"}}]
    new = result["deployment"]
    assert new["id"] != PREVIEW["id"] and [d["id"] for d in new_deployments(fake)] == [new["id"]]
    assert (new["target"], new["commit_sha"], new["state"]) == (
        "production", PREVIEW["meta"]["githubCommitSha"], "READY")
    assert (result["created"], result["changed"], result["source_deployment"]["id"]) == (True, True, PREVIEW["id"])
    assert serving(fake) == everywhere(new["id"]) and result["serving"] == everywhere(new["id"])
    assert stored(fake, PREVIEW["id"])["target"] is None


def test_a_preview_put_live_twice_is_built_once(vercel, fake):
    first = deploy(fake, {"deployment": PREVIEW["id"]})
    assert serving(fake) == everywhere(first["deployment"]["id"])
    again = deploy(fake, {"deployment": PREVIEW["id"]})

    assert len(creations(fake)) == 1
    assert (again["changed"], again["already_live"]) == (False, True)


@pytest.mark.parametrize("named, state", [(DEPLOYMENTS[1]["id"], "ERROR"), (DEPLOYMENTS[5]["id"], "CANCELED"),
                                          (DEPLOYMENTS[8]["id"], "BUILDING"), (DEPLOYMENTS[10]["id"], "QUEUED")])
def test_a_deployment_that_is_not_ready_is_refused(vercel, fake, named, state):
    result = deploy(fake, {"deployment": named})

    assert result["failed"] is True
    assert result["msg"] == (f"The deployment {named} is {state}, not READY: only a READY deployment can go live. "
                             "Nothing was changed.")
    assert writes(fake) == [] and serving(fake) == everywhere(LIVE["id"])


@pytest.mark.parametrize("named, words", [
    (MARKETING_LIVE["id"], f"The deployment {MARKETING_LIVE['id']} belongs to another project than webapp."),
    ("dpl_doesnotexist", "Vercel knows no deployment 'dpl_doesnotexist' in this team."),
])
def test_a_deployment_of_another_project_or_none_is_refused(vercel, fake, named, words):
    result = deploy(fake, {"deployment": named})

    assert result["failed"] is True and result["msg"] == f"{words} Nothing was changed."
    assert writes(fake) == [] and serving(fake) == everywhere(LIVE["id"])


# ----- check mode --------------------------------------------------------------------------------

def test_check_mode_plans_a_build_and_writes_nothing(vercel, fake):
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA, "schema_version": SCHEMA}, check=True)

    assert (result["changed"], result["created"], result["deployment"]) == (True, False, None)
    assert result["git_source"] == {**LINKED, "ref": "main", "sha": MAIN_SHA}
    assert result["previous"]["id"] == LIVE["id"]
    assert result["diff"] == {"before": {"serving": everywhere(LIVE["id"])},
                              "after": {"serving": everywhere("(new deployment)")}}
    assert writes(fake) == [] and new_deployments(fake) == [] and serving(fake) == everywhere(LIVE["id"])


def test_check_mode_with_the_live_commit_changes_nothing(vercel, fake):
    result = deploy(fake, {"ref": "main", "commit": LIVE_SHA[:7]}, check=True)

    assert (result["changed"], result["already_live"]) == (False, True) and writes(fake) == []


def test_check_mode_plans_a_promotion_and_writes_nothing(vercel, fake):
    result = deploy(fake, {"deployment": PREVIOUS_GOOD["id"]}, check=True)

    assert (result["changed"], result["promoted"], result["deployment"]["id"]) == (True, False, PREVIOUS_GOOD["id"])
    assert result["diff"]["after"] == {"serving": everywhere(PREVIOUS_GOOD["id"])}
    assert writes(fake) == [] and serving(fake) == everywhere(LIVE["id"])


def test_check_mode_for_a_preview_writes_nothing(vercel, fake):
    result = deploy(fake, {"deployment": PREVIEW["id"]}, check=True)

    assert result["changed"] is True and writes(fake) == [] and new_deployments(fake) == []


def test_check_mode_for_a_preview_says_a_new_deployment_would_serve(vercel, fake):
    result = deploy(fake, {"deployment": PREVIEW["id"]}, check=True)

    assert result["deployment"] is None
    assert result["diff"]["after"] == {"serving": everywhere("(new deployment)")}


# ----- arguments refused before any request ------------------------------------------------------

@pytest.mark.parametrize("args, complaint", [
    ({"ref": "main", "commit": "xyz1234"}, "commit must be a git SHA of 7 to 40 hexadecimal digits, not 'xyz1234'."),
    ({"ref": "main", "commit": "bef543f"[:6]}, "commit must be a git SHA of 7 to 40 hexadecimal digits"),
    ({"ref": "main", "commit": MAIN_SHA + "0"}, "commit must be a git SHA of 7 to 40 hexadecimal digits"),
    ({"ref": "main", "meta": {"build": {"number": 7}}}, "meta values must be strings"),
    ({"ref": "main", "meta": {"canary": True}}, "meta values must be strings"),
    ({"ref": "main", "meta": {"owners": ["alice"]}}, "meta values must be strings"),
    ({"ref": "main", "meta": {"note": None}}, "meta values must be strings"),
    ({"ref": "main", "wait_timeout": 0}, "wait_timeout and poll_interval must be more than 0."),
    ({"ref": "main", "poll_interval": -1}, "wait_timeout and poll_interval must be more than 0."),
])
def test_bad_values_are_refused_before_any_request(fake, args, complaint):
    result = deploy(fake, args)

    assert result["failed"] is True and complaint in result["msg"]
    assert fake.vercel.requests() == []


def test_a_number_in_meta_is_refused_rather_than_recorded_otherwise(fake):
    result = deploy(fake, {"ref": "main", "meta": {"release": 2.10}}, check=True)

    assert result.get("failed") is True and "meta values must be strings" in result["msg"]


@pytest.mark.parametrize("args, complaint", [
    ({"deployment": PREVIEW["id"], "ref": "main"}, "mutually exclusive: deployment|ref"),
    ({"deployment": PREVIEW["id"], "commit": MAIN_SHA}, "mutually exclusive: deployment|commit"),
    ({"commit": MAIN_SHA}, "one of the following is required: deployment, ref"),
    ({}, "one of the following is required: deployment, ref"),
])
def test_bad_combinations_are_refused_before_any_request(fake, args, complaint):
    with pytest.raises(AnsibleActionFail) as caught:
        deploy(fake, args)

    assert complaint in str(caught.value) and TOKEN not in str(caught.value)
    assert fake.vercel.requests() == []


# ----- failures of the API, and the token --------------------------------------------------------

def test_an_api_failure_while_waiting_names_the_deployment_that_exists(vercel, fake):
    # Any deployment GET but the live one's, read before the build starts.
    fake.vercel.add_faults([{"action": "status", "status": 500, "method": "GET",
                             "path": f"^/v13/deployments/(?!{LIVE['id']}$)"}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert result["failed"] is True
    [created] = new_deployments(fake)
    assert result["deployment"]["id"] == created["id"] and result["created"] is True
    assert (result["service"], result["method"], result["status"]) == ("Vercel API", "GET", 500)
    assert result["path"] == f"/v13/deployments/{created['id']}"
    assert result["api_error"]["code"] == "internal_server_error"
    assert result["msg"].startswith(f"Vercel API: GET {fake.vercel_url}/v13/deployments/{created['id']} answered 500")
    assert f"The deployment {created['id']} exists; production serves" in result["msg"]
    assert serving(fake) == everywhere(LIVE["id"]) and result["serving"] == everywhere(LIVE["id"])
    assert writes(fake) == [("POST", "/v13/deployments")]


def test_an_api_failure_after_the_promotion_does_not_say_production_is_unchanged(fake, monkeypatch):
    fake.vercel.freeze_clock(NOW)
    set_project(fake, autoAssignCustomDomains=False, promoteQueued=True)
    armed = []

    def sleep(seconds):
        # Once the promotion is sent, the next look at the domains fails.
        if promotions(fake) and not armed:
            armed.append(True)
            fake.vercel.add_faults([{"action": "status", "status": 500, "method": "GET", "path": "^/v4/aliases/"}])
        fake.vercel.advance_clock(seconds)

    monkeypatch.setattr(vercel_deployment, "Deployer", functools.partial(Deployer, clock=fake.vercel.now, sleep=sleep))
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert result["failed"] is True and result["status"] == 500 and result["promoted"] is True
    fake.vercel.advance_clock(PROMOTE_QUEUE_S)
    assert serving(fake) == everywhere(result["deployment"]["id"])  # the queued promotion went on
    # What the domains served when the task stopped, and that the promotion may still complete.
    assert "The promotion was sent; Vercel may still complete it." in result["msg"]


def test_an_api_failure_before_the_build_creates_nothing(vercel, fake):
    fake.vercel.add_faults([{"action": "status", "status": 500, "method": "GET", "path": "^/v6/deployments$"}])
    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert result["failed"] is True and (result["status"], result["path"]) == (500, "/v6/deployments")
    assert writes(fake) == [] and new_deployments(fake) == []


def test_the_token_may_come_from_the_environment(vercel, fake, monkeypatch, shown):
    monkeypatch.setenv("VERCEL_TOKEN", TOKEN)
    args = {k: v for k, v in task_args(fake, ref="main", commit=MAIN_SHA).items() if k != "token"}
    result = run(vercel_deployment, args)

    assert "failed" not in result, result["msg"]
    assert serving(fake) == everywhere(result["deployment"]["id"])
    assert TOKEN not in result["_text"] and not any(TOKEN in line for line in shown)
    assert all(r["headers"]["Authorization"] == "<redacted>" for r in fake.vercel.requests())


def test_a_refused_token_is_never_shown(vercel, fake, monkeypatch, shown):
    refused = "vercelTokenThatIsNotKnown0042"
    monkeypatch.setenv("VERCEL_TOKEN", refused)
    args = {k: v for k, v in task_args(fake, ref="main", commit=MAIN_SHA).items() if k != "token"}
    result = run(vercel_deployment, args)

    assert result["failed"] is True and result["status"] == 403 and "forbidden" in result["msg"]
    assert refused not in result["_text"] and not any(refused in line for line in shown)
    assert writes(fake) == []


def test_no_token_at_all_is_said_plainly(fake, monkeypatch):
    monkeypatch.delenv("VERCEL_TOKEN", raising=False)
    args = {k: v for k, v in task_args(fake, ref="main").items() if k != "token"}
    result = run(vercel_deployment, args)

    assert result["failed"] is True and result["msg"].startswith("No Vercel token: set the environment variable")
    assert fake.vercel.requests() == []


# ----- what production serves is every domain ----------------------------------------------------

def test_the_live_commit_counts_only_when_every_domain_serves_it(vercel, fake):
    state = fake.vercel.state()
    next(a for a in state["aliases"] if a["alias"] == DOMAINS[1])["deploymentId"] = PREVIOUS_GOOD["id"]
    fake.vercel.load(state)
    result = deploy(fake, {"ref": "main", "commit": LIVE_SHA})

    # Either every domain serves the commit at the end, or the task says they do not.
    assert result.get("failed") or set(serving(fake).values()) == {LIVE["id"]}


def test_another_production_build_on_its_way_is_refused_before_anything(vercel, fake):
    # A build of another commit, started by hand or by a push, is still running.
    fake.vercel.add_build_rules([{"sha": BROKEN_SHA, "queued_s": 60, "build_s": 60, "outcome": "READY"}])
    running = deploy(fake, {"ref": "release/broken", "commit": BROKEN_SHA, "wait_timeout": 1})
    assert running["failed"] is True and "still QUEUED" in running["msg"]
    fake.vercel.clear_requests()

    result = deploy(fake, {"ref": "main", "commit": MAIN_SHA})

    assert result["failed"] is True
    assert f"The production build {running['deployment']['id']}" in result["msg"]
    assert "Vercel would put it live by itself after this deploy" in result["msg"]
    assert writes(fake) == [] and serving(fake) == everywhere(LIVE["id"])
