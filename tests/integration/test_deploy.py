"""playbooks/deploy.yml and playbooks/emergency_deploy.yml against the fakes and a real PostgreSQL."""
import json
import socket
import subprocess
import stat
import time

import pytest
import requests

from tests.integration.conftest import PAGERDUTY_ROUTING_KEY, PAGERDUTY_TOKEN, STATUSPAGE_KEY
from tests.integration.sandbox import (
    DEPLOY_HOOK,
    LIVE,
    SANDBOX,
    STATUSPAGE_PAGE,
    TOKEN,
    change_events,
    serving,
    writes,
)
from tests.postgres_cluster import PASSWORD

DOMAINS = ["shop.example.com", "www.shop.example.com"]
WEBAPP_GIT = next(p for p in SANDBOX["vercel"]["projects"] if p["name"] == "webapp")["git"]
MAIN = WEBAPP_GIT["refs"]["main"]
LIVE_SHA = SANDBOX["vercel"]["deployments"][0]["meta"]["githubCommitSha"]
ENV_VALUES = [env["value"] for env in SANDBOX["vercel"]["envs"] if env.get("value")]
SECRETS = [TOKEN, STATUSPAGE_KEY, PAGERDUTY_ROUTING_KEY, PAGERDUTY_TOKEN, PASSWORD, DEPLOY_HOOK.rsplit("/", 1)[-1]]
SCHEMA_QUERY = "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1"


@pytest.fixture
def schema(postgres, deploy_database):
    """A migrations table in the database the plays use, at version 20261101; set it with ``schema(version)``."""
    postgres.psql("CREATE TABLE schema_migrations (version text PRIMARY KEY)", database="deploy_shop")

    def at(version):
        postgres.psql(f"DELETE FROM schema_migrations; INSERT INTO schema_migrations VALUES ('{version}')",
                      database="deploy_shop")

    at("20261101")
    yield at
    postgres.psql("DROP TABLE schema_migrations", database="deploy_shop")


def deployments(fake):
    return fake.vercel.state()["deployments"]


def created(fake):
    """The deployments the runs created (the seed's all have a plan-free history)."""
    seeded = {d["id"] for d in SANDBOX["vercel"]["deployments"]}
    return [d for d in deployments(fake) if d["id"] not in seeded]


def deploy_record(run):
    [record] = [r for r in run.audit if r["action"] in ("deploy", "emergency_deploy")]
    return record


def deploy_notices(fake):
    return [m for m in fake.slack.state()["messages"] if m["hook"] == DEPLOY_HOOK]


def notice_text(message):
    payload = message["payload"]
    return payload.get("text") or "".join(a.get("text", "") for a in payload.get("attachments", []))


def open_incident(fake, name="Checkout errors", impact="major"):
    answer = requests.post(f"{fake.statuspage_url}/pages/{STATUSPAGE_PAGE}/incidents", timeout=5,
                           headers={"Authorization": f"OAuth {STATUSPAGE_KEY}"},
                           json={"incident": {"name": name, "status": "investigating", "impact_override": impact}})
    answer.raise_for_status()
    fake.statuspage.clear_requests()


def test_a_good_deploy_goes_live_with_backups_a_notice_and_a_change_event(fake, deploy, schema, tmp_path):
    run = deploy(deploy_ref="main", deploy_commit=MAIN, deploy_schema_version_query=SCHEMA_QUERY)

    assert run.rc == 0, run.output
    [new] = created(fake)
    assert new["meta"]["githubCommitSha"] == MAIN and new["state"] == "READY"
    assert new["meta"]["runbookSchemaVersion"] == "20261101"
    assert serving(fake) == {domain: new["id"] for domain in DOMAINS}

    record = deploy_record(run)
    assert record["result"] == "succeeded" and record["before"] == LIVE and record["deployment"] == new["id"]
    assert record["schema_version"] == "20261101" and record["change_event"] == "sent"
    assert record["health"]["healthy"] and record["watch"]["polls"] >= 5

    # A verified backup of the database, and the env backup without values, for its owner only.
    assert (tmp_path / "backup" / record["backup"].rsplit("/", 1)[-1]).exists()
    env_backup = tmp_path / "env" / record["env_backup"].rsplit("/", 1)[-1]
    assert stat.S_IMODE(env_backup.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "env").stat().st_mode) == 0o700
    backed_up = json.loads(env_backup.read_text())
    assert {env["key"] for env in backed_up["envs"]} >= {"DATABASE_URL", "NEXT_PUBLIC_SITE_URL"}
    assert not any(value in env_backup.read_text() for value in ENV_VALUES)

    assert [e for e in change_events(fake) if new["id"][:8] in e or MAIN[:12] in e]
    started, succeeded = deploy_notices(fake)
    assert "Deploy started" in notice_text(started) and "Deploy succeeded" in notice_text(succeeded)
    assert new["id"] in notice_text(succeeded)


