"""The schedule definition's filters: the runbook's schedules said as an AWX RRULE, a systemd OnCalendar and a cron
line, each form's next run times computed by the scheduler's own rules (dateutil as AWX uses it, systemd-analyze)
and compared with the times read from the definition."""
import datetime
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from dateutil.rrule import rrulestr

from ansible_collections.runbook.ops.plugins.filter.schedules import (
    schedule_day_matches,
    schedule_next_runs,
    schedule_plans,
    schedule_problems,
)

DEFAULTS = Path(__file__).resolve().parents[2] / "roles/schedule/defaults/main/schedule.yml"
# Midnight of Saturday 2026-12-05 in Tokyo.
AFTER = "2026-12-04T15:00:00Z"


@pytest.fixture(scope="module")
def runbook_plans():
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    return {plan["name"]: plan for plan in schedule_plans(defaults["schedule_entries"],
                                                          defaults["schedule_time_zone"])}


def awx_runs(plan, count, after=AFTER):
    """The run times AWX computes: dateutil reads the rule, as in AWX's Schedule model."""
    rule = rrulestr(plan["rrule"].replace(" RRULE:", "\nRRULE:"), forceset=True)
    start = datetime.datetime.fromisoformat(after.replace("Z", "+00:00"))
    runs, moment = [], start
    while len(runs) < count:
        moment = rule.after(moment)
        runs.append(moment.isoformat(timespec="minutes"))
    return runs


def systemd_runs(plan, count, after=AFTER):
    """The run times systemd computes for the timer's OnCalendar, in UTC."""
    base = datetime.datetime.fromisoformat(after.replace("Z", "+00:00"))
    done = subprocess.run(["systemd-analyze", "calendar", f"--iterations={count}",
                           f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC", plan["on_calendar"]],
                          env={**os.environ, "TZ": "UTC"}, capture_output=True, text=True, check=True)
    return re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d):\d\d UTC", done.stdout)


def in_utc(runs):
    return [datetime.datetime.fromisoformat(run).astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
            for run in runs]


def test_the_runbook_schedules_run_when_the_runbook_says(runbook_plans):
    def next_runs(name, count=3):
        return schedule_next_runs(runbook_plans[name], count, AFTER)

    # 2026-12-05 is a Saturday; 2026-12-06 the first Sunday of December, 2026-12-27 its last.
    assert next_runs("maintenance-daily") == ["2026-12-05T03:00+09:00", "2026-12-06T03:00+09:00",
                                              "2026-12-07T03:00+09:00"]
    assert next_runs("maintenance-weekly") == ["2026-12-06T02:00+09:00", "2026-12-13T02:00+09:00",
                                               "2026-12-20T02:00+09:00"]
    assert next_runs("maintenance-monthly") == ["2026-12-06T01:00+09:00", "2027-01-03T01:00+09:00",
                                                "2027-02-07T01:00+09:00"]
    assert next_runs("maintenance-quarterly") == ["2026-12-27T01:00+09:00", "2027-03-28T01:00+09:00",
                                                  "2027-06-27T01:00+09:00"]
    assert next_runs("daily-check-morning", 2) == ["2026-12-05T09:00+09:00", "2026-12-06T09:00+09:00"]
    assert next_runs("daily-check-hourly", 2) == ["2026-12-05T01:00+09:00", "2026-12-05T02:00+09:00"]
    assert next_runs("daily-check-evening", 2) == ["2026-12-05T18:00+09:00", "2026-12-06T18:00+09:00"]
    assert {name: plan["vars"] for name, plan in runbook_plans.items()}["maintenance-quarterly"] == \
        {"maintenance_level": "quarterly"}


def test_awx_computes_the_same_runs_from_the_rrule(runbook_plans):
    for plan in runbook_plans.values():
        assert awx_runs(plan, 8) == schedule_next_runs(plan, 8, AFTER), plan["name"]


def test_the_rrules_keep_within_what_awx_accepts(runbook_plans):
    # docs/schedules.md of AWX: a DTSTART with a time zone first, one DTSTART, INTERVAL in every rule, no
    # FREQ=SECONDLY, no BYDAY with a number, no COUNT and UNTIL together.
    for plan in runbook_plans.values():
        start, rule = plan["rrule"].split(" ")
        assert re.fullmatch(r"DTSTART;TZID=[A-Za-z_/]+:\d{8}T\d{6}", start)
        fields = dict(part.split("=") for part in rule.removeprefix("RRULE:").split(";"))
        assert "INTERVAL" in fields and fields["FREQ"] != "SECONDLY"
        assert not re.search(r"[-+]?\d(MO|TU|WE|TH|FR|SA|SU)", fields.get("BYDAY", ""))
        assert not ("COUNT" in fields and "UNTIL" in fields)


def test_systemd_computes_the_same_runs_from_the_timer(runbook_plans):
    for plan in runbook_plans.values():
        ours = in_utc(schedule_next_runs(plan, 6, AFTER))
        assert systemd_runs(plan, 6) == ours, plan["name"]


