"""VercelClient against the Vercel fake, and the pure helpers beside it."""
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._vercel import (
    VercelClient,
    aliases_of,
    bare_host,
    created_since,
    foreign,
    is_rollback_candidate,
    serving,
    summarize,
)
from tests.fakes import SANDBOX_SEED, load_seed

TOKEN = "sandboxVercelToken01"
DEPLOYMENTS = load_seed(SANDBOX_SEED)["vercel"]["deployments"]
WEBAPP = [d for d in DEPLOYMENTS if d["projectId"] == "prj_webapp01"]
LIVE = DEPLOYMENTS[0]
PREVIOUS_GOOD = DEPLOYMENTS[4]
DOMAINS = ["shop.example.com", "www.shop.example.com"]


def client(fake, team="team_sandbox01", token=TOKEN):
    return VercelClient(token, team=team, base_url=fake.vercel_url, sleep=lambda s: None)


@pytest.mark.parametrize("team, scope", [
    ("team_sandbox01", {"teamId": "team_sandbox01"}),
    ("acme", {"slug": "acme"}),
])
def test_team_id_or_slug_scopes_every_request(fake, team, scope):
    assert client(fake, team).project("webapp")["id"] == "prj_webapp01"
    sent = fake.vercel.requests()[0]
    assert sent["path"] == "/v9/projects/webapp" and sent["query"] == scope


def test_no_team_means_the_personal_account(fake):
    with pytest.raises(APIError) as caught:
        client(fake, team=None).project("webapp")
    assert caught.value.status == 404 and caught.value.code == "not_found"
    assert fake.vercel.requests()[0]["query"] == {}


def test_pages_follow_until_until_next_is_null(fake):
    pages = list(client(fake).deployment_pages("webapp", page_size=10))
    assert [len(page) for page in pages] == [10, 10, 10, 10, 4]
    assert [d["uid"] for page in pages for d in page] == [d["id"] for d in WEBAPP]
    sent = fake.vercel.requests()
    assert len(sent) == 5 and "until" not in sent[0]["query"]
    for previous_page, request in zip(pages, sent[1:]):
        assert request["query"]["until"] == str(previous_page[-1]["created"])
        assert request["query"]["projectId"] == "webapp" and request["query"]["limit"] == "10"


def test_pages_pass_target_and_states_and_cap_the_page_size(fake):
    pages = list(client(fake).deployment_pages("webapp", target="production", states=["ERROR", "CANCELED"],
                                               page_size=500))
    listed = [d for page in pages for d in page]
    assert listed and {d["state"] for d in listed} == {"ERROR", "CANCELED"}
    assert {d["target"] for d in listed} == {"production"}
    query = fake.vercel.requests()[0]["query"]
    assert (query["limit"], query["state"], query["target"]) == ("100", "ERROR,CANCELED", "production")


def test_deployment_by_id_or_by_url(fake):
    vercel = client(fake)
    assert vercel.deployment(LIVE["id"])["id"] == LIVE["id"]
    assert vercel.deployment(f"https://{LIVE['url']}/")["id"] == LIVE["id"]
    assert fake.vercel.requests()[1]["path"] == f"/v13/deployments/{LIVE['url']}"


def test_alias_of_an_unknown_domain_is_none(fake):
    vercel = client(fake)
    assert vercel.alias("nothing.example.com") is None
    assert vercel.alias("shop.example.com")["deploymentId"] == LIVE["id"]


def test_alias_other_errors_are_raised(fake):
    with pytest.raises(APIError) as caught:
        client(fake, token="wrong-token").alias("shop.example.com")
    assert caught.value.status == 403


def test_assign_alias_moves_the_alias_with_one_post(fake):
    answer = client(fake).assign_alias(PREVIOUS_GOOD["id"], "shop.example.com")
    assert answer["oldDeploymentId"] == LIVE["id"]
    sent = fake.vercel.requests()
    assert [(r["method"], r["path"]) for r in sent] == [("POST", f"/v2/deployments/{PREVIOUS_GOOD['id']}/aliases")]
    assert sent[0]["body"] == {"alias": "shop.example.com", "redirect": None}
    assert sent[0]["query"] == {"teamId": "team_sandbox01"}
    assert fake.vercel.alias_target("shop.example.com")["id"] == PREVIOUS_GOOD["id"]
    assert fake.vercel.alias_target("www.shop.example.com")["id"] == LIVE["id"]


def test_assign_alias_refusal_is_an_api_error(fake):
    building = next(d for d in WEBAPP if d["state"] == "BUILDING")
    with pytest.raises(APIError) as caught:
        client(fake).assign_alias(building["id"], "shop.example.com")
    assert (caught.value.status, caught.value.code) == (400, "deployment_not_ready")
    assert fake.vercel.alias_target("shop.example.com")["id"] == LIVE["id"]


def test_aliases_of_each_domain_and_what_they_serve(fake):
    client(fake).assign_alias(PREVIOUS_GOOD["id"], "www.shop.example.com")
    aliases = aliases_of(client(fake), DOMAINS + ["none.example.com"])
    assert serving(aliases) == {
        "shop.example.com": LIVE["id"], "www.shop.example.com": PREVIOUS_GOOD["id"], "none.example.com": None}
    assert aliases["shop.example.com"]["project_id"] == "prj_webapp01"
    assert foreign(aliases, "prj_webapp01") == [] and foreign(aliases, "prj_other01") == DOMAINS