def test_a_second_run_for_the_commit_that_is_live_changes_nothing(fake, deploy, tmp_path):
    first = deploy(deploy_ref="main", deploy_commit=MAIN)
    assert first.rc == 0, first.output
    fake.vercel.clear_requests()
    fake.slack.clear_requests()
    fake.pagerduty.clear_requests()
    backups = sorted((tmp_path / "backup").iterdir())

    again = deploy(deploy_ref="main", deploy_commit=MAIN)

    assert again.rc == 0, again.output
    assert "changed=0" in again.output
    assert deploy_record(again)["result"] == "already_live"
    assert not writes(fake) and not fake.slack.requests() and not fake.pagerduty.requests()
    assert sorted((tmp_path / "backup").iterdir()) == backups


def test_a_build_that_ends_in_error_fails_without_touching_the_domains(fake, deploy):
    before = serving(fake)

    run = deploy(deploy_ref="release/broken")

    assert run.rc != 0
    assert "ended ERROR: Type error: Property 'total' does not exist on type 'Cart'." in run.output
    assert serving(fake) == before
    assert [w["path"] for w in writes(fake)] == ["/v13/deployments"]
    record = deploy_record(run)
    assert record["result"] == "failed" and record["failed_step"] == "release" and not record["live"]
    assert record["rolled_back"] is None
    assert "Production was not changed" in notice_text(deploy_notices(fake)[-1])


def test_an_unhealthy_deploy_is_rolled_back_to_the_deployment_live_before(fake, deploy):
    run = deploy(deploy_ref="release/unhealthy")

    assert run.rc != 0
    assert serving(fake) == {domain: LIVE for domain in DOMAINS}
    record = deploy_record(run)
    assert record["result"] == "failed" and record["failed_step"] == "health" and record["rolled_back"] is True
    [rollback] = [r for r in run.audit if r["action"] == "rollback"]
    assert rollback["result"] == "succeeded" and rollback["after_deployment"] == LIVE
    assert rollback["run_id"] == record["run_id"]
    text = notice_text(deploy_notices(fake)[-1])
    # No migration ran, so restoring the database would only throw writes away: not suggested.
    assert "rolled back automatically" in text and "rollback_type=database" not in text
    assert "Production was rolled back to " + LIVE in run.output


def test_an_error_rate_seen_during_the_watch_rolls_back(fake, deploy):
    # Healthy at first sight (200), but the application reports one request in five failing.
    fake.vercel.add_build_rules([{"sha": MAIN, "outcome": "READY", "health": "ok", "error_rate": 0.2}])

    run = deploy(deploy_ref="main", deploy_watch_error_rate_field="error_rate")

    assert run.rc != 0
    record = deploy_record(run)
    assert record["failed_step"] == "watch" and record["rolled_back"] is True
    assert "reported_error_rate" in record["error"]
    assert serving(fake) == {domain: LIVE for domain in DOMAINS}


def test_the_freeze_gate_blocks_during_an_open_incident_and_the_override_is_recorded(fake, deploy):
    open_incident(fake)

    plan = deploy(deploy_ref="main", deploy_confirm=False)
    assert plan.rc == 0 and "Frozen, so a confirmed run would be refused" in plan.output

    blocked = deploy(deploy_ref="main")

    assert blocked.rc != 0 and "Deploys are frozen" in blocked.output and "Checkout errors" in blocked.output
    assert not writes(fake) and not deploy_notices(fake)
    assert deploy_record(blocked)["result"] == "refused"

    overridden = deploy(deploy_ref="main", deploy_override_freeze=True)

    assert overridden.rc == 0, overridden.output
    record = deploy_record(overridden)
    assert record["freeze_overridden"] is True and any("Checkout errors" in r for r in record["freeze_reasons"])
    assert "Freeze overridden" in notice_text(deploy_notices(fake)[0])


def test_an_emergency_deploy_without_the_right_approver_changes_nothing(fake, deploy):
    run = deploy(playbook="playbooks/emergency_deploy.yml", deploy_ref="main", emergency_severity="critical",
                 emergency_description="checkout down", emergency_approved_by="Mei Suzuki")

    assert run.rc != 0
    assert "needs the approval of the CTO" in run.output and "Mei Suzuki is not listed" in run.output
    assert not writes(fake) and not deploy_notices(fake)
    assert deploy_record(run)["result"] == "refused"


