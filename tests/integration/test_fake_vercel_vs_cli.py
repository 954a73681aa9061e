"""The real Vercel CLI against the Vercel fake: what the CLI accepts and does, the fake must agree with.

hack/bootstrap.sh installs the pinned CLI in .cache/vercel-cli. It runs with a throwaway HOME, no
stdin and its telemetry and update check off, and ``--api`` sends every request to the fake.
"""
import json
import os
import re
import subprocess

import pytest
import requests as http

from tests.fakes import SANDBOX_SEED, load_seed
from tests.integration.sandbox import REPO

CLI = REPO / ".cache" / "vercel-cli" / "node_modules" / ".bin" / "vercel"
CLI_VERSION = "58.10.0"
# The CLI refuses a --token with anything but word characters, and the seed's token has dashes,
# so the test gives the same identity a token the CLI accepts (real tokens are alphanumeric).
TOKEN = "sandboxVercelToken01"  # the seed's; the CLI takes only word characters
SEED = load_seed(SANDBOX_SEED)["vercel"]
WEBAPP = [d for d in SEED["deployments"] if d["projectId"] == "prj_webapp01"]  # newest first
LIVE = WEBAPP[0]
PREVIOUS_GOOD = next(d for d in WEBAPP[1:] if d["state"] == "READY" and d["target"] == "production")
PAGE = 20  # the CLI's page size for `ls`


