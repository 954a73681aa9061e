"""The Vercel modules' real main(), run in-process against the fakes, the JSON result read from stdout.

slack_message, run_lock and audit_record are action plugins: see tests/unit/action/test_actions.py.
"""

from types import SimpleNamespace

import pytest

from ansible_collections.runbook.ops.plugins.modules import vercel_alias, vercel_deployment_info
from tests.fakes import SANDBOX_SEED, load_seed

TOKEN = "sandboxVercelToken01"
SEED = load_seed(SANDBOX_SEED)
DEPLOYMENTS = SEED["vercel"]["deployments"]
WEBAPP = [d for d in DEPLOYMENTS if d["projectId"] == "prj_webapp01"]
WEBAPP_PRODUCTION = [d for d in WEBAPP if d.get("target") == "production"]
LIVE = DEPLOYMENTS[0]
# Newest READY production deployment of webapp older than LIVE; skips an ERROR, a preview and another project's.
PREVIOUS_GOOD = next(d for d in WEBAPP[1:] if d["state"] == "READY" and d.get("target") == "production")
DOMAINS = ["shop.example.com", "www.shop.example.com"]


def vercel_args(fake, **args):
    return {"token": TOKEN, "team": "acme", "api_url": fake.vercel_url, **args}


def posts(fake):
    return [r for r in fake.vercel.requests() if r["method"] == "POST"]


def aliases(fake):
    return {a["alias"]: a["deploymentId"] for a in fake.vercel.state()["aliases"]}


# ----- vercel_deployment_info ------------------------------------------------------------------

def test_sandbox_preconditions():
    assert PREVIOUS_GOOD is DEPLOYMENTS[4]
    skipped = DEPLOYMENTS[1:4]
    assert [d["state"] for d in skipped][0] == "ERROR" and skipped[1]["target"] is None
    assert skipped[2]["projectId"] != "prj_webapp01"


@pytest.mark.parametrize("target", ["production", "any"])
def test_info_finds_current_and_previous(fake, run, target):
    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", domains=DOMAINS, target=target))
    assert result["changed"] is False and "failed" not in result
    assert result["project"] == {"id": "prj_webapp01", "name": "webapp"}
    assert result["current"]["id"] == LIVE["id"]
    assert result["previous"]["id"] == PREVIOUS_GOOD["id"]
    assert result["previous"]["state"] == "READY" and result["previous"]["target"] == "production"
    assert result["serving"] == {domain: LIVE["id"] for domain in DOMAINS}
    assert result["domains_disagree"] is False
    assert result["deployments"][0]["id"] == LIVE["id"] and result["pages_read"] == 1
    assert TOKEN not in result["_stdout"]


def test_info_reads_more_pages_when_the_limit_needs_them(fake, run):
    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", limit=5, page_size=2))
    assert [d["id"] for d in result["deployments"]] == [d["id"] for d in WEBAPP_PRODUCTION[:5]]
    assert result["previous"]["id"] == PREVIOUS_GOOD["id"]
    listings = [r for r in fake.vercel.requests() if r["path"] == "/v6/deployments"]
    assert result["pages_read"] == len(listings) == 3
    assert [r["query"].get("until") for r in listings] == [
        None, str(WEBAPP_PRODUCTION[1]["created"]), str(WEBAPP_PRODUCTION[3]["created"])]


def test_info_reports_domains_that_disagree(fake, run):
    run(vercel_alias, vercel_args(fake, deployment=PREVIOUS_GOOD["id"], domains=DOMAINS[1:]))
    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", domains=DOMAINS))
    assert result["domains_disagree"] is True
    assert result["serving"] == {DOMAINS[0]: LIVE["id"], DOMAINS[1]: PREVIOUS_GOOD["id"]}


def test_info_explicit_deployment_by_url(fake, run):
    result = run(vercel_deployment_info,
                 vercel_args(fake, project="webapp", deployment=f"https://{PREVIOUS_GOOD['url']}/"))
    assert result["deployment"]["id"] == PREVIOUS_GOOD["id"]
    assert result["deployment"]["url"] == PREVIOUS_GOOD["url"]


def test_info_takes_token_url_and_team_from_the_environment(fake, run, monkeypatch):
    monkeypatch.setenv("VERCEL_TOKEN", TOKEN)
    monkeypatch.setenv("VERCEL_API_URL", fake.vercel_url)
    monkeypatch.setenv("VERCEL_ORG_ID", "team_sandbox01")
    result = run(vercel_deployment_info, {"project": "webapp"})
    # Without domains, production is what the project's production target says.
    assert result["current"]["id"] == LIVE["id"] and result["previous"]["id"] == PREVIOUS_GOOD["id"]
    sent = fake.vercel.requests()
    assert sent and all(r["query"].get("teamId") == "team_sandbox01" and r["authorized"] for r in sent)
    assert TOKEN not in result["_stdout"]


