"""The cron lines Semaphore gets run exactly when the schedule definition says.

Each line is evaluated the way cron reads it: croniter, with the CRON_TZ= prefix taken off and its zone applied (as
robfig/cron, Semaphore's scheduler, does with it), then the entry's ``cron_day_check`` applied with
``schedule_day_matches``, as the maintenance play does with ``maintenance_only_on``. What that gives must be what
``schedule_next_runs`` computes from the rule itself. Every line must also be one robfig/cron's ParseStandard
accepts (the fake Semaphore's copy of its rules), or Semaphore refuses the schedule.

Where cron and the rule part, in a zone with daylight saving time, the tests say how, rather than hide it.
"""
import datetime
import zoneinfo

import pytest
import yaml
from croniter import croniter

from ansible_collections.runbook.ops.plugins.filter.schedules import (schedule_day_matches, schedule_next_runs,
                                                                      schedule_plans)
from tests.conftest import REPO_ROOT
from tests.fakes.semaphore import cron_problem

DEFAULTS = yaml.safe_load((REPO_ROOT / "roles/schedule/defaults/main/schedule.yml").read_text(encoding="utf-8"))
PLANS = schedule_plans(DEFAULTS["schedule_entries"], DEFAULTS["schedule_time_zone"])
AFTER = "2026-02-20T00:00:00Z"


def plan_for(**entry):
    return schedule_plans([{"name": "entry", "playbook": "maintenance", **entry}], "UTC")[0]


def cron_runs(plan, count, after=AFTER):
    """The first ``count`` times after ``after`` that the plan's cron line fires and its day check lets run."""
    prefix, _space, line = plan["cron"].partition(" ")
    assert prefix.startswith("CRON_TZ="), plan["cron"]
    zone = zoneinfo.ZoneInfo(prefix.split("=", 1)[1])
    start = datetime.datetime.fromisoformat(after.replace("Z", "+00:00")).astimezone(zone)
    fired = croniter(line, start)
    runs = []
    while len(runs) < count:
        moment = fired.get_next(datetime.datetime)
        if schedule_day_matches(moment.date().isoformat(), plan["cron_day_check"]):
            runs.append(moment.isoformat(timespec="minutes"))
    return runs


@pytest.mark.parametrize("plan", PLANS, ids=[plan["name"] for plan in PLANS])
def test_each_default_cron_line_runs_when_the_rule_says(plan):
    # Enough runs to cross months and, for the quarterly one, years.
    count = 30 if plan["rule"]["hour"] is None else 8

    assert cron_runs(plan, count) == schedule_next_runs(plan, count, AFTER)


@pytest.mark.parametrize("plan", PLANS, ids=[plan["name"] for plan in PLANS])
def test_each_default_cron_line_is_one_semaphore_accepts(plan):
    assert cron_problem(plan["cron"]) is None


def test_only_the_week_rules_need_the_day_check_and_their_cron_runs_every_such_weekday():
    checked = {plan["name"]: plan["cron_day_check"] for plan in PLANS if plan["cron_day_check"]}

    assert checked == {"maintenance-monthly": {"weekday": "sunday", "week": "first"},
                       "maintenance-quarterly": {"weekday": "sunday", "week": "last"}}
    # Without its day check, the monthly line fires on every Sunday: four or five times a month, not once.
    every_sunday = croniter("0 1 * * 0", datetime.datetime(2026, 3, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")))
    fired = [every_sunday.get_next(datetime.datetime).day for _run in range(5)]
    assert fired == [1, 8, 15, 22, 29]


def test_a_line_with_a_day_of_month_and_a_weekday_would_run_on_either():
    # Why no line says "day 1-7 and Sunday": cron (and robfig/cron) runs when either field matches.
    either = croniter("0 1 1-7 * 0", datetime.datetime(2026, 3, 1, tzinfo=zoneinfo.ZoneInfo("UTC")))

    assert [either.get_next(datetime.datetime).day for _run in range(9)] == [1, 2, 3, 4, 5, 6, 7, 8, 15]


def test_the_hour_daylight_saving_time_skips():
    """New York, daily at 02:30: on 2026-03-08 the clocks go from 02:00 to 03:00, and 02:30 does not happen.

    The three readings part that day, and only that day:

    * the rule (``schedule_next_runs``) names 02:30 with the offset before the change, -05:00, which is 03:30 EDT;
    * croniter runs at 03:00 EDT, the first minute after the gap, as ISC cron does;
    * robfig/cron v3, Semaphore's scheduler, steps hour by hour in real time (01:00 EST, then 03:00 EDT) and never
      sees a 02, so Semaphore does not run the entry that day at all (read in its ``SpecSchedule.Next``).

    So a Semaphore entry in the skipped hour misses one day a year; give such an entry another hour, or a time zone
    without daylight saving time, when that matters.
    """
    plan = plan_for(at="02:30", time_zone="America/New_York")
    after = "2026-03-06T12:00:00Z"

    rule, cron = schedule_next_runs(plan, 4, after), cron_runs(plan, 4, after)

    assert plan["cron"] == "CRON_TZ=America/New_York 30 2 * * *"
    assert rule == ["2026-03-07T02:30-05:00", "2026-03-08T02:30-05:00", "2026-03-09T02:30-04:00",
                    "2026-03-10T02:30-04:00"]
    assert cron == ["2026-03-07T02:30-05:00", "2026-03-08T03:00-04:00", "2026-03-09T02:30-04:00",
                    "2026-03-10T02:30-04:00"]
    assert [a for a, b in zip(rule, cron) if a != b] == ["2026-03-08T02:30-05:00"]


def test_the_hour_daylight_saving_time_repeats():
    """New York, daily at 01:30: on 2026-11-01 the clocks go from 02:00 back to 01:00, and 01:30 happens twice.

    The rule names the first one (EDT, -04:00) only; croniter, like robfig/cron v3 (which steps minute by minute in
    real time and meets 01:30 again an hour later), runs at both, so Semaphore runs the entry twice that night.
    """
    plan = plan_for(at="01:30", time_zone="America/New_York")
    after = "2026-10-31T12:00:00Z"

    rule, cron = schedule_next_runs(plan, 3, after), cron_runs(plan, 4, after)

    assert rule == ["2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00", "2026-11-03T01:30-05:00"]
    assert cron == ["2026-11-01T01:30-04:00", "2026-11-01T01:30-05:00", "2026-11-02T01:30-05:00",
                    "2026-11-03T01:30-05:00"]


def test_away_from_the_changes_a_zone_with_daylight_saving_time_agrees():
    plan = plan_for(at="02:30", weekday="sunday", week="last", time_zone="America/New_York")
    after = "2026-04-01T00:00:00Z"

    assert cron_runs(plan, 6, after) == schedule_next_runs(plan, 6, after)


@pytest.mark.parametrize("line, problem", [
    ("CRON_TZ=Asia/Tokyo 0 1 * * 0", None),
    ("CRON_TZ=Mars/Olympus 0 1 * * 0", "provided bad location Mars/Olympus"),
    ("0 1 * *", "expected exactly 5 fields, found 4"),
    ("0 24 * * *", "end of range (24) above maximum (23)"),
    ("0 1 * 3,6,9,12 SUN", None),
    ("*/15 * * * 7", "end of range (7) above maximum (6)"),
])
def test_the_fake_reads_cron_lines_as_robfig_cron_does(line, problem):
    found = cron_problem(line)

    assert (found is None) if problem is None else (problem in found)