def test_a_time_zone_with_summer_time_keeps_the_local_hour():
    plan, = schedule_plans([{"name": "ny", "playbook": "backup", "at": "03:00", "time_zone": "America/New_York"}])
    after = "2027-03-12T12:00:00Z"

    runs = schedule_next_runs(plan, 3, after)

    # Clocks go forward on 2027-03-14: the local hour stays, the offset changes.
    assert runs == ["2027-03-13T03:00-05:00", "2027-03-14T03:00-04:00", "2027-03-15T03:00-04:00"]
    assert awx_runs(plan, 3, after) == runs
    assert systemd_runs(plan, 3, after) == in_utc(runs)


def test_cron_says_what_it_can_and_leaves_the_week_to_the_run(runbook_plans):
    assert runbook_plans["maintenance-daily"]["cron"] == "CRON_TZ=Asia/Tokyo 0 3 * * *"
    assert runbook_plans["daily-check-hourly"]["cron"] == "CRON_TZ=Asia/Tokyo 0 * * * *"
    assert runbook_plans["maintenance-weekly"]["cron"] == "CRON_TZ=Asia/Tokyo 0 2 * * 0"
    assert runbook_plans["maintenance-quarterly"]["cron"] == "CRON_TZ=Asia/Tokyo 0 1 * 3,6,9,12 0"
    assert runbook_plans["maintenance-quarterly"]["cron_day_check"] == {"weekday": "sunday", "week": "last"}
    assert runbook_plans["maintenance-weekly"]["cron_day_check"] == {}


@pytest.mark.parametrize("day, check, expected", [
    ("2026-12-06", {"weekday": "sunday", "week": "first"}, True),
    ("2026-12-13", {"weekday": "sunday", "week": "first"}, False),
    ("2026-12-27", {"weekday": "sunday", "week": "last"}, True),
    ("2026-12-20", {"weekday": "sunday", "week": "last"}, False),
    ("2027-02-28", {"weekday": "sunday", "week": "last"}, True),
    ("2026-12-05", {"weekday": "sunday", "week": "first"}, False),
    ("2026-12-05", {}, True),
])
def test_a_day_matches_the_first_or_last_weekday_of_its_month(day, check, expected):
    assert schedule_day_matches(day, check) is expected


def test_a_bad_day_or_check_is_refused_by_name():
    with pytest.raises(AnsibleFilterError, match="YYYY-MM-DD"):
        schedule_day_matches("2026-02-30", {"weekday": "sunday", "week": "first"})
    with pytest.raises(AnsibleFilterError, match="weekday 'sun'"):
        schedule_day_matches("2026-12-06", {"weekday": "sun", "week": "first"})


def test_every_problem_of_a_definition_is_named_and_nothing_is_planned():
    entries = [
        {"name": "Nightly Backup", "playbook": "backup", "at": "3:00"},
        {"name": "drill", "playbook": "dr_drills", "at": "24:00", "weekday": "someday", "week": "second",
         "months": [0, 13], "vars": ["x"], "enabled": "yes", "timeout_minutes": 0, "when": "nightly"},
        {"name": "tokyo", "playbook": "backup", "at": "*:15", "time_zone": "Asia/Tokio"},
        {"name": "tokyo", "playbook": "backup", "at": "04:00", "week": "first"},
        "not an entry",
    ]

    problems = " ".join(schedule_problems(entries))

    for expected in ["'Nightly Backup' needs a name of lower-case letters", "'Nightly Backup' needs at: HH:MM",
                     "'drill' names playbook 'dr_drills'", "'drill' has weekday 'someday'",
                     "'drill' has week 'second'", "'drill' has months [0, 13]", "'drill' has vars",
                     "'drill' has enabled 'yes'", "'drill' has timeout_minutes 0", "'drill' has unknown keys when",
                     "'tokyo' has time zone 'Asia/Tokio'", "'tokyo' has week 'first': it must be first or last, with "
                     "a weekday", "'tokyo' is defined more than once", "entry 5 is not a mapping"]:
        assert expected in problems
    with pytest.raises(AnsibleFilterError, match="dr_drills"):
        schedule_plans(entries)
    assert schedule_problems({"name": "x"}) == ["The schedule definition must be a list of entries."]


def test_a_good_definition_has_no_problem(runbook_plans):
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    assert schedule_problems(defaults["schedule_entries"]) == []
    assert len(runbook_plans) == 7


def test_the_sandbox_inventory_writes_out_the_runbook_definition():
    sandbox = yaml.safe_load((DEFAULTS.parents[4] / "inventories/sandbox/group_vars/all.yml").read_text())
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    assert (sandbox["schedule_time_zone"], sandbox["schedule_entries"]) == \
        (defaults["schedule_time_zone"], defaults["schedule_entries"])