def test_info_failure_names_the_request_and_hides_the_token(fake, run):
    result = run(vercel_deployment_info, vercel_args(fake, token="sandbox-outsider-token", project="webapp"))
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"Vercel API: GET {fake.vercel_url}/v9/projects/webapp answered 403 (forbidden: Not authorized).")
    assert (result["status"], result["api_error"]["code"]) == (403, "forbidden")
    assert "sandbox-outsider-token" not in result["_stdout"]


def test_info_refuses_bad_limits_before_any_request(fake, run):
    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", page_size=101))
    assert result["failed"] is True and "page_size" in result["msg"]
    assert fake.vercel.requests() == []


def test_info_since_hours_lists_only_the_recent_deployments(fake, run, monkeypatch):
    # "Now" is an hour after the live deployment: 24 hours back leaves the older ones out.
    now = LIVE["created"] / 1000 + 3600
    monkeypatch.setattr(vercel_deployment_info, "time", SimpleNamespace(time=lambda: now))
    since = int((now - 24 * 3600) * 1000)

    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", domains=DOMAINS, since_hours=24,
                                                     limit=100))

    recent = [d["id"] for d in WEBAPP_PRODUCTION if d["created"] > since]
    assert [d["id"] for d in result["deployments"]] == recent and 0 < len(recent) < len(WEBAPP_PRODUCTION)
    listings = [r for r in fake.vercel.requests() if r["path"] == "/v6/deployments"]
    assert listings and all(r["query"]["since"] == str(since) for r in listings)
    # The live deployment is in the window; the one to roll back to is older than it.
    assert result["current"]["id"] == LIVE["id"] and result["previous"] is None


def test_info_without_since_hours_sends_no_since(fake, run):
    run(vercel_deployment_info, vercel_args(fake, project="webapp"))
    assert all("since" not in r["query"] for r in fake.vercel.requests())


def test_info_refuses_a_window_of_no_hours_before_any_request(fake, run):
    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", since_hours=0))
    assert result["failed"] is True and result["msg"] == "since_hours must be more than 0, not 0."
    assert fake.vercel.requests() == []


def test_info_names_each_deployments_repository_and_why_a_build_failed(fake, run):
    result = run(vercel_deployment_info, vercel_args(fake, project="webapp", target="any", limit=100))
    listed = {d["id"]: d for d in result["deployments"]}
    for seeded in WEBAPP:
        if seeded["id"] not in listed:
            continue
        meta = seeded.get("meta") or {}
        repo = f"{meta['githubCommitOrg']}/{meta['githubCommitRepo']}" if "githubCommitOrg" in meta else None
        assert listed[seeded["id"]]["commit_repo"] == repo
    failed = [d for d in result["deployments"] if d["state"] == "ERROR"]
    assert failed and all(d["error_message"] for d in failed)
    assert all(d["error_message"] is None for d in result["deployments"] if d["state"] == "READY")
    assert listed[LIVE["id"]]["commit_repo"] == "acme/webapp"


# ----- vercel_alias --------------------------------------------------------------------------

def alias_args(fake, deployment=PREVIOUS_GOOD["id"], domains=None, **options):
    return vercel_args(fake, deployment=deployment, project="webapp", domains=DOMAINS if domains is None else domains,
                       **options)


def test_alias_check_mode_changes_nothing(fake, run):
    result = run(vercel_alias, alias_args(fake), check=True, diff=True)
    assert result["changed"] is True
    assert result["domains"] == [{"domain": d, "before": LIVE["id"], "after": PREVIOUS_GOOD["id"], "changed": True}
                                 for d in DOMAINS]
    assert posts(fake) == [] and aliases(fake) == {d: LIVE["id"] for d in DOMAINS}