def test_an_emergency_deploy_skips_the_freeze_takes_the_backup_and_records_the_approval(fake, deploy, tmp_path):
    open_incident(fake)

    # Without a reason of its own, the emergency's severity and description are the reason.
    run = deploy(playbook="playbooks/emergency_deploy.yml", deploy_ref="main", emergency_severity="high",
                 emergency_description="checkout down", emergency_approved_by="Aiko Tanaka", deploy_reason="")

    assert run.rc == 0, run.output
    record = deploy_record(run)
    assert record["action"] == "emergency_deploy" and record["result"] == "succeeded"
    assert record["reason"] == "Emergency (high): checkout down"
    assert record["emergency"] == {"severity": "high", "approved_by": "Aiko Tanaka", "approver": "tech lead",
                                   "time_target": "1 hour", "description": "checkout down"}
    assert record["backup"] and record["watch"]["polls"] >= 5
    assert "EMERGENCY deploy started" in notice_text(deploy_notices(fake)[0])


@pytest.mark.parametrize("extra, message", [
    ({}, "Give deploy_ref"),
    ({"deploy_ref": "main", "deploy_deployment": LIVE}, "not both"),
    ({"deploy_ref": "main", "deploy_reason": "  "}, "deploy_reason is empty"),
    ({"deploy_ref": "main", "deploy_commit": "not-a-sha"}, "deploy_commit must be a git SHA"),
    ({"deploy_ref": "main", "deploy_watch_max_error_rate": 2}, "deploy_watch_max_error_rate between 0 and 1"),
    ({"deploy_ref": "main", "deploy_test_commands": [{"name": "tests"}]}, "non-empty cmd"),
    ({"deploy_ref": "main", "deploy_smoke_checks": [{"url": "shop.example.com"}]}, "http(s) url"),
    ({"deploy_ref": "main", "deploy_repo_path": "relative/clone"}, "deploy_repo_path must be an absolute path"),
    ({"deploy_ref": "main", "deploy_repo_path": "/nonexistent/clone"}, "is not a git clone"),
    ({"deploy_ref": "main", "deploy_verify_commands": [{"cmd": "true", "chdir": "/srv/typo"}]},
     "/srv/typo, which is not a folder here"),
    ({"deploy_ref": "main", "deploy_test_commands": [{"cmd": 5}]}, "non-empty cmd"),
    ({"deploy_ref": "main", "deploy_commit": MAIN[:12]}, "full 40-character SHA"),
    ({"deploy_ref": "main", "deploy_health_interval": 0}, "must be more than 0"),
    ({"deploy_ref": "main", "deploy_watch_minutes": "inf"}, "deploy_watch_minutes must be at most 1440"),
    ({"deploy_ref": "main", "deploy_watch_max_response_ms": 0}, "deploy_watch_max_response_ms more than 0"),
    ({"deploy_deployment": "dpl_doesNotExist000000000000"}, "dpl_doesNotExist"),
])
def test_bad_input_fails_before_any_change(fake, deploy, extra, message):
    run = deploy(**{"deploy_reason": "integration test", **extra})

    assert run.rc != 0 and message in run.output, run.output
    assert "Nothing was changed" in run.output
    assert not writes(fake) and not deploy_notices(fake)


def test_an_application_rollback_across_a_schema_change_is_refused(fake, deploy, rollback, schema, deploy_database):
    database = {"DATABASE_URL": deploy_database}
    guard = {"rollback_schema_version_query": SCHEMA_QUERY}
    # Deployed at 20261101; then a migration moves the database on, as a later release would.
    first = deploy(deploy_ref="main", deploy_schema_version_query=SCHEMA_QUERY)
    assert first.rc == 0, first.output
    [new] = created(fake)
    schema("20261202")

    # The seed's deployment has no recorded version: the guard cannot compare, says so, and lets it pass.
    back = rollback(rollback_target=LIVE, env=database, **guard)
    assert back.rc == 0, back.output
    assert "has no recorded schema version" in back.output
    fake.vercel.clear_requests()

    refused = rollback(rollback_target=new["id"], env=database, **guard)

    assert refused.rc != 0
    assert "deployed for database schema version 20261101, but the database is at 20261202" in refused.output
    assert serving(fake) == {domain: LIVE for domain in DOMAINS} and not writes(fake)
    assert refused.record["result"] == "refused"

    allowed = rollback(rollback_target=new["id"], rollback_allow_schema_mismatch=True, env=database, **guard)

    assert allowed.rc == 0, allowed.output
    assert serving(fake) == {domain: new["id"] for domain in DOMAINS}
    assert allowed.record["schema"] == {"database": "20261202", "target": "20261101", "mismatch": True,
                                        "mismatch_allowed": True}