@pytest.fixture
def vercel(fake, tmp_path):
    """Run one CLI command against the fake; returns (return code, stdout + stderr, its requests)."""
    if not CLI.exists():
        pytest.fail(f"The Vercel CLI is not installed at {CLI}: run `make test` or hack/bootstrap.sh")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NO_UPDATE_NOTIFIER": "1",
           "VERCEL_TELEMETRY_DISABLED": "1", "CI": "1"}

    def run(*args):
        fake.vercel.clear_requests()
        done = subprocess.run([str(CLI), "--api", fake.vercel_url, "--token", TOKEN, "--scope", "team_sandbox01",
                               "--no-color", *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60, check=False)
        requests = fake.vercel.requests()
        # Every request of the run reached the fake, from this CLI, with the token.
        assert requests and all(r["headers"].get("user-agent", "").startswith(f"vercel {CLI_VERSION} ")
                                and r["authorized"] for r in requests), requests
        return done.returncode, done.stdout + done.stderr, requests

    return run


def calls(requests, method, path):
    return [r for r in requests if (r["method"], r["path"]) == (method, path)]


def aliases(fake):
    return {a["alias"]: a["deploymentId"] for a in fake.vercel.state()["aliases"]}


def test_ls_lists_the_project_deployments_page_by_page(vercel):
    code, output, requests = vercel("ls", "webapp")
    assert code == 0, output
    assert all(f"https://{d['url']}" in output for d in WEBAPP[:PAGE])
    assert f"https://{WEBAPP[PAGE]['url']}" not in output
    [listing] = calls(requests, "GET", "/v6/deployments")
    assert listing["query"] == {"limit": str(PAGE), "projectId": "prj_webapp01", "teamId": "team_sandbox01"}

    # The CLI offers the fake's pagination.next for the next page and sends it back as `until`.
    next_page = re.search(r"--next (\d+)", output).group(1)
    assert int(next_page) == WEBAPP[PAGE - 1]["created"]
    code, output, requests = vercel("ls", "webapp", "--next", next_page)
    assert code == 0, output
    assert all(f"https://{d['url']}" in output for d in WEBAPP[PAGE:2 * PAGE])
    assert f"https://{WEBAPP[PAGE - 1]['url']}" not in output
    assert calls(requests, "GET", "/v6/deployments")[0]["query"]["until"] == next_page


def test_inspect_shows_the_deployment(vercel):
    code, output, requests = vercel("inspect", PREVIOUS_GOOD["id"])
    assert code == 0, output
    assert PREVIOUS_GOOD["id"] in output and f"https://{PREVIOUS_GOOD['url']}" in output
    assert re.search(r"target\s+production", output) and "Ready" in output
    assert calls(requests, "GET", f"/v13/deployments/{PREVIOUS_GOOD['id']}")


@pytest.mark.parametrize("ref", ["url", "id"])
def test_alias_set_moves_the_alias(vercel, fake, ref):
    code, output, requests = vercel("alias", "set", PREVIOUS_GOOD[ref], "shop.example.com")
    assert code == 0, output
    assert f"Success! https://shop.example.com now points to {PREVIOUS_GOOD[ref]}" in output
    assert aliases(fake) == {"shop.example.com": PREVIOUS_GOOD["id"], "www.shop.example.com": LIVE["id"]}
    assert calls(requests, "GET", "/v5/domains/shop.example.com")
    [assign] = calls(requests, "POST", f"/now/deployments/{PREVIOUS_GOOD[ref]}/aliases")
    assert assign["body"] == {"alias": "shop.example.com"}


def test_rollback_moves_the_domains_and_is_recorded(vercel, fake):
    code, output, requests = vercel("rollback", PREVIOUS_GOOD["id"], "--timeout", "10s")
    assert code == 0, output
    assert f"Success! webapp was rolled back to {PREVIOUS_GOOD['url']} ({PREVIOUS_GOOD['id']})" in output
    assert aliases(fake) == {"shop.example.com": PREVIOUS_GOOD["id"], "www.shop.example.com": PREVIOUS_GOOD["id"]}
    [request] = calls(requests, "POST", f"/v9/projects/prj_webapp01/rollback/{PREVIOUS_GOOD['id']}")
    assert request["body"] == {}
    assert any(r["query"].get("rollbackInfo") == "true" for r in calls(requests, "GET", "/v9/projects/prj_webapp01"))
    project = next(p for p in fake.vercel.state()["projects"] if p["id"] == "prj_webapp01")
    assert project["lastAliasRequest"] == {**project["lastAliasRequest"], "fromDeploymentId": LIVE["id"],
                                           "toDeploymentId": PREVIOUS_GOOD["id"], "jobStatus": "succeeded",
                                           "type": "rollback"}


def test_rollback_to_the_live_deployment_is_a_conflict(vercel, fake):
    code, output, requests = vercel("rollback", LIVE["id"], "--timeout", "10s")
    assert code == 1
    assert "(409)" in output and "Success" not in output
    assert calls(requests, "POST", f"/v9/projects/prj_webapp01/rollback/{LIVE['id']}")
    assert aliases(fake) == {a["alias"]: a["deploymentId"] for a in SEED["aliases"]}
    assert all("lastAliasRequest" not in p for p in fake.vercel.state()["projects"])


def test_promote_moves_the_domains(vercel, fake):
    code, output, requests = vercel("promote", PREVIOUS_GOOD["id"], "--timeout", "10s")
    assert code == 0, output
    assert f"Success! webapp was promoted to {PREVIOUS_GOOD['url']} ({PREVIOUS_GOOD['id']})" in output
    assert set(aliases(fake).values()) == {PREVIOUS_GOOD["id"]}
    assert calls(requests, "POST", f"/v10/projects/prj_webapp01/promote/{PREVIOUS_GOOD['id']}")


def test_sdk_rollback_path_answers_like_the_cli_path(fake):
    """The CLI posts to /v9; the SDK and the docs use /v1: 201 without a body."""
    answer = http.post(f"{fake.vercel_url}/v1/projects/prj_webapp01/rollback/{PREVIOUS_GOOD['id']}",
                       params={"teamId": "team_sandbox01"}, headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=5)
    assert (answer.status_code, answer.content, answer.headers.get("Content-Type")) == (201, b"", None)
    assert set(aliases(fake).values()) == {PREVIOUS_GOOD["id"]}


# ----- creating, staging and queueing production deployments, and env listing ----------------------------

PREVIEW = next(d for d in WEBAPP if d["state"] == "READY" and d["target"] is None)
INSTANT_BUILD = {"queued_s": 0, "build_s": 0}  # READY the moment it is created: nothing here waits on a build


def set_webapp(fake, **changes):
    state = fake.vercel.state()
    next(p for p in state["projects"] if p["id"] == "prj_webapp01").update(changes)
    fake.vercel.load(state)


def created(fake):
    seeded = {d["id"] for d in SEED["deployments"]}
    return [d for d in fake.vercel.state()["deployments"] if d["id"] not in seeded]


def test_promote_of_a_preview_builds_it_again_for_production(vercel, fake):
    fake.vercel.add_build_rules([INSTANT_BUILD])
    code, output, requests = vercel("promote", PREVIEW["id"], "--yes")
    assert code == 0, output
    [create] = calls(requests, "POST", "/v13/deployments")
    assert create["body"] == {"deploymentId": PREVIEW["id"], "name": "webapp", "target": "production",
                              "meta": {"action": "promote"}}
    [new] = created(fake)
    assert ("Successfully created new deployment of webapp at "
            f"https://vercel.com/acme/webapp/{new['id'].removeprefix('dpl_')}") in output
    assert (new["state"], new["target"], new["readySubstate"]) == ("READY", "production", "PROMOTED")
    assert new["meta"] == {**PREVIEW["meta"], "action": "promote"}
    assert set(aliases(fake).values()) == {new["id"]}


def test_promote_of_a_staged_production_deployment(vercel, fake):
    fake.vercel.add_build_rules([INSTANT_BUILD])
    set_webapp(fake, autoAssignCustomDomains=False)
    answer = http.post(f"{fake.vercel_url}/v13/deployments", params={"teamId": "team_sandbox01"},
                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5,
                       json={"name": "webapp", "target": "production",
                             "gitSource": {"type": "github", "repoId": 123, "ref": "main"}})
    assert answer.status_code == 200, answer.text
    [staged] = created(fake)
    assert (staged["state"], staged["readySubstate"]) == ("READY", "STAGED")
    assert aliases(fake) == {a["alias"]: a["deploymentId"] for a in SEED["aliases"]}

    code, output, requests = vercel("promote", staged["id"], "--timeout", "10s")
    assert code == 0, output
    assert f"Success! webapp was promoted to {staged['url']} ({staged['id']})" in output
    assert calls(requests, "POST", f"/v10/projects/prj_webapp01/promote/{staged['id']}")
    assert set(aliases(fake).values()) == {staged["id"]}


def test_queued_promotion_is_reported_and_its_status_followed(vercel, fake):
    set_webapp(fake, promoteQueued=0.5)
    code, output, _requests = vercel("promote", PREVIOUS_GOOD["id"], "--timeout", "10s")
    assert code == 0, output
    assert "Promotion has been queued" in output
    code, output, requests = vercel("promote", "status", "webapp", "--timeout", "10s")
    assert code == 0, output
    assert f"Success! webapp was promoted to {PREVIOUS_GOOD['url']} ({PREVIOUS_GOOD['id']})" in output
    assert any(r["query"].get("rollbackInfo") == "true" for r in calls(requests, "GET", "/v9/projects/prj_webapp01"))
    assert set(aliases(fake).values()) == {PREVIOUS_GOOD["id"]}


def test_env_ls_shows_the_variables_but_no_secret(vercel):
    """The CLI also asks the unversioned /projects/<id>/custom-environments, which the contract does not
    cover; the fake's 404 there is what the CLI reads as "none"."""
    webapp_envs = [e for e in SEED["envs"] if e["projectId"] == "prj_webapp01"]
    hidden = [e["value"] for e in webapp_envs if e["type"] in ("encrypted", "secret", "sensitive")]
    code, output, requests = vercel("env", "ls", "--project", "webapp")
    assert code == 0, output
    assert all(e["key"] in output for e in webapp_envs) and "Hidden" in output
    assert all(value not in output for value in hidden)
    [listing] = calls(requests, "GET", "/v10/projects/prj_webapp01/env")
    assert listing["query"] == {"source": "vercel-cli:env:ls", "teamId": "team_sandbox01"}

    branch = "feature/checkout-redesign"
    code, output, requests = vercel("env", "ls", "preview", branch, "--project", "webapp", "--format", "json")
    assert code == 0, output
    listed, _end = json.JSONDecoder().raw_decode(output[output.index("{"):])
    expected = [e for e in webapp_envs if "preview" in e["target"] and e.get("gitBranch") in (None, branch)]
    assert sorted(e["key"] for e in listed["envs"]) == sorted(e["key"] for e in expected)
    assert all(value not in output for value in hidden)
    assert all("value" not in e for e in listed["envs"] if e["type"] == "sensitive")
    [listing] = calls(requests, "GET", "/v10/projects/prj_webapp01/env")
    assert (listing["query"]["target"], listing["query"]["gitBranch"]) == ("preview", branch)
