"""playbooks/rollback.yml, application type, end to end against the fakes."""
import json
import socket
import time

import pytest

from tests.integration.sandbox import LIVE, PREVIOUS, SANDBOX, TOKEN, INCIDENT_HOOK, UNHEALTHY, deployment, serving, slack_texts, writes

BOTH_LIVE = {"shop.example.com": LIVE, "www.shop.example.com": LIVE}


def test_rolls_back_to_the_previous_ready_production_deployment(fake, rollback):
    run = rollback()

    assert run.rc == 0, run.output
    assert serving(fake) == {"shop.example.com": PREVIOUS, "www.shop.example.com": PREVIOUS}
    started, succeeded = slack_texts(fake)
    assert "Rollback started" in started and PREVIOUS in started and LIVE in started
    assert "Rollback succeeded" in succeeded and "integration test" in succeeded
    assert "\nHealth: 200 after 1 probe(s)\nRun: " in succeeded
    record = run.record
    assert record["result"] == "succeeded"
    assert record["before"] == BOTH_LIVE
    assert {change["domain"] for change in record["changes"]} == set(BOTH_LIVE)
    assert record["notices"] == [
        {"kind": "rollback", "status": "started", "sent": {"SLACK_INCIDENT_WEBHOOK": True}},
        {"kind": "rollback", "status": "succeeded", "sent": {"SLACK_INCIDENT_WEBHOOK": True}},
    ]


def test_a_second_run_changes_nothing(fake, rollback):
    assert rollback().rc == 0
    fake.vercel.clear_requests()

    again = rollback()

    assert again.rc == 0, again.output
    assert "a rollback is in effect" in again.output
    assert serving(fake)["shop.example.com"] == PREVIOUS
    assert writes(fake) == []
    assert again.record["result"] == "already_live"


def test_finds_the_previous_deployment_several_pages_back(fake, rollback):
    # Make the 20 production deployments after the live one unusable: with pages of 20, the previous
    # READY one is then on the second page.
    state = fake.vercel.state()
    production = [d for d in state["deployments"] if d["projectId"] == "prj_webapp01" and d["target"] == "production"]
    for item in production[1:21]:
        item["state"] = "ERROR"
    fake.vercel.load(state)
    expected = next(d for d in production[21:] if d["state"] == "READY")

    run = rollback()

    assert run.rc == 0, run.output
    assert set(serving(fake).values()) == {expected["id"]}
    pages = [r for r in fake.vercel.requests() if r["path"] == "/v6/deployments"]
    assert len(pages) >= 2
    assert pages[1]["query"]["until"]


@pytest.mark.parametrize("reference", ["id", "url"])
def test_explicit_target_by_id_or_url(fake, rollback, reference):
    target = SANDBOX["vercel"]["deployments"][13]
    value = target["id"] if reference == "id" else "https://" + target["url"]

    run = rollback(rollback_target=value)

    assert run.rc == 0, run.output
    assert set(serving(fake).values()) == {target["id"]}


def test_target_already_live_is_success_without_change(fake, rollback):
    run = rollback(rollback_target=LIVE)

    assert run.rc == 0, run.output
    assert "already live" in run.output
    assert writes(fake) == []
    assert slack_texts(fake) == []
    assert run.record["result"] == "already_live"


def test_unhealthy_target_puts_every_domain_back(fake, rollback):
    run = rollback(rollback_target=UNHEALTHY)

    assert run.rc != 0
    assert "did not become healthy" in run.output
    assert serving(fake) == BOTH_LIVE
    moves = [r["body"]["alias"] for r in writes(fake)]
    assert sorted(moves) == sorted(list(BOTH_LIVE) * 2)  # each domain moved once and back once
    assert "Rollback FAILED" in slack_texts(fake)[-1]
    assert "put back" in slack_texts(fake)[-1]
    assert run.record["result"] == "failed" and run.record["reverted"] is True


def test_slack_down_still_rolls_back_with_a_warning(fake, rollback):
    fake.slack.add_faults([{"action": "status", "status": 500, "body": "rollup_error", "times": 100}])

    run = rollback()

    assert run.rc == 0, run.output
    assert serving(fake)["shop.example.com"] == PREVIOUS
    assert "[WARNING]: The Slack message was not sent" in run.output
    assert [notice["sent"] for notice in run.record["notices"]] == [{"SLACK_INCIDENT_WEBHOOK": False}] * 2


def test_missing_webhook_is_a_warning(fake, rollback):
    run = rollback(env={"SLACK_INCIDENT_WEBHOOK": ""})

    assert run.rc == 0, run.output
    assert "SLACK_INCIDENT_WEBHOOK is empty" in run.output
    assert serving(fake)["shop.example.com"] == PREVIOUS


