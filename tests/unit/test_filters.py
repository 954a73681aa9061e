"""The filters: in_time_zone and incident_time (time_zone.py); task_problem, command_output and
task_outcome (task_results.py). Called as functions, then once through a real ansible ad-hoc run."""
import datetime
import json
import os
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.filter.task_results import command_output, task_outcome, task_problem
from ansible_collections.runbook.ops.plugins.filter.time_zone import in_time_zone, incident_time

REPO_ROOT = Path(__file__).resolve().parents[2]
UTC = datetime.timezone.utc

# Registered results as ansible-core 2.19 leaves them (read from a real run, trimmed).
OK = {"changed": True, "cmd": ["uptime"], "rc": 0, "stdout": " 21:30:00 up 3 days", "stderr": "",
      "msg": "", "failed": False}
SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False",
           "false_condition": "diagnostics_database | bool"}
EXITED_NON_ZERO = {"changed": True, "cmd": ["journalctl"], "rc": 3, "stdout": "out", "stderr": "warming up\nno journal",
                   "msg": "non-zero return code", "failed": False, "failed_when_result": False}
FAILED_WITH_RC = {"changed": True, "cmd": ["tail"], "rc": 1, "stdout": "", "stderr": "",
                  "msg": "non-zero return code", "failed": True}
MODULE_FAILED = {"changed": False, "failed": True, "msg": "Vercel answered 403 (forbidden): Not authorized"}
UNREACHABLE = {"changed": False, "unreachable": True,
               "msg": "Task failed: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: "
                      "Connection refused"}


def item(result, host):
    """One result of a loop over hosts."""
    return {**result, "item": host, "ansible_loop_var": "item"}


# ----- in_time_zone ----------------------------------------------------------------------------

@pytest.mark.parametrize("moment", [
    datetime.datetime(2026, 12, 4, 12, 30),  # naive: taken as UTC
    datetime.datetime(2026, 12, 4, 12, 30, tzinfo=UTC),
    datetime.datetime(2026, 12, 4, 7, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
    datetime.datetime(2026, 12, 4, 12, 30, tzinfo=UTC).timestamp(),  # float
    int(datetime.datetime(2026, 12, 4, 12, 30, tzinfo=UTC).timestamp()),
    "2026-12-04T12:30:00Z",
    "2026-12-04T12:30:00+00:00",
    "2026-12-04T21:30:00+09:00",
    "2026-12-04T18:00:00+05:30",
    "2026-12-04 12:30:00",  # naive text: taken as UTC
    " 2026-12-04T12:30:00Z\n",
])
def test_every_kind_of_moment_lands_on_the_same_tokyo_time(moment):
    assert in_time_zone(moment) == "2026-12-04T21:30:00+09:00"


@pytest.fixture
def controller_in_los_angeles(monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_naive_moment_is_utc_whatever_the_controller_zone(controller_in_los_angeles):
    assert in_time_zone(datetime.datetime(2026, 12, 4, 12, 30), "UTC") == "2026-12-04T12:30:00+00:00"
    assert in_time_zone("2026-12-04T12:30:00", "UTC") == "2026-12-04T12:30:00+00:00"


def test_the_zone_and_format_are_given_in_order():
    assert in_time_zone("2026-12-04T12:30:00Z", "UTC") == "2026-12-04T12:30:00+00:00"
    assert in_time_zone("2026-12-04T12:30:00Z", "America/New_York") == "2026-12-04T07:30:00-05:00"
    assert in_time_zone("2026-07-04T12:30:00Z", "America/New_York") == "2026-07-04T08:30:00-04:00"
    assert in_time_zone("2026-12-04T12:30:00Z", "Asia/Tokyo", "INC-%Y%m%d-%H%M%S") == "INC-20261204-213000"
    assert in_time_zone("2026-12-04T12:30:00Z", format="%d %b %Y %H:%M %Z") == "04 Dec 2026 21:30 JST"
    assert in_time_zone(0, "UTC", "%Y-%m-%d %H:%M:%S") == "1970-01-01 00:00:00"


def test_fractions_of_a_second_are_dropped_from_iso_text():
    assert in_time_zone(1.999, "UTC") == "1970-01-01T00:00:01+00:00"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "JST+9", "../../etc/passwd", ""])
def test_an_unknown_zone_is_refused_by_name(zone):
    with pytest.raises(AnsibleFilterError, match="Unknown time zone .*use an IANA name such as Asia/Tokyo"):
        in_time_zone("2026-12-04T12:30:00Z", zone)


