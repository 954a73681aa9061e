"""vercel_env_info's real main(), run in-process against the Vercel fake, the JSON result read from stdout."""
import json

import pytest
import requests

from ansible_collections.runbook.ops.plugins.modules import vercel_env_info
from ansible_collections.runbook.ops.plugins.modules.vercel_env_info import clear_value

TOKEN = "sandboxVercelToken01"
CREATED, UPDATED = 1793607300000, 1795857145000  # 2026-11-02T08:15:00Z and 2026-11-28T09:12:25Z


def env(id_, key, value, type_, target, git_branch=None, project="prj_webapp01"):
    return {"projectId": project, "id": id_, "key": key, "value": value, "type": type_, "target": target,
            "gitBranch": git_branch, "createdAt": CREATED, "updatedAt": UPDATED}


ENVS = [
    env("envDatabaseUrl01", "DATABASE_URL", "postgres://app:db-Secret-1@db.internal/shop", "encrypted", ["production"]),
    env("envSiteUrl00001", "NEXT_PUBLIC_SITE", "https://shop.example.com/plain-Value-6", "plain",
        ["production", "preview", "development"]),
    env("envStripeKey001", "STRIPE_KEY", "sk_live_sensitive-Value-9", "sensitive", ["production", "preview"]),
    env("envLegacy000001", "LEGACY_API_KEY", "legacy-Secret-4", "secret", ["preview"], git_branch="staging"),
    env("envDevOnly00001", "DEV_ONLY", "dev-Secret-2", "encrypted", "development"),
    # A project that deploys itself keeps the very token this module logs in with.
    env("envCiToken00001", "CI_VERCEL_TOKEN", TOKEN, "encrypted", ["production"]),
    env("envMarketing001", "MARKETING_KEY", "other-Project-Secret-3", "encrypted", ["production"],
        project="prj_other01"),
]
WEBAPP = [item for item in ENVS if item["projectId"] == "prj_webapp01"]
VALUES = [item["value"] for item in ENVS]


@pytest.fixture
def seeded(fake):
    state = fake.vercel.state()
    state["envs"] = [dict(item) for item in ENVS]
    fake.vercel.load(state)
    return fake


def vercel_args(fake, **args):
    return {"token": TOKEN, "team": "acme", "api_url": fake.vercel_url, "project": "webapp", **args}


def env_requests(fake):
    return [r for r in fake.vercel.requests() if r["path"].endswith("/env")]