def test_non_json_answer_is_an_api_error(fake):
    fake.vercel.add_faults([{"path": "^/v9/projects/", "action": "malformed"}])
    with pytest.raises(APIError) as caught:
        client(fake).project("webapp")
    assert "not a JSON object" in str(caught.value) and "base URL" in str(caught.value)


def test_summarize_gives_one_shape_for_list_items_and_single_gets(fake):
    vercel = client(fake)
    item = next(iter(vercel.deployment_pages("webapp", page_size=1)))[0]
    single = vercel.deployment(LIVE["id"])
    assert "uid" in item and "id" not in item and "id" in single and "created" not in single
    from_list, from_get = summarize(item), summarize(single)
    assert from_list == from_get
    assert from_list["id"] == LIVE["id"] and from_list["state"] == "READY"
    assert from_list["target"] == "production" and from_list["project_id"] == "prj_webapp01"
    assert from_list["created"] == LIVE["created"] and from_list["created_at"].endswith("Z")
    assert from_list["creator"] == "ops-bot"
    assert from_list["commit_sha"] == LIVE["meta"]["githubCommitSha"]
    assert from_list["commit_ref"] == "main"


def test_summarize_of_a_sparse_deployment():
    summary = summarize({"uid": "dpl_x", "state": "ERROR", "creator": {"email": "a@example.com"}})
    assert (summary["id"], summary["state"], summary["creator"]) == ("dpl_x", "ERROR", "a@example.com")
    assert summary["created_at"] is None and summary["commit_sha"] is None


@pytest.mark.parametrize("value, host", [
    ("dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ", "dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ"),
    ("https://webapp-4f8a1c2.vercel.app/", "webapp-4f8a1c2.vercel.app"),
    ("http://webapp-4f8a1c2.vercel.app/some/path", "webapp-4f8a1c2.vercel.app"),
    ("  webapp-4f8a1c2.vercel.app/ ", "webapp-4f8a1c2.vercel.app"),
])
def test_bare_host(value, host):
    assert bare_host(value) == host


@pytest.mark.parametrize("deployment, candidate", [
    ({"state": "READY", "target": "production", "created": 100}, True),
    ({"state": "READY", "target": "production", "created": 200}, False),  # not older than current
    ({"state": "READY", "target": None, "created": 100}, False),  # preview
    ({"state": "ERROR", "target": "production", "created": 100}, False),
])
def test_is_rollback_candidate(deployment, candidate):
    assert is_rollback_candidate(deployment, older_than=200) is candidate


def test_pagination_that_does_not_move_back_stops_with_an_error(fake):
    stuck = {"deployments": [{"uid": "dpl_a"}], "pagination": {"count": 1, "next": 1700000000000, "prev": None}}
    fake.vercel.add_faults([{"path": "^/v6/deployments$", "action": "status", "status": 200, "body": stuck,
                             "times": 10}])
    listing = VercelClient(TOKEN, team="acme", base_url=fake.vercel_url).deployment_pages("prj_webapp01")
    assert next(listing) and next(listing)
    with pytest.raises(APIError, match="pagination did not move back in time"):
        next(listing)
    assert len(fake.vercel.requests()) == 2


def test_pages_since_a_time_carry_it_on_every_page(fake):
    since = WEBAPP[6]["created"]
    pages = list(client(fake).deployment_pages("webapp", page_size=2, since=since))
    listed = [d["uid"] for page in pages for d in page]
    assert listed == [d["id"] for d in WEBAPP if d["created"] > since] and len(listed) == 6
    sent = fake.vercel.requests()
    assert len(sent) == 3 and all(r["query"]["since"] == str(since) for r in sent)


def test_created_since_counts_hours_back_from_now_in_milliseconds():
    assert created_since(1.5, now=1800000000.25) == 1799994600250


@pytest.mark.parametrize("meta, repo", [
    ({"githubCommitOrg": "acme", "githubCommitRepo": "webapp"}, "acme/webapp"),
    ({"githubOrg": "acme", "githubRepo": "webapp"}, "acme/webapp"),
    ({"gitlabCommitOrg": "acme-group", "gitlabCommitRepo": "shop"}, "acme-group/shop"),
    ({"bitbucketCommitOrg": "acme", "bitbucketCommitRepo": "api"}, "acme/api"),
    ({"githubCommitOrg": "acme"}, None),  # half a name is no name
    ({}, None),
])
def test_summarize_names_the_repository(meta, repo):
    assert summarize({"uid": "dpl_x", "meta": meta})["commit_repo"] == repo


def test_summarize_keeps_vercels_words_on_a_failed_build(fake):
    failed = next(d for d in WEBAPP if d["state"] == "ERROR")
    vercel = client(fake)
    item = next(d for page in vercel.deployment_pages("webapp", states=["ERROR"]) for d in page
                if d["uid"] == failed["id"])
    from_list, from_get = summarize(item), summarize(vercel.deployment(failed["id"]))
    assert from_list["error_message"] == item["errorMessage"] and from_list["error_message"]
    assert from_get["error_message"] == from_list["error_message"]
    assert summarize(vercel.deployment(LIVE["id"]))["error_message"] is None
    assert from_list["commit_repo"] == f"{failed['meta']['githubCommitOrg']}/{failed['meta']['githubCommitRepo']}"