def test_no_secret_and_no_env_value_in_any_output_or_file_at_vvvv(fake, deploy, tmp_path):
    run = deploy("-vvvv", deploy_ref="main", deploy_env_backup_values=True)

    assert run.rc == 0, run.output
    files = [path for path in tmp_path.rglob("*") if path.is_file() and path.parent.name != "env"]
    texts = [run.output, json.dumps(run.audit)] + [path.read_text(errors="replace") for path in files]
    texts += [json.dumps(m["payload"]) for m in fake.slack.state()["messages"]]
    for secret in SECRETS + ENV_VALUES:
        assert not any(secret in text for text in texts), secret
    # The values are in the env backup alone, which only its owner may read.
    [env_backup] = (tmp_path / "env").iterdir()
    assert stat.S_IMODE(env_backup.stat().st_mode) == 0o600
    assert any(value in env_backup.read_text() for value in ENV_VALUES)


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_the_plan_lists_the_commits_from_the_clone_and_the_commands_run_in_it(fake, deploy, tmp_path):
    # A clone whose first commit is what production serves, and two commits that go out.
    repo = tmp_path / "clone"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for subject in ("Live release", "Add wishlist", "Fix wishlist count"):
        git(repo, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "--allow-empty",
            "-m", subject)
    live_sha, head = git(repo, "rev-parse", "HEAD~2"), git(repo, "rev-parse", "HEAD")
    state = fake.vercel.state()
    state["deployments"][0]["meta"]["githubCommitSha"] = live_sha
    webapp = next(p for p in state["projects"] if p["name"] == "webapp")
    webapp["git"]["refs"]["main"] = head
    webapp["git"]["commits"][head] = {"message": "Fix wishlist count"}
    fake.vercel.load(state)

    commands = {"deploy_test_commands": [{"name": "unit", "cmd": "git log -1 --format=%s"}],
                "deploy_build_commands": [{"name": "build", "cmd": ["sh", "-c", "echo built with $VERCEL_TOKEN"]}]}

    # It has no remote: a clone that cannot be fetched could pin old code, so it is refused unless told.
    stale = deploy(deploy_ref="main", deploy_repo_path=str(repo), **commands)
    assert stale.rc != 0 and "could not be fetched" in stale.output and "deploy_repo_fetch=false" in stale.output
    assert not writes(fake) and not deploy_notices(fake)

    run = deploy(deploy_ref="main", deploy_repo_path=str(repo), deploy_repo_fetch=False, **commands)

    assert run.rc == 0, run.output
    assert "Dev: Fix wishlist count" in run.output and "Dev: Add wishlist" in run.output
    assert "Live release" not in run.output.split("Commits going out")[1].split("Steps:")[0]
    record = deploy_record(run)
    assert record["commit"] == head and len(record["commits"]) == 2
    unit, build = record["commands"]
    assert (unit["phase"], unit["rc"], unit["output"]) == ("test", 0, "Fix wishlist count")
    assert build["phase"] == "build" and build["output"].startswith("built with ") and TOKEN not in build["output"]
    [new] = created(fake)
    assert new["meta"]["githubCommitSha"] == head


def test_a_failed_migration_stops_before_the_build_and_says_how_to_restore(fake, deploy):
    run = deploy(deploy_ref="main", deploy_migrate_commands=[
        {"name": "first", "cmd": ["sh", "-c", "echo migrating; exit 3"]},
        {"name": "second", "cmd": ["sh", "-c", "echo must not run"]}])

    assert run.rc != 0
    record = deploy_record(run)
    assert record["failed_step"] == "migrate" and [c["name"] for c in record["commands"]] == ["first"]
    assert record["commands"][0]["rc"] == 3 and "migrating" in record["commands"][0]["output"]
    assert "/v13/deployments" not in [w["path"] for w in writes(fake)]
    assert "Migrations ran" in run.output and "rollback_type=database" in run.output
    assert "Production was not changed" in run.output


def test_a_failed_verify_command_rolls_back(fake, deploy):
    run = deploy(deploy_ref="main", deploy_verify_commands=[{"name": "smoke suite", "cmd": "false"}])

    assert run.rc != 0
    record = deploy_record(run)
    assert record["failed_step"] == "verify" and record["rolled_back"] is True
    assert serving(fake) == {domain: LIVE for domain in DOMAINS}