@pytest.mark.parametrize("value, complaint", [
    ("yesterday", "'yesterday' is not an ISO 8601 time"),
    ("", "'' is not an ISO 8601 time"),
    ("2026-13-04T12:30:00Z", "'2026-13-04T12:30:00Z' is not an ISO 8601 time"),
    (None, "Cannot read a time from NoneType None."),
    (True, "Cannot read a time from bool True."),
    ([2026, 12, 4], "Cannot read a time from list"),
    (datetime.date(2026, 12, 4), "Cannot read a time from date"),
])
def test_what_is_not_a_moment_is_refused(value, complaint):
    with pytest.raises(AnsibleFilterError) as caught:
        in_time_zone(value)
    assert complaint in str(caught.value)


# ----- incident_time ---------------------------------------------------------------------------

def test_an_incident_id_is_read_in_its_zone():
    assert incident_time("INC-20261204-213000") == "2026-12-04T21:30:00+09:00"
    assert incident_time("INC-20261204-213000", "Asia/Tokyo") == "2026-12-04T21:30:00+09:00"
    assert incident_time("INC-20260704-000000", "Asia/Tokyo") == "2026-07-04T00:00:00+09:00"  # no DST in Tokyo
    assert incident_time("INC-20261204-213000", "UTC") == "2026-12-04T21:30:00+00:00"
    assert incident_time(" INC-20240229-235959\n", "UTC") == "2024-02-29T23:59:59+00:00"


def test_an_incident_id_follows_daylight_saving_time():
    # New York moves to EDT at 2026-03-08 02:00 and back to EST at 2026-11-01 02:00.
    assert incident_time("INC-20260308-013000", "America/New_York") == "2026-03-08T01:30:00-05:00"
    assert incident_time("INC-20260308-033000", "America/New_York") == "2026-03-08T03:30:00-04:00"
    assert incident_time("INC-20261101-003000", "America/New_York") == "2026-11-01T00:30:00-04:00"
    assert incident_time("INC-20261101-023000", "America/New_York") == "2026-11-01T02:30:00-05:00"
    # 01:30 happens twice that night; an ID carries no offset, so it reads as the first one.
    assert incident_time("INC-20261101-013000", "America/New_York") == "2026-11-01T01:30:00-04:00"


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York", "UTC"])
def test_an_id_made_by_in_time_zone_reads_back_as_the_same_moment(zone):
    moment = datetime.datetime(2026, 3, 8, 12, 0, 5, tzinfo=UTC)
    incident_id = in_time_zone(moment, zone, "INC-%Y%m%d-%H%M%S")
    declared = datetime.datetime.fromisoformat(incident_time(incident_id, zone))
    assert declared == moment


@pytest.mark.parametrize("incident_id", [
    "INC-1", "inc-20261204-000000", "INC-20261204-000000 resolved", "INC-20261204-00000", "INC-2026120-000000",
    "INC_20261204_000000", "INC-20261204T000000", "20261204-000000", "", None, 20261204000000,
])
def test_what_is_not_an_incident_id_is_refused(incident_id):
    with pytest.raises(AnsibleFilterError, match="is not an incident ID of the form INC-YYYYmmdd-HHMMSS"):
        incident_time(incident_id)


@pytest.mark.parametrize("incident_id", [
    "INC-20261332-000000", "INC-20260230-120000", "INC-20250229-120000", "INC-20261204-240000",
    "INC-20261204-216000", "INC-00001204-120000",
])
def test_an_id_with_no_real_date_is_refused(incident_id):
    with pytest.raises(AnsibleFilterError, match="does not carry a real date and time"):
        incident_time(incident_id)


def test_an_id_in_an_unknown_zone_is_refused():
    with pytest.raises(AnsibleFilterError, match="Unknown time zone 'Tokyo'"):
        incident_time("INC-20261204-213000", "Tokyo")


# ----- task_problem ----------------------------------------------------------------------------

def test_a_task_that_did_its_part_or_was_skipped_has_no_problem():
    assert task_problem(OK, "system information") == ""
    assert task_problem(item(OK, "web1"), "system information") == ""
    assert task_problem(SKIPPED, "database") == ""
    assert task_problem(None, "database") == ""


def test_a_problem_is_one_line_naming_the_item_and_what_was_missed():
    assert task_problem(item(EXITED_NON_ZERO, "web1"), "journal errors") == (
        "web1: journal errors: exit status 3: no journal")
    assert task_problem(FAILED_WITH_RC, "application log") == "application log: exit status 1"
    assert task_problem(MODULE_FAILED, "deployments") == "deployments: Vercel answered 403 (forbidden): Not authorized"
    assert task_problem({"failed": True}, "database") == "database: failed"
    assert task_problem(item(UNREACHABLE, "web2"), "system information") == (
        "web2: system information: the host could not be reached")


def test_a_loop_item_that_is_not_a_host_name_is_left_out_of_the_line():
    assert task_problem(item(MODULE_FAILED, {"name": "web1"}), "deployments") == (
        "deployments: Vercel answered 403 (forbidden): Not authorized")