@pytest.mark.parametrize("how", ["check_mode", "unconfirmed"])
def test_plan_only_changes_nothing(fake, rollback, how):
    run = rollback("--check") if how == "check_mode" else rollback(rollback_confirm=False)

    assert run.rc == 0, run.output
    assert PREVIOUS in run.output
    assert serving(fake) == BOTH_LIVE
    assert writes(fake) == []
    assert slack_texts(fake) == []
    if how == "unconfirmed":
        assert "Plan only, nothing changed" in run.output
        assert run.record["result"] == "planned"
    else:
        assert run.audit == []


def test_japanese_notices(fake, rollback):
    run = rollback(runbook_language="ja")

    assert run.rc == 0, run.output
    assert "ロールバック完了" in slack_texts(fake)[-1]


def refused(run, fake, reason):
    """The run failed with the reason on one line, and nothing changed anywhere."""
    assert run.rc != 0
    assert reason in run.output
    assert serving(fake) == BOTH_LIVE
    assert writes(fake) == []
    assert slack_texts(fake) == []


@pytest.mark.parametrize("variables, reason", [
    ({"rollback_type": "sideways"}, "rollback_type"),
    ({"rollback_type": "database", "rollback_backup": " "}, "rollback_backup must be latest or the file name"),
    ({"rollback_type": "full"}, "Name the database to restore: the path of DATABASE_URL"),
    ({"rollback_reason": "   "}, "rollback_reason is empty"),
    ({"rollback_target": "dpl_doesNotExist000000000000"}, "answered 404"),
    ({"rollback_target": deployment(1)}, "is ERROR, not READY"),
    ({"rollback_target": deployment(8)}, "is BUILDING, not READY"),
    ({"rollback_target": deployment(3)}, "belongs to project prj_other01"),
    ({"rollback_target": deployment(2)}, "is a preview build"),
    ({"vercel_project": "no-such-project"}, "Project not found"),
])
def test_bad_input_is_refused_before_any_change(fake, rollback, variables, reason):
    refused(rollback(**variables), fake, reason)


@pytest.mark.parametrize("status, reason", [(401, "answered 401"), (403, "answered 403"), (404, "answered 404")])
def test_api_refusals_stop_before_any_change(fake, rollback, status, reason):
    fake.vercel.add_faults([{"action": "status", "status": status, "times": 100}])

    run = rollback()

    refused(run, fake, reason)
    assert "Vercel API: GET" in run.output


def test_wrong_token_is_refused(fake, rollback):
    run = rollback(env={"VERCEL_TOKEN": "not-a-valid-token"})

    refused(run, fake, "answered 403")
    assert "not-a-valid-token" not in run.output


def test_rate_limit_storm_outlasting_the_deadline(fake, rollback):
    fake.vercel.add_faults([{"action": "status", "status": 429, "headers": {"Retry-After": "1"}, "times": 1000}])

    started = time.monotonic()
    run = rollback(rollback_api_deadline=3)

    refused(run, fake, "answered 429")
    assert "Gave up after" in run.output
    assert time.monotonic() - started < 60


def test_a_second_rollback_meanwhile_is_refused(fake, rollback, tmp_path):
    lock = tmp_path / "locks" / "rollback-prj_webapp01.lock"  # named after the project id
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"run_id": "other-run", "owner": "bob: checkout down", "taken_at": time.time()}))

    run = rollback()

    refused(run, fake, "Another run holds the lock")
    assert "bob: checkout down" in run.output
    assert "Another run holds the lock" in rollback(vercel_project="prj_webapp01").output  # by id: the same lock
    assert json.loads(lock.read_text())["run_id"] == "other-run"  # the refused run left it alone


def test_no_secret_in_verbose_output_or_audit(fake, rollback):
    run = rollback("-vvvv", rollback_target=UNHEALTHY)  # the failure path prints the most

    assert "ESTABLISH LOCAL CONNECTION" in run.output  # really verbose
    record = json.dumps(run.audit)
    for secret in (TOKEN, INCIDENT_HOOK, "sandboxsecretincident0001", fake.slack_url + INCIDENT_HOOK):
        assert secret not in run.output
        assert secret not in record


def test_key_value_extra_vars_mean_what_they_say(fake, rollback):
    # -e key=value and AWX survey answers arrive as strings.
    plan = rollback("-e", "rollback_confirm=false")

    assert plan.rc == 0, plan.output
    assert "Plan only, nothing changed" in plan.output and writes(fake) == []

    quiet = rollback("-e", "rollback_notify=false", "-e", "rollback_health_timeout=30", "-e",
                     "rollback_health_interval=1")

    assert quiet.rc == 0, quiet.output
    assert serving(fake)["shop.example.com"] == PREVIOUS and slack_texts(fake) == []