def test_promoting_a_deployment_made_for_another_schema_version_is_refused(fake, deploy, rollback, schema,
                                                                           deploy_database):
    first = deploy(deploy_ref="main", deploy_schema_version_query=SCHEMA_QUERY)
    assert first.rc == 0, first.output
    [new] = created(fake)
    assert rollback(rollback_target=LIVE, env={"DATABASE_URL": deploy_database}).rc == 0
    schema("20261202")
    fake.vercel.clear_requests()

    refused = deploy(deploy_deployment=new["id"], deploy_schema_version_query=SCHEMA_QUERY)

    assert refused.rc != 0
    assert f"The deployment {new['id']} was made for database schema version 20261101, but the database is at " \
           "20261202" in refused.output
    assert not writes(fake) and serving(fake) == {domain: LIVE for domain in DOMAINS}

    allowed = deploy(deploy_deployment=new["id"], deploy_schema_version_query=SCHEMA_QUERY,
                     deploy_allow_schema_mismatch=True)

    assert allowed.rc == 0, allowed.output
    assert serving(fake) == {domain: new["id"] for domain in DOMAINS}


def dead_runs_lock(tmp_path, before):
    """The lock a deploy killed after moving production leaves: its process is gone."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    lock = tmp_path / "locks" / "rollback-prj_webapp01.lock"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text(json.dumps({"run_id": "dead-run", "owner": "ops: deploy, killed", "taken_at": time.time(),
                                "host": socket.gethostname(), "pid": finished.pid, "data": {"before": before}}))


def test_a_rerun_after_a_killed_deploy_verifies_what_it_left_and_rolls_back_to_what_served_before(fake, deploy,
                                                                                                  tmp_path):
    # The killed run had moved production onto the unhealthy build and died before checking it.
    left = deploy(deploy_ref="release/unhealthy", deploy_auto_rollback=False)
    assert left.rc != 0
    [broken] = created(fake)
    assert serving(fake) == {domain: broken["id"] for domain in DOMAINS}
    dead_runs_lock(tmp_path, {domain: LIVE for domain in DOMAINS})

    run = deploy(deploy_ref="release/unhealthy", deploy_commit=broken["meta"]["githubCommitSha"])

    assert run.rc != 0
    assert f"A run that died holding the lock had moved production away from {LIVE}" in run.output
    record = deploy_record(run)
    assert record["took_over_lock_from"]["run_id"] == "dead-run"
    assert record["rolled_back"] is True and record["rollback_target"] == LIVE
    assert serving(fake) == {domain: LIVE for domain in DOMAINS} and len(created(fake)) == 1


def test_a_commit_already_live_but_unhealthy_is_not_called_deployed(fake, deploy):
    left = deploy(deploy_ref="release/unhealthy", deploy_auto_rollback=False)
    assert left.rc != 0
    [broken] = created(fake)

    again = deploy(deploy_ref="release/unhealthy", deploy_commit=broken["meta"]["githubCommitSha"])

    assert again.rc != 0 and "but it is not healthy" in again.output
    assert deploy_record(again)["result"] == "unhealthy" and len(created(fake)) == 1


def test_a_rollback_to_previous_passes_over_a_deployment_production_was_rolled_back_from(fake, deploy, rollback):
    failed = deploy(deploy_ref="main", deploy_verify_commands=[{"name": "smoke suite", "cmd": "false"}])
    assert failed.rc != 0 and serving(fake) == {domain: LIVE for domain in DOMAINS}
    [bad] = created(fake)
    fixed = deploy(deploy_ref="release/unhealthy", deploy_auto_rollback=False, deploy_health_timeout=1,
                   deploy_watch_minutes=0)
    assert fixed.rc != 0
    newest = next(d for d in created(fake) if d["id"] != bad["id"])
    assert serving(fake) == {domain: newest["id"] for domain in DOMAINS}

    run = rollback()

    assert run.rc == 0, run.output
    assert f"Passed over, as production was rolled back from them before: {bad['id']}" in run.output
    assert serving(fake) == {domain: LIVE for domain in DOMAINS}


def test_promoting_a_preview_twice_builds_it_once_and_the_second_run_changes_nothing(fake, deploy, tmp_path):
    preview = next(d for d in SANDBOX["vercel"]["deployments"] if d.get("target") is None and d["state"] == "READY")

    first = deploy(deploy_deployment=preview["id"])
    assert first.rc == 0, first.output
    [built] = created(fake)
    assert built["meta"]["githubCommitSha"] == preview["meta"]["githubCommitSha"]
    fake.vercel.clear_requests()
    fake.slack.clear_requests()

    again = deploy(deploy_deployment=preview["id"])

    assert again.rc == 0, again.output
    assert deploy_record(again)["result"] == "already_live" and "changed=0" in again.output
    assert not writes(fake) and not fake.slack.requests() and len(created(fake)) == 1
