"""The report filters: history in steps with gaps, incident summaries, the on-call rota, thresholds and the
periods a daily check reads."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.filter.reports import (
    check_windows,
    history_series,
    incident_summaries,
    last_reading,
    oncall_handoff,
    threshold_breaches,
)


def reading(at, **metrics):
    return {"at": at, "phase": "hourly", "metrics": metrics}


def test_history_series_takes_the_last_reading_of_each_step_and_leaves_gaps():
    history = [
        reading("2026-12-05T01:10:00Z", p95=200),
        reading("2026-12-05T01:50:00Z", p95=250, median=90),
        reading("2026-12-05T03:05:00Z", p95="n/a", median=100),
        reading("2026-12-05T05:00:00Z", p95=400),  # at the end: outside
        {"at": "not a time", "metrics": {"p95": 1}},
    ]

    data = history_series(history, {"p95": "p95", "median": "median"}, "2026-12-05T01:00:00Z",
                          "2026-12-05T05:00:00Z", 1, "Asia/Tokyo")

    assert data["labels"] == ["10:00", "11:00", "12:00", "13:00"]
    assert data["series"] == {"p95": [250.0, None, None, None], "median": [90.0, None, 100.0, None]}
    assert data["readings"] == 3


def test_history_series_of_a_first_run_has_no_readings():
    data = history_series([], {"size": "database.shop.bytes"}, "2026-10-10T00:00:00Z", "2026-12-05T00:00:00Z", 168)

    assert len(data["labels"]) == 8 and data["series"]["size"] == [None] * 8 and data["readings"] == 0


@pytest.mark.parametrize("start, end, step", [("2026-12-05T01:00:00Z", "2026-12-05T01:00:00Z", 1),
                                              ("2026-12-05T01:00:00Z", "2026-12-05T02:00:00Z", 0),
                                              ("2026-12-05T01:00:00", "2026-12-05T02:00:00Z", 1)])
def test_history_series_refuses_an_empty_or_unzoned_period(start, end, step):
    with pytest.raises(AnsibleFilterError):
        history_series([], {"x": "x"}, start, end, step)


def timeline(incident_id, severity, declared, resolved=None, failed_update=False):
    entries = [{"incident_id": incident_id, "action": "declare", "severity": severity, "title": "Checkout errors",
                "at": declared, "declared_at": declared, "result": "succeeded"}]
    if failed_update:
        entries.append({"incident_id": incident_id, "action": "resolve", "at": "2026-12-05T00:00:00Z",
                        "result": "failed"})
    if resolved:
        entries.append({"incident_id": incident_id, "action": "resolve", "severity": severity, "at": resolved,
                        "result": "succeeded"})
    return entries


def test_incident_summaries_give_the_minutes_to_resolve_and_keep_what_was_open_in_the_window():
    timelines = [
        timeline("INC-1", "P1", "2026-12-04T10:00:00Z", "2026-12-04T10:45:00Z"),  # over before the window
        timeline("INC-2", "P2", "2026-12-04T08:00:00Z", "2026-12-04T12:30:00Z"),  # resolved inside it
        timeline("INC-3", "P3", "2026-12-04T20:00:00Z", failed_update=True),  # still open
        timeline("INC-4", "P4", "2026-12-06T01:00:00Z"),  # after it
        [{"action": "update", "at": "2026-12-04T12:00:00Z"}],  # no declaration: not an incident
    ]

    broken = [{"incident_id": "INC-9", "action": "declare", "at": "yesterday"}]
    found = incident_summaries(timelines + [broken], "2026-12-04T12:00:00Z", "2026-12-05T12:00:00Z")

    assert [(i["incident_id"], i["status"], i["minutes_to_resolve"]) for i in found] == [
        ("INC-2", "resolved", 270.0), ("INC-3", "investigating", None)]
    assert len(incident_summaries(timelines)) == 4
    # The local day of the declaration: 2026-12-04T20:00Z is already the 5th in Tokyo.
    assert [i["declared_date"] for i in incident_summaries(timelines, time_zone="Asia/Tokyo")][1:3] == [
        "2026-12-04", "2026-12-05"]


ROTA = {"starts_on": "2026-11-30", "weeks": [{"primary": "Sato", "secondary": "Ito"}, {"primary": "Ito"}],
        "escalation": [{"who": "On-call engineer", "respond_within_minutes": 15},
                       {"who": "Tech lead", "respond_within_minutes": 30, "contact": "+81-3-0000-0000"},
                       {"who": "CTO", "respond_within_minutes": 60}]}


def test_the_rota_repeats_weekly_and_the_day_is_taken_in_its_time_zone():
    # 2026-12-06T16:00Z is Monday 2026-12-07 01:00 in Tokyo: the second week.
    handoff = oncall_handoff(ROTA, "2026-12-06T16:00:00Z", "Asia/Tokyo")

    assert handoff["this_week"] == {"from": "2026-12-07", "to": "2026-12-13", "primary": "Ito", "secondary": None}
    assert handoff["next_week"]["primary"] == "Sato" and handoff["next_week"]["from"] == "2026-12-14"
    assert [level["level"] for level in handoff["escalation"]] == [1, 2, 3]
    assert handoff["escalation"][1]["contact"] == "+81-3-0000-0000"
    assert oncall_handoff(ROTA, "2026-12-06T16:00:00Z", "UTC")["this_week"]["primary"] == "Sato"


@pytest.mark.parametrize("broken, said", [({"weeks": []}, "weeks must be"), ({"starts_on": "next monday"}, "starts_on"),
                                          ({"escalation": [{"who": "CTO"}]}, "escalation must be")])
def test_a_rota_that_cannot_be_used_says_why(broken, said):
    with pytest.raises(AnsibleFilterError, match=said):
        oncall_handoff({**ROTA, **broken}, "2026-12-06T16:00:00Z")


def test_a_rota_set_up_ahead_says_when_it_starts():
    starting_next_monday = oncall_handoff({**ROTA, "starts_on": "2026-12-07"}, "2026-12-05T00:00:00Z")
    assert starting_next_monday["this_week"] is None and starting_next_monday["next_week"]["primary"] == "Sato"
    assert oncall_handoff({**ROTA, "starts_on": "2027-04-05"}, "2026-12-05T00:00:00Z")["next_week"] is None


def test_thresholds_tell_new_breaches_recoveries_and_unread_metrics():
    thresholds = {"error_rate": {"above": 0.05}, "p95": {"above": 2000}, "free": {"below": 10}, "users": {"above": 5}}

    verdict = threshold_breaches({"error_rate": 0.07, "p95": 2500, "free": 12, "users": None}, thresholds,
                                 ["p95", "free", "users"])

    assert [(b["metric"], b["new"]) for b in verdict["breached"]] == [("error_rate", True), ("p95", False)]
    assert verdict["recovered"] == ["free"] and verdict["unread"] == ["users"]
    assert threshold_breaches({"p95": 2000}, {"p95": {"above": 2000}})["breached"] == []


@pytest.mark.parametrize("rule, said", [({"over": 1}, "must be {above: N} or {below: N}"),
                                        ({"above": "lots"}, "must be {above: N} or {below: N}"),
                                        ({"above": 1, "below": 0}, "must be {above: N} or {below: N}"),
                                        (5, "must be {above: N} or {below: N}"), ({"above": -5}, "0 or more"), ({"above": 1e400}, "finite")])
def test_a_threshold_that_is_not_above_or_below_a_number_is_refused(rule, said):
    with pytest.raises(AnsibleFilterError, match=said):
        threshold_breaches({"x": 1}, {"x": rule})


def test_the_morning_reads_since_the_last_evening_check_or_the_evening_hour_before():
    history = [{"phase": "evening", "at": "2026-12-04T09:05:00Z"}, {"phase": "morning", "at": "2026-12-04T10:02:00Z"},
               {"phase": "evening", "at": "2026-12-01T09:00:00Z"}, {"phase": "evening", "at": "2026-12-06T09:00:00Z"}]

    # 09:00 in Tokyo on 2026-12-05.
    windows = check_windows(history, "2026-12-05T00:00:00Z", "Asia/Tokyo", 18)

    # The last evening before now: a morning after it, a line from the future and one older than two days aside.
    assert windows["since_evening"] == "2026-12-04T09:05:00Z" and windows["day_ago"] == "2026-12-04T00:00:00Z"
    assert (windows["today"], windows["tomorrow"]) == ("2026-12-05", "2026-12-06")
    assert (windows["day_start"], windows["tomorrow_start"], windows["tomorrow_end"]) == (
        "2026-12-04T15:00:00Z", "2026-12-05T15:00:00Z", "2026-12-06T15:00:00Z")
    assert windows["hours_since_day_start"] == 9.0

    first_run = check_windows([], "2026-12-05T00:00:00Z", "Asia/Tokyo", 18)
    assert first_run["since_evening"] == "2026-12-04T09:00:00Z"


def test_an_evening_check_after_the_evening_hour_reads_from_that_evening():
    assert check_windows([], "2026-12-05T09:30:00Z", "Asia/Tokyo", 18)["since_evening"] == "2026-12-05T09:00:00Z"


def test_last_reading_is_the_last_check_of_the_phase_that_recorded_the_metric():
    history = [{"phase": "morning", "at": "2026-12-03T00:00:00Z", "metrics": {"security.web1.failed_logins": 2}},
               {"phase": "morning", "at": "2026-12-04T00:00:00Z", "metrics": {"security.web2.failed_logins": 0}},
               {"phase": "hourly", "at": "2026-12-04T05:00:00Z", "metrics": {"security.web1.failed_logins": 1}}]

    assert last_reading(history, "security.web1.failed_logins", "morning") == "2026-12-03T00:00:00Z"
    assert last_reading(history, "security.web1.failed_logins") == "2026-12-04T05:00:00Z"
    assert last_reading(history, "security.web3.failed_logins", "morning") is None