def served_values(fake, decrypt):
    """Every value the fake serves for webapp, ciphertext included, read past the module."""
    answer = requests.get(f"{fake.vercel_url}/v10/projects/webapp/env", timeout=5,
                          params={"teamId": "team_sandbox01", "decrypt": "true" if decrypt else "false"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    return [item.get("value") for item in answer.json()["envs"] if item.get("value")]


def test_without_values_no_value_and_no_ciphertext_is_in_the_result(seeded, run):
    result = run(vercel_env_info, vercel_args(seeded))

    assert result["changed"] is False and "failed" not in result
    assert result["count"] == len(WEBAPP) == len(result["envs"]) and "unreadable" not in result
    assert [item["key"] for item in result["envs"]] == sorted(item["key"] for item in WEBAPP)
    database = next(item for item in result["envs"] if item["key"] == "DATABASE_URL")
    assert database == {"id": "envDatabaseUrl01", "key": "DATABASE_URL", "type": "encrypted",
                        "targets": ["production"], "git_branch": None,
                        "created_at": "2026-11-02T08:15:00Z", "updated_at": "2026-11-28T09:12:25Z"}
    assert all(set(item) == set(database) for item in result["envs"])

    [asked] = env_requests(seeded)
    assert asked["query"]["decrypt"] == "false"
    ciphertexts = [value for value in served_values(seeded, decrypt=False) if value not in VALUES]
    assert len(ciphertexts) == 4  # DATABASE_URL, LEGACY_API_KEY, DEV_ONLY and CI_VERCEL_TOKEN
    whole = json.dumps({name: value for name, value in result.items() if name != "_stdout"})
    for text in [*VALUES, *ciphertexts, TOKEN]:
        assert text not in whole and text not in result["_stdout"]


def test_values_with_no_log_give_each_value_and_say_which_are_missing(seeded, run):
    result = run(vercel_env_info, vercel_args(seeded, values=True, _ansible_no_log=True), own_process=True)

    assert result["changed"] is False and "failed" not in result
    [asked] = env_requests(seeded)
    assert asked["query"]["decrypt"] == "true"
    found = {item["key"]: (item["value"], item["value_missing"]) for item in result["envs"]}
    assert found == {
        "DATABASE_URL": ("postgres://app:db-Secret-1@db.internal/shop", False),
        "NEXT_PUBLIC_SITE": ("https://shop.example.com/plain-Value-6", False),
        "LEGACY_API_KEY": ("legacy-Secret-4", False),
        "DEV_ONLY": ("dev-Secret-2", False),
        # Vercel never returns a sensitive value.
        "STRIPE_KEY": (None, True),
        # Ansible would mask the token in any result, so the backup would hold asterisks: left out instead.
        "CI_VERCEL_TOKEN": (None, True),
    }
    assert result["unreadable"] == 2 and result["count"] == len(WEBAPP)
    assert ("The value of CI_VERCEL_TOKEN (envCiToken00001) contains the Vercel token, which Ansible masks in every "
            "result; it is left out (value_missing) and must be backed up another way.") in str(result["warnings"])
    assert "sk_live_sensitive-Value-9" not in result["_stdout"] and "other-Project-Secret-3" not in result["_stdout"]
    assert TOKEN not in result["_stdout"]


def test_values_the_listing_leaves_encrypted_are_read_one_by_one(seeded, run):
    state = seeded.vercel.state()
    state["env_list_decrypts"] = False
    seeded.vercel.load(state)

    result = run(vercel_env_info, vercel_args(seeded, values=True, _ansible_no_log=True), own_process=True)

    found = {item["key"]: item["value"] for item in result["envs"]}
    assert found["DATABASE_URL"] == "postgres://app:db-Secret-1@db.internal/shop"
    assert found["LEGACY_API_KEY"] == "legacy-Secret-4" and found["STRIPE_KEY"] is None
    one_by_one = sorted(r["path"].rsplit("/", 1)[-1] for r in seeded.vercel.requests() if "/v1/projects/" in r["path"])
    # The encrypted and secret ones of webapp, and nothing else.
    assert one_by_one == ["envCiToken00001", "envDatabaseUrl01", "envDevOnly00001", "envLegacy000001"]
    assert result["unreadable"] == 2


def test_values_without_no_log_are_refused_before_any_request(seeded, run):
    result = run(vercel_env_info, vercel_args(seeded, values=True))

    assert result["failed"] is True
    assert result["msg"] == ("values=true returns the variables' values, which Ansible would show in its output and "
                             "logs: set no_log: true on this task. Nothing was read.")
    assert seeded.vercel.requests() == []


@pytest.mark.parametrize("target, keys", [
    ("production", ["CI_VERCEL_TOKEN", "DATABASE_URL", "NEXT_PUBLIC_SITE", "STRIPE_KEY"]),
    ("preview", ["LEGACY_API_KEY", "NEXT_PUBLIC_SITE", "STRIPE_KEY"]),
    # DEV_ONLY's target is one string, not a list.
    ("development", ["DEV_ONLY", "NEXT_PUBLIC_SITE"]),
])
def test_target_lists_only_the_variables_of_that_environment(seeded, run, target, keys):
    result = run(vercel_env_info, vercel_args(seeded, target=target))

    assert [item["key"] for item in result["envs"]] == keys and result["count"] == len(keys)
    assert all(target in item["targets"] for item in result["envs"])


def test_a_preview_variable_limited_to_a_branch_says_which(seeded, run):
    result = run(vercel_env_info, vercel_args(seeded, target="preview"))

    legacy = next(item for item in result["envs"] if item["key"] == "LEGACY_API_KEY")
    assert (legacy["targets"], legacy["git_branch"], legacy["type"]) == (["preview"], "staging", "secret")


def test_every_page_is_read(seeded, run):
    many = [{**env(f"envMany{number:05d}", f"VAR_{number:03d}", f"many-Secret-{number}", "encrypted", ["preview"]),
             "createdAt": CREATED + number * 1000} for number in range(25)]
    state = seeded.vercel.state()
    state.update(envs=many, env_page_size=10)
    seeded.vercel.load(state)

    result = run(vercel_env_info, vercel_args(seeded, values=True, _ansible_no_log=True))

    assert len(env_requests(seeded)) == 3
    assert result["count"] == 25 and result["unreadable"] == 0
    assert [(item["key"], item["value"]) for item in result["envs"]] == [(item["key"], item["value"]) for item in many]


def test_check_mode_reads_the_same(seeded, run):
    checked = run(vercel_env_info, vercel_args(seeded), check=True)
    applied = run(vercel_env_info, vercel_args(seeded))

    assert checked["changed"] is False and checked["envs"] == applied["envs"]


def test_the_token_comes_from_the_environment_and_is_never_shown(seeded, run, monkeypatch):
    monkeypatch.setenv("VERCEL_TOKEN", TOKEN)
    monkeypatch.setenv("VERCEL_ORG_ID", "team_sandbox01")
    monkeypatch.setenv("VERCEL_API_URL", seeded.vercel_url)

    result = run(vercel_env_info, {"project": "prj_webapp01"})

    assert result["count"] == len(WEBAPP) and TOKEN not in result["_stdout"]


def test_a_wrong_token_fails_naming_the_service(seeded, run):
    result = run(vercel_env_info, vercel_args(seeded, token="wrong-Vercel-token-7"))

    assert result["failed"] is True and result["status"] == 403
    assert result["msg"].startswith(f"Vercel API: GET {seeded.vercel_url}/v10/projects/webapp/env answered 403")
    assert "wrong-Vercel-token-7" not in result["_stdout"]


def test_an_unknown_project_fails_naming_it(seeded, run):
    result = run(vercel_env_info, vercel_args(seeded, project="no-such-project"))

    assert result["failed"] is True and result["status"] == 404
    assert "/v10/projects/no-such-project/env answered 404" in result["msg"]


@pytest.mark.parametrize("item, value", [
    ({"type": "encrypted", "value": "clear text", "decrypted": True}, "clear text"),
    ({"type": "encrypted", "value": "clear text"}, "clear text"),
    # Vercel's listing has been seen answering ciphertext with decrypted false even when asked to decrypt.
    ({"type": "encrypted", "value": "zBVLLQi9gyWcZ38Yh44FV3DV==", "decrypted": False}, None),
    ({"type": "secret", "value": "zBVLLQi9gyWcZ38Yh44FV3DV==", "decrypted": False}, None),
    ({"type": "sensitive", "value": ""}, None),
    ({"type": "sensitive", "value": "zBVLLQi9gyWcZ38Yh44FV3DV=="}, None),
    ({"type": "plain", "value": ""}, ""),
    ({"type": "system", "value": None}, None),
])
def test_clear_value(item, value):
    assert clear_value(item) == value