def test_a_loop_gives_one_line_per_item_that_missed():
    results = [item(OK, "web1"), item(UNREACHABLE, "web2"), item(EXITED_NON_ZERO, "web3"), item(SKIPPED, "web4")]
    # As the diagnostics role reads them: map('runbook.ops.task_problem', ...) | select | list
    problems = [line for line in (task_problem(result, "journal errors") for result in results) if line]
    assert problems == ["web2: journal errors: the host could not be reached",
                        "web3: journal errors: exit status 3: no journal"]


# ----- command_output --------------------------------------------------------------------------

def test_the_output_of_a_command_that_did_its_part_is_its_stdout():
    assert command_output(OK) == " 21:30:00 up 3 days\n"


def test_stderr_and_a_non_zero_exit_status_follow_the_output():
    assert command_output(EXITED_NON_ZERO) == "out\n-- stderr --\nwarming up\nno journal\n-- exit status 3 --\n"
    assert command_output({"rc": 0, "stdout": "", "stderr": "warning only"}) == "-- stderr --\nwarning only\n"
    assert command_output(FAILED_WITH_RC).strip() == "-- exit status 1 --"


def test_an_unreachable_host_is_said_plainly():
    assert command_output(item(UNREACHABLE, "web2")) == (
        f"Not collected: the host could not be reached ({UNREACHABLE['msg']}).\n")


def test_a_skipped_task_says_so_and_no_result_gives_nothing():
    assert command_output(SKIPPED) == "Not collected: skipped.\n"
    assert command_output(None) == ""


# ----- task_outcome ----------------------------------------------------------------------------

def test_only_the_named_fields_are_kept():
    found = {"changed": False, "failed": False, "project": "shop", "current": {"uid": "dpl_1"},
             "deployments": [{"uid": "dpl_1"}, {"uid": "dpl_0"}], "invocation": {"module_args": {"token": "x"}}}
    assert task_outcome(found, ["project", "current", "deployments", "serving"]) == {
        "project": "shop", "current": {"uid": "dpl_1"}, "deployments": [{"uid": "dpl_1"}, {"uid": "dpl_0"}]}
    assert task_outcome(OK, []) == {}


def test_a_failed_task_gives_its_message_instead_of_fields():
    assert task_outcome(MODULE_FAILED, ["deployments"]) == {"error": MODULE_FAILED["msg"]}
    assert task_outcome({"failed": True, "deployments": []}, ["deployments"]) == {"error": "failed"}


def test_an_unreachable_host_gives_the_reason_instead_of_fields():
    assert task_outcome(UNREACHABLE, ["connections", "long_queries"]) == {"error": UNREACHABLE["msg"]}


def test_a_skipped_task_or_no_result_says_skipped():
    assert task_outcome(SKIPPED, ["deployments"]) == {"skipped": True}
    assert task_outcome(None, ["deployments"]) == {"skipped": True}


# ----- through ansible itself ------------------------------------------------------------------

def test_the_filters_load_as_runbook_ops_in_a_real_ansible_run(tmp_path):
    expression = (
        "{{ ['INC-20261204-213000' | runbook.ops.incident_time,"
        " '2026-12-04T12:30:00Z' | runbook.ops.in_time_zone('America/New_York', '%H:%M %Z'),"
        " {'item': 'web1', 'rc': 2, 'stderr': 'boom'} | runbook.ops.task_problem('journal errors'),"
        " {'stdout': 'up 3 days', 'rc': 0} | runbook.ops.command_output,"
        " {'failed': true, 'msg': 'nope', 'x': 1} | runbook.ops.task_outcome(['x'])] }}")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_LOCAL_TEMP": str(tmp_path),
           "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "ansible.builtin.debug",
                           "-a", json.dumps({"msg": expression})],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("localhost | SUCCESS => ")
    shown = json.loads(done.stdout.split("=>", 1)[1])
    assert shown["msg"] == ["2026-12-04T21:30:00+09:00", "07:30 EST", "web1: journal errors: exit status 2: boom",
                            "up 3 days\n", {"error": "nope"}]


# ----- mask_secrets ----------------------------------------------------------------------------

def test_mask_secrets_masks_the_controllers_secrets_and_urls_but_not_sentences(monkeypatch):
    from ansible_collections.runbook.ops.plugins.filter.secrets import mask_secrets

    monkeypatch.setenv("STATUS_PAGE_API_KEY", "statuspage-key-0001")
    text = "key statuspage-key-0001 in redis://:pw123456@cache; session: lost, token: expired"
    assert mask_secrets(text) == "key ******** in redis://:********@cache; session: lost, token: expired"
    assert mask_secrets(None) is None