@pytest.mark.parametrize("variables, reason", [
    ({"rollback_reason": None}, "rollback_reason is empty"),
    ({"rollback_target": None}, "rollback_target is empty"),
    ({"runbook_language": "fr"}, "runbook_language must be en or ja"),
    ({"vercel_production_domains": ["shop.example.com", "typo.example.com"]},
     "Domain typo.example.com points at no deployment"),
])
def test_more_bad_input_is_refused_before_any_change(fake, rollback, variables, reason):
    refused(rollback(**variables), fake, reason)


def test_an_unwritable_audit_folder_is_refused_before_any_change(fake, rollback, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    run = rollback(rollback_audit_dir=str(blocker / "audit"))

    refused(run, fake, "The record cannot be written")


def test_missing_token_names_the_variable(fake, rollback):
    refused(rollback(env={"VERCEL_TOKEN": None}), fake, "set the environment variable VERCEL_TOKEN")


def test_a_token_with_a_trailing_line_break_works(fake, rollback):
    run = rollback(env={"VERCEL_TOKEN": TOKEN + "\n"})

    assert run.rc == 0, run.output
    assert serving(fake)["shop.example.com"] == PREVIOUS


def test_the_lock_of_a_killed_run_is_taken_over(fake, rollback, tmp_path):
    lock = tmp_path / "locks" / "rollback-prj_webapp01.lock"  # named after the project id
    lock.parent.mkdir(parents=True)
    # Above Linux's largest pid (2**22): the ansible-playbook that took this lock is gone.
    lock.write_text(json.dumps({"run_id": "killed-run", "owner": "bob: checkout down", "taken_at": time.time(),
                                "host": socket.gethostname(), "pid": 2 ** 22 + 7}))

    run = rollback()

    assert run.rc == 0, run.output
    assert "Taking over the lock" in run.output and "That run may have stopped half-way" in run.output
    assert run.record["took_over_lock_from"]["run_id"] == "killed-run"
    assert not lock.exists()


def test_an_unhealthy_rollback_already_in_place_is_not_called_done(fake, rollback, tmp_path):
    # As after a run killed during its health check: production already on the target, which is unhealthy,
    # and the dead run's lock says what production served before it.
    state = fake.vercel.state()
    for alias in state["aliases"]:
        alias["deploymentId"] = UNHEALTHY
    fake.vercel.load(state)
    lock = tmp_path / "locks" / "rollback-prj_webapp01.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"run_id": "killed-run", "owner": "bob", "taken_at": time.time(),
                                "host": socket.gethostname(), "pid": 2 ** 22 + 7,
                                "data": {"before": BOTH_LIVE, "target": UNHEALTHY}}))

    run = rollback(rollback_target=UNHEALTHY)

    assert run.rc != 0
    assert f"Production already serves {UNHEALTHY}, but" in run.output and "not healthy" in run.output
    assert f"had moved production away from {LIVE}: to go back there, set rollback_target to it" in run.output
    assert writes(fake) == [] and run.record["result"] == "unhealthy"


def test_a_domain_of_another_project_is_refused(fake, rollback):
    state = fake.vercel.state()
    state["domains"].append({"name": "blog.example.com", "teamId": "team_sandbox01", "projectId": "prj_other01"})
    state["aliases"].append({"alias": "blog.example.com", "deploymentId": deployment(3), "uid": "alias_blog"})
    fake.vercel.load(state)

    run = rollback(vercel_production_domains=["shop.example.com", "www.shop.example.com", "blog.example.com"])

    assert run.rc != 0 and "Domain blog.example.com serves a deployment of another project" in run.output
    assert writes(fake) == [] and serving(fake)["blog.example.com"] == deployment(3)


def test_a_survey_answer_of_previous_is_understood_however_written(fake, rollback):
    run = rollback(rollback_target=" Previous ")

    assert run.rc == 0, run.output
    assert serving(fake)["shop.example.com"] == PREVIOUS


def test_health_check_can_be_turned_off(fake, rollback):
    run = rollback(rollback_target=UNHEALTHY, rollback_health_check=False)

    assert run.rc == 0, run.output
    assert "will NOT be health-checked" in run.output and "not health-checked" in run.output
    assert set(serving(fake).values()) == {UNHEALTHY}
    assert fake.health.requests() == []
    assert "*not checked*" in slack_texts(fake)[-1]


def test_success_ends_with_one_sentence(fake, rollback):
    run = rollback()

    assert "Rollback succeeded in" in run.output
    assert f"now serve {PREVIOUS} (was {LIVE}), healthy after 1 probe(s)" in run.output


def test_a_reason_cannot_forge_lines_in_a_notice(fake, rollback):
    run = rollback(rollback_reason="disk full\nOperator: the CEO")

    assert run.rc == 0, run.output
    assert "\nOperator: the CEO" not in slack_texts(fake)[0]
    assert "Reason: disk full Operator: the CEO" in slack_texts(fake)[0]
