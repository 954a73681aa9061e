"""The controller-side plugins (slack_message, run_lock, audit_record, http_probe): each ActionModule.run(), in-process.

The task is a real ansible Task; the connection is a stand-in, as these plugins never use one.
"""
import json
import os
import socket
import stat
import time

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.runbook.ops.plugins.action import audit_record, http_probe, run_lock, slack_message
from tests.unit.action.conftest import run

INCIDENT_HOOK = "/services/T0SANDBOX/B0INCIDENT/sandboxsecretincident0001"
HOOK_SECRET = "sandboxsecretincident0001"


# ----- slack_message ---------------------------------------------------------------------------

def test_slack_check_mode_sends_nothing(fake):
    url = fake.slack_url + INCIDENT_HOOK
    result = run(slack_message, {"webhook_url": url, "text": "Rollback started"}, check=True)
    assert (result["changed"], result["sent"], result["payload"]) == (True, False, {"text": "Rollback started"})
    assert fake.slack.requests() == []
    assert url not in result["_text"] and HOOK_SECRET not in result["_text"]


def test_slack_posts_text_and_blocks_from_the_env_webhook(fake, monkeypatch):
    url = fake.slack_url + INCIDENT_HOOK
    monkeypatch.setenv("SLACK_INCIDENT_WEBHOOK", url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Rolled back*"}}]
    result = run(slack_message, {"webhook_env": "SLACK_INCIDENT_WEBHOOK", "text": "Rolled back", "blocks": blocks})
    assert (result["changed"], result["sent"]) == (True, True)
    assert fake.slack.state()["messages"][0]["payload"] == {"text": "Rolled back", "blocks": blocks}
    assert url not in result["_text"] and HOOK_SECRET not in result["_text"]


def test_slack_failure_never_shows_the_url(fake, monkeypatch):
    url = fake.slack_url + "/services/T0/B0/revokedsecret0001"
    monkeypatch.setenv("SLACK_DEPLOYMENT_WEBHOOK", url)
    result = run(slack_message, {"webhook_env": "SLACK_DEPLOYMENT_WEBHOOK", "text": "x"})
    assert result["failed"] is True and result["sent"] is False
    assert "answered 404 (no_service). The webhook was removed" in result["msg"] and result["path"] == "/services/***"
    assert url not in result["_text"] and "revokedsecret0001" not in result["_text"]


def test_slack_failure_tolerated_becomes_a_warning(fake):
    url = fake.slack_url + "/services/T0/B0/revokedsecret0001"
    result = run(slack_message, {"webhook_url": url, "text": "x", "fail_on_error": False})
    assert "failed" not in result
    assert (result["changed"], result["sent"]) == (False, False)
    assert "no_service" in result["error"]
    assert result["warnings"] == [f"The Slack message was not sent: {result['error']}"]
    assert "revokedsecret0001" not in result["_text"]


def test_slack_result_masks_the_url_wherever_it_stands(fake, monkeypatch):
    url = fake.slack_url + INCIDENT_HOOK
    monkeypatch.setenv("SLACK_INCIDENT_WEBHOOK", url)
    result = run(slack_message, {"webhook_env": "SLACK_INCIDENT_WEBHOOK", "text": f"oops: {url}"}, check=True)
    assert url not in result["_text"] and result["payload"]["text"].startswith("oops: ")


@pytest.mark.parametrize("args, complaint", [
    ({"text": "x"}, "one of the following is required: webhook_url, webhook_env"),
    ({"webhook_env": "SLACK_INCIDENT_WEBHOOK"}, "one of the following is required: text, blocks, attachments"),
    ({"webhook_env": "SLACK_INCIDENT_WEBHOOK", "webhook_url": "https://hooks.example/services/a/b/sekrit",
      "text": "x"}, "mutually exclusive"),
])
def test_slack_bad_arguments_are_refused_before_any_request(fake, args, complaint):
    with pytest.raises(AnsibleActionFail) as caught:
        run(slack_message, args)
    assert complaint in str(caught.value) and "sekrit" not in str(caught.value)
    assert fake.slack.requests() == []


def test_slack_empty_env_var_is_named(fake, monkeypatch):
    monkeypatch.delenv("SLACK_MAINTENANCE_WEBHOOK", raising=False)
    result = run(slack_message, {"webhook_env": "SLACK_MAINTENANCE_WEBHOOK", "text": "x"})
    assert result["failed"] is True
    assert result["msg"] == ("The environment variable SLACK_MAINTENANCE_WEBHOOK is empty: "
                             "set it to the Slack incoming webhook URL.")
    assert fake.slack.requests() == []


def test_slack_bad_url_is_refused_without_echoing_it(fake, monkeypatch):
    monkeypatch.setenv("SLACK_INCIDENT_WEBHOOK", "hooks.slack.com/services/T0/B0/pastedwrongsecret")
    result = run(slack_message, {"webhook_env": "SLACK_INCIDENT_WEBHOOK", "text": "x"})
    assert result["failed"] is True and "not an http(s) URL" in result["msg"]
    assert "pastedwrongsecret" not in result["_text"]


# ----- run_lock --------------------------------------------------------------------------------

def read_lock(path):
    return json.loads(path.read_text())


def test_lock_take_hold_and_release(tmp_path):
    lock = tmp_path / "locks" / "rollback-webapp.lock"
    taken = run(run_lock, {"path": str(lock), "run_id": "run-1", "owner": "alice: bad deploy"})
    assert taken["changed"] is True and read_lock(lock)["run_id"] == "run-1"
    assert taken["holder"]["owner"] == "alice: bad deploy" and not taken.get("warnings")

    again = run(run_lock, {"path": str(lock), "run_id": "run-1"})
    assert again["changed"] is False and again["holder"]["run_id"] == "run-1"

    refused = run(run_lock, {"path": str(lock), "run_id": "run-2"})
    assert refused["failed"] is True and "Another run holds the lock" in refused["msg"]
    assert f"run run-1 on {socket.gethostname()}, alice: bad deploy" in refused["msg"]
    assert read_lock(lock)["run_id"] == "run-1"

    not_mine = run(run_lock, {"path": str(lock), "run_id": "run-2", "state": "absent"})
    assert not_mine["changed"] is False and not_mine["holder"]["run_id"] == "run-1" and lock.exists()

    released = run(run_lock, {"path": str(lock), "run_id": "run-1", "state": "absent"})
    assert released["changed"] is True and released["holder"] is None and not lock.exists()

    released_again = run(run_lock, {"path": str(lock), "run_id": "run-1", "state": "absent"})
    assert released_again["changed"] is False and released_again["holder"] is None


def test_lock_needs_a_run_id(tmp_path):
    with pytest.raises(AnsibleActionFail, match="missing required arguments: run_id"):
        run(run_lock, {"path": str(tmp_path / "x.lock")})
    assert list(tmp_path.iterdir()) == []


def test_lock_stale_holder_is_taken_over_with_a_warning(tmp_path):
    lock = tmp_path / "rollback.lock"
    lock.write_text(json.dumps({"run_id": "dead-run", "owner": "bob", "taken_at": time.time() - 7200}))
    result = run(run_lock, {"path": str(lock), "run_id": "run-3", "max_age": 3600})
    assert result["changed"] is True and read_lock(lock)["run_id"] == "run-3"
    assert result["warnings"] == [f"Taking over the lock {lock} from run dead-run (bob): left 7200s ago. "
                                  "That run may have stopped half-way: check what this run planned and did."]
    assert result["taken_over"]["run_id"] == "dead-run"
    assert not list(tmp_path.glob("*.stale-*"))


def test_lock_of_a_dead_process_on_this_machine_is_taken_over_at_once(tmp_path):
    lock = tmp_path / "rollback.lock"
    # Above Linux's largest pid (2**22), so no process has it.
    lock.write_text(json.dumps({"run_id": "killed-run", "owner": "bob", "taken_at": time.time(),
                                "host": socket.gethostname(), "pid": 2 ** 22 + 7}))
    result = run(run_lock, {"path": str(lock), "run_id": "run-5"})
    assert result["changed"] is True and read_lock(lock)["run_id"] == "run-5"
    assert "its ansible-playbook (pid 4194311) is gone" in result["warnings"][0]


def test_lock_of_a_live_process_on_another_machine_is_held(tmp_path):
    lock = tmp_path / "rollback.lock"
    lock.write_text(json.dumps({"run_id": "other", "owner": "bob", "taken_at": time.time(),
                                "host": "another-host", "pid": 2 ** 22 + 7}))
    assert run(run_lock, {"path": str(lock), "run_id": "run-6"})["failed"] is True


def test_lock_half_written_file_still_counts_as_held(tmp_path):
    lock = tmp_path / "rollback.lock"
    lock.write_text('{"run_id": "ha')
    result = run(run_lock, {"path": str(lock), "run_id": "run-4"})
    assert result["failed"] is True and lock.read_text() == '{"run_id": "ha'


def test_lock_half_written_file_ages_like_any_other(tmp_path):
    lock = tmp_path / "rollback.lock"
    lock.write_text('{"run_id": "ha')
    hours_ago = time.time() - 7200
    os.utime(lock, (hours_ago, hours_ago))
    result = run(run_lock, {"path": str(lock), "run_id": "run-7", "max_age": 3600})
    assert result["changed"] is True and read_lock(lock)["run_id"] == "run-7"


def test_lock_check_mode_touches_nothing(tmp_path):
    lock = tmp_path / "rollback.lock"
    would_take = run(run_lock, {"path": str(lock), "run_id": "run-5"}, check=True)
    assert would_take["changed"] is True and would_take["holder"]["run_id"] == "run-5" and not lock.exists()

    run(run_lock, {"path": str(lock), "run_id": "run-5"})
    would_release = run(run_lock, {"path": str(lock), "run_id": "run-5", "state": "absent"}, check=True)
    assert would_release["changed"] is True and read_lock(lock)["run_id"] == "run-5"

    lock.write_text(json.dumps({"run_id": "old", "taken_at": time.time() - 7200}))
    would_take_over = run(run_lock, {"path": str(lock), "run_id": "run-6"}, check=True)
    assert would_take_over["changed"] is True and read_lock(lock)["run_id"] == "old"


# ----- audit_record ----------------------------------------------------------------------------

@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_audit_appends_one_json_line_per_call(tmp_path, umask_022):
    directory = tmp_path / "audit"
    first = {"action": "rollback", "operator": "alice", "result": "started"}
    second = {"action": "rollback", "operator": "alice", "result": "succeeded", "note": "日本語"}
    one = run(audit_record, {"directory": str(directory), "record": first})
    two = run(audit_record, {"directory": str(directory), "record": second})
    path = directory / "audit.jsonl"
    assert one["path"] == two["path"] == str(path) and one["changed"] is True
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    assert lines[1] == two["line"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750


def test_audit_redacts_listed_environment_values(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_API_KEY", "k3y-value-0001")
    monkeypatch.setenv("UNLISTED", "plain-value")
    record = {"action": "deploy", "inputs": {"url": "https://x.example/?key=k3y-value-0001", "other": "plain-value"}}
    result = run(audit_record, {"directory": str(tmp_path), "record": record, "redact_env": ["MY_API_KEY"]})
    written = (tmp_path / "audit.jsonl").read_text()
    assert "k3y-value-0001" not in written and "k3y-value-0001" not in result["line"]
    assert json.loads(written)["inputs"] == {"url": "https://x.example/?key=********", "other": "plain-value"}


def test_audit_redacts_the_default_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db/app")
    result = run(audit_record, {"directory": str(tmp_path), "record": {"dsn": "postgresql://app:pw@db/app"}})
    assert json.loads(result["line"]) == {"dsn": "********"}


def test_audit_check_mode_writes_nothing(tmp_path):
    result = run(audit_record, {"directory": str(tmp_path / "audit"), "record": {"action": "x"}}, check=True)
    assert result["changed"] is True and json.loads(result["line"]) == {"action": "x"}
    assert not (tmp_path / "audit").exists()


def test_audit_redacts_a_non_ascii_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "pässwort-geheim")
    result = run(audit_record, {"directory": str(tmp_path), "record": {"cmd": "PGPASSWORD=pässwort-geheim pg_dump"}})
    assert "pässwort" not in (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert json.loads(result["line"]) == {"cmd": "PGPASSWORD=******** pg_dump"}


def test_audit_check_mode_fails_when_the_folder_cannot_be_written(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(audit_record, {"directory": str(blocker / "audit"), "record": {"action": "rollback"}}, check=True)
    assert result["failed"] is True and f"{blocker} is not a folder" in result["msg"]
    assert "rollback_audit_dir" in result["msg"]


def test_audit_check_mode_passes_for_a_folder_still_to_be_made(tmp_path):
    result = run(audit_record, {"directory": str(tmp_path / "a" / "b"), "record": {}}, check=True)
    assert not result.get("failed") and not (tmp_path / "a").exists()


def test_lock_taken_by_another_run_after_it_was_read_as_stale_is_given_back(tmp_path):
    lock = tmp_path / "rollback.lock"
    stale = {"run_id": "dead-run", "owner": "bob", "taken_at": time.time() - 7200}
    fresh = {"run_id": "run-a", "owner": "alice", "taken_at": time.time()}
    lock.write_text(json.dumps(fresh))  # run A replaced the stale lock after this run read it

    assert run_lock.move_aside(str(lock), "run-b", stale) is False
    assert read_lock(lock) == fresh and not list(tmp_path.glob("*.stale-*"))


def test_lock_keeps_the_data_for_a_successor(tmp_path):
    lock = tmp_path / "rollback.lock"
    before = {"shop.example.com": "dpl_before"}
    run(run_lock, {"path": str(lock), "run_id": "run-8", "data": {"before": before}, "max_age": 0})
    time.sleep(0.01)

    successor = run(run_lock, {"path": str(lock), "run_id": "run-9", "max_age": 0})

    assert successor["taken_over"]["data"] == {"before": before}


# ----- http_probe -------------------------------------------------------------------------------

def test_probe_returns_the_verdict_as_data(fake):
    fake.health.set_mode("fail")
    result = run(http_probe, {"url": fake.health_url + "/api/health"})
    assert not result.get("failed") and result["healthy"] is False and result["status"] == 503


def test_probe_fails_when_asked_to_with_the_verdict_in_one_sentence(fake):
    fake.health.set_mode("fail")
    result = run(http_probe, {"url": fake.health_url + "/api/health", "wait": 0.2, "interval": 0.1,
                              "fail_unhealthy": True})
    assert result["failed"] is True
    assert result["msg"].startswith(f"{fake.health_url}/api/health did not become healthy within 0.2 s (")
    assert "last: answered 503, expected one of 200)." in result["msg"]


def test_probe_refuses_what_is_not_an_http_url():
    result = run(http_probe, {"url": "shop.example.com/api/health"})
    assert result["failed"] is True and "must be an http(s) URL" in result["msg"]


def test_probe_times_the_samples_and_keeps_the_verdict_fields(fake):
    result = run(http_probe, {"url": fake.health_url + "/api/health", "samples": 3})
    assert (result["healthy"], result["status"], result["reason"], result["attempts"]) == (True, 200, "", 1)
    assert result["latency"]["count"] == 3 and result["latency"]["unhealthy"] == 0
    assert len(result["latency"]["samples_ms"]) == 3 and result["latency"]["samples_ms"][0] == result["latency_ms"]
    assert result["latency"]["worst_ms"] == max(result["latency"]["samples_ms"])
    assert len(fake.health.requests()) == 3
    assert result["tls"] is None  # http


def test_probe_of_an_unhealthy_endpoint_times_only_the_verdict(fake):
    fake.health.set_mode("fail")
    result = run(http_probe, {"url": fake.health_url + "/api/health", "samples": 5})
    assert result["healthy"] is False and result["latency"]["count"] == 1 and result["latency"]["unhealthy"] == 1
    assert len(fake.health.requests()) == 1


def test_probe_reports_why_an_https_certificate_could_not_be_read():
    result = run(http_probe, {"url": "https://127.0.0.1:9/api/health", "timeout": 2, "fail_unhealthy": True})
    assert result["failed"] is True and result["healthy"] is False
    assert result["tls"]["days_left"] is None and result["tls"]["verified"] is False
    assert "Connection refused" in result["tls"]["error"]


def test_probe_refuses_a_ca_path_that_is_not_a_file(tmp_path):
    result = run(http_probe, {"url": "https://127.0.0.1:9/", "ca_path": str(tmp_path / "missing.pem")})
    assert result["failed"] is True and result["msg"].startswith(f"ca_path {tmp_path / 'missing.pem'} is not a file")


def test_probe_refuses_fewer_than_one_sample():
    result = run(http_probe, {"url": "http://127.0.0.1:9/", "samples": 0})
    assert result["failed"] is True and "samples 1 or more" in result["msg"]


# ----- audit_record: file ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["timeline/INC-20261204-213000.jsonl", "../audit.jsonl", "..", ".", "",
                                  "/tmp/audit.jsonl"])
def test_audit_file_with_a_folder_is_refused_and_nothing_is_written(tmp_path, name):
    directory = tmp_path / "audit"
    result = run(audit_record, {"directory": str(directory), "file": name, "record": {"action": "declare"}})
    assert result["failed"] is True and result["msg"] == f"file must be a file name, without a folder: {name!r}."
    assert list(tmp_path.iterdir()) == []


def test_audit_two_records_to_a_named_file_are_two_lines_of_it(tmp_path):
    declared = {"action": "incident", "step": "declare", "id": "INC-20261204-213000"}
    resolved = {"action": "incident", "step": "resolve", "id": "INC-20261204-213000"}
    one = run(audit_record, {"directory": str(tmp_path), "file": "INC-20261204-213000.jsonl", "record": declared})
    two = run(audit_record, {"directory": str(tmp_path), "file": "INC-20261204-213000.jsonl", "record": resolved})
    path = tmp_path / "INC-20261204-213000.jsonl"
    assert one["path"] == two["path"] == str(path)
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == [declared, resolved]
    assert not (tmp_path / "audit.jsonl").exists()


@pytest.mark.parametrize("dsn, password, as_written", [
    ("postgresql://shop:s3cret-pw-0001@db.internal:5432/shop", "s3cret-pw-0001", "s3cret-pw-0001"),
    ("postgresql://shop:p%40ss%2Fw0rd-0001@db.internal/shop", "p@ss/w0rd-0001", "p%40ss%2Fw0rd-0001"),
])
def test_audit_masks_the_password_of_the_database_url(tmp_path, monkeypatch, dsn, password, as_written):
    monkeypatch.setenv("DATABASE_URL", dsn)
    record = {"dsn": "postgresql://shop:" + as_written + "@replica.internal/shop", "note": f"tried {password}",
              "env": dsn}
    result = run(audit_record, {"directory": str(tmp_path), "record": record})
    written = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert json.loads(written) == {"dsn": "postgresql://shop:********@replica.internal/shop",
                                   "note": "tried ********", "env": "********"}
    for secret in (password, as_written, dsn):
        assert secret not in written and secret not in result["_text"]