def test_alias_moves_both_domains_then_is_idempotent(fake, run):
    first = run(vercel_alias, alias_args(fake), diff=True)
    assert first["changed"] is True and first["deployment"]["id"] == PREVIOUS_GOOD["id"]
    assert first["diff"] == {"before": {d: LIVE["id"] for d in DOMAINS},
                             "after": {d: PREVIOUS_GOOD["id"] for d in DOMAINS}}
    assert aliases(fake) == {d: PREVIOUS_GOOD["id"] for d in DOMAINS}
    assert len(posts(fake)) == 2
    assert TOKEN not in first["_stdout"]

    fake.vercel.clear_requests()
    second = run(vercel_alias, alias_args(fake), diff=True)
    assert second["changed"] is False and posts(fake) == []
    assert [d["changed"] for d in second["domains"]] == [False, False]
    assert second["diff"]["before"] == second["diff"]["after"] == {d: PREVIOUS_GOOD["id"] for d in DOMAINS}


def test_alias_moves_only_the_domains_that_need_it(fake, run):
    run(vercel_alias, alias_args(fake, domains=DOMAINS[:1]))
    fake.vercel.clear_requests()
    result = run(vercel_alias, alias_args(fake))
    assert [d["changed"] for d in result["domains"]] == [False, True]
    assert [r["body"]["alias"] for r in posts(fake)] == [DOMAINS[1]]


@pytest.mark.parametrize("deployment, reason", [
    (next(d for d in WEBAPP if d["state"] == "BUILDING"), "is BUILDING, not READY"),
    (DEPLOYMENTS[1], "is ERROR, not READY"),
    (DEPLOYMENTS[3], "belongs to project prj_other01, not to prj_webapp01"),
])
def test_alias_refuses_an_unfit_deployment_and_changes_nothing(fake, run, deployment, reason):
    result = run(vercel_alias, alias_args(fake, deployment=deployment["id"]))
    assert result["failed"] is True and reason in result["msg"]
    assert result["domains"] == []
    assert posts(fake) == [] and aliases(fake) == {d: LIVE["id"] for d in DOMAINS}


def test_alias_failing_part_way_says_which_domains_moved(fake, run):
    # The first POST goes through (a zero delay), the second is refused.
    fake.vercel.add_faults([{"method": "POST", "action": "delay", "delay": 0},
                            {"method": "POST", "action": "status", "status": 400,
                             "body": {"error": {"code": "bad_request", "message": "Injected 400"}}}])
    result = run(vercel_alias, alias_args(fake))
    assert result["failed"] is True and "answered 400 (bad_request: Injected 400)" in result["msg"]
    assert [(d["domain"], d["after"]) for d in result["domains"]] == [
        (DOMAINS[0], PREVIOUS_GOOD["id"]), (DOMAINS[1], LIVE["id"])]
    assert aliases(fake) == {DOMAINS[0]: PREVIOUS_GOOD["id"], DOMAINS[1]: LIVE["id"]}


def test_alias_failing_part_way_reports_changed_truthfully(fake, run):
    fake.vercel.add_faults([{"method": "POST", "action": "delay", "delay": 0},
                            {"method": "POST", "action": "status", "status": 400}])
    result = run(vercel_alias, alias_args(fake))
    assert [d["changed"] for d in result["domains"]] == [True, False]
    assert result["changed"] is True


def test_alias_will_not_take_a_domain_from_another_project(fake, run):
    state = fake.vercel.state()
    state["domains"].append({"name": "blog.example.com", "teamId": "team_sandbox01", "projectId": "prj_other01"})
    state["aliases"].append({"alias": "blog.example.com", "deploymentId": DEPLOYMENTS[3]["id"], "uid": "alias_blog"})
    fake.vercel.load(state)

    result = run(vercel_alias, alias_args(fake, domains=DOMAINS + ["blog.example.com"]))

    assert result["failed"] is True and "blog.example.com serve(s) another project's deployment" in result["msg"]
    assert [r for r in fake.vercel.requests() if r["method"] == "POST"] == []


def test_alias_moves_nothing_when_production_changed_since_it_was_read(fake, run):
    expected = {DOMAINS[0]: PREVIOUS_GOOD["id"], DOMAINS[1]: LIVE["id"]}  # what another run would have seen

    result = run(vercel_alias, alias_args(fake, deployment=DEPLOYMENTS[13]["id"], expect=expected))

    assert result["failed"] is True and "shop.example.com no longer serve(s) what was expected" in result["msg"]
    assert [r for r in fake.vercel.requests() if r["method"] == "POST"] == []


def test_alias_failure_names_the_domain(fake, run):
    fake.vercel.add_faults([{"method": "POST", "action": "status", "status": 409,
                             "body": {"error": {"code": "conflict", "message": "alias in use"}}}])

    result = run(vercel_alias, alias_args(fake))

    assert result["failed"] is True and result["msg"].startswith("Moving shop.example.com failed: Vercel API: POST")
