"""daily_check_report: the verdict, the history line and the document of each check, in both languages."""
import pathlib

import pytest
import yaml

from ansible_collections.runbook.ops.plugins.filter.daily_check import daily_check_report
from ansible_collections.runbook.ops.plugins.filter.reports import check_windows

ROLE_VARS = pathlib.Path(__file__).parents[2] / "roles" / "daily_check" / "vars" / "main.yml"
WORDS = yaml.safe_load(ROLE_VARS.read_text(encoding="utf-8"))["__daily_check_words"]
NOW = "2026-12-05T05:00:00Z"  # 14:00 in Tokyo
THRESHOLDS = {"error_rate": {"above": 0.05}, "response_p95_ms": {"above": 2000}, "disk_percent": {"above": 85}}


def gathered(phase, history=(), **sources):
    return {"phase": phase, "windows": check_windows(list(history), NOW, "Asia/Tokyo", 18), "time_zone": "Asia/Tokyo",
            "report_name": f"daily-check-{phase}", "history": list(history), "hosts": {}, **sources}


def hourly(error_rate=0.01, healthy=True, previous=(), history=(), hosts=None):
    return gathered("hourly", history, probe={"healthy": healthy, "reason": "" if healthy else "answered 503",
                                              "latency": {"median_ms": 80.0, "p95_ms": 120.0, "samples_ms": [80.0] * 5}},
                    error_rate=error_rate, active_users={"enabled": False}, thresholds=THRESHOLDS,
                    previous_breaches=list(previous), hosts=hosts or {})


def test_a_quiet_hour_says_nothing_and_records_its_readings():
    report = daily_check_report(hourly(), WORDS["en"])

    assert report["status"] == "ok" and report["speak"] is False and report["breaches"] == []
    assert report["metrics"] == {"health.ok": 1, "response.median_ms": 80.0, "response.p95_ms": 120.0, "error_rate": 0.01}


def test_a_threshold_is_announced_when_crossed_then_quiet_while_it_stays_then_its_recovery_is_announced():
    crossed = daily_check_report(hourly(error_rate=0.07), WORDS["en"])
    assert crossed["speak"] is True and crossed["status"] == "failed" and crossed["breaches"] == ["error_rate"]
    assert crossed["failures"] == ["error rate is 0.07, above the threshold of 0.05."]

    still = daily_check_report(hourly(error_rate=0.08, previous=["error_rate"]), WORDS["en"])
    assert still["speak"] is False and still["status"] == "warning" and still["breaches"] == ["error_rate"]

    back = daily_check_report(hourly(error_rate=0.01, previous=["error_rate"]), WORDS["en"])
    assert back["speak"] is True and back["status"] == "ok" and "error rate is back to normal (0.01)." in back["summary"]


def test_an_endpoint_that_stays_down_is_announced_once():
    down = daily_check_report(hourly(healthy=False), WORDS["en"])
    assert down["speak"] is True and down["breaches"] == ["health"]
    assert daily_check_report(hourly(healthy=False, previous=["health"]), WORDS["en"])["speak"] is False


def test_the_busiest_host_counts_and_a_host_that_goes_away_is_announced_once_and_when_it_is_back():
    web1 = {"status": "ok", "resources": {"disks": [{"percent": 40}, {"percent": 91}], "memory": {"used_percent": 50},
                                          "load": {"1m": 3.0}, "cpu_count": 2}}
    hosts = {"web1": web1, "web2": {"status": "unreachable", "error": "Not reached over SSH: timed out"}}

    gone = daily_check_report(hourly(hosts=hosts), WORDS["en"])
    assert gone["breaches"] == ["disk_percent", "host:web2"] and gone["metrics"]["host.web1.load_per_cpu"] == 1.5
    assert "Host web2 was not read: Not reached over SSH: timed out" in gone["failures"] and gone["speak"] is True

    still = daily_check_report(hourly(hosts=hosts, previous=["disk_percent", "host:web2"]), WORDS["en"])
    assert still["speak"] is False and "Host web2 was not read: Not reached over SSH: timed out" in still["warnings"]

    back = daily_check_report(hourly(hosts={"web1": web1, "web2": web1}, previous=["disk_percent", "host:web2"]),
                              WORDS["en"])
    assert back["speak"] is True and "Host web2 can be read again." in back["summary"]
    # A host taken out of the inventory is not "back".
    assert daily_check_report(hourly(hosts={}, previous=["host:web9"]), WORDS["en"])["speak"] is False


def test_a_thresholded_metric_that_can_no_longer_be_read_is_said_once_and_keeps_its_breach():
    report = daily_check_report(hourly(error_rate=None, previous=["error_rate"]), WORDS["en"])

    assert report["speak"] is True and report["breaches"] == ["error_rate"] and report["unread"] == ["error_rate"]
    assert report["warnings"] == ["error rate could not be read: no reading this hour"]
    again = daily_check_report({**hourly(error_rate=None, previous=["error_rate"]), "previous_unread": ["error_rate"]},
                               WORDS["en"])
    assert again["speak"] is False and again["status"] == "warning"


def test_the_day_chart_leaves_a_gap_for_an_hour_without_a_check():
    history = [{"phase": "hourly", "at": "2026-12-05T01:00:00Z", "metrics": {"response.p95_ms": 100}},
               {"phase": "hourly", "at": "2026-12-05T03:00:00Z", "metrics": {"response.p95_ms": 140}}]

    report = daily_check_report(hourly(history=history), WORDS["en"])

    chart = next(chart for section in report["document"]["sections"] for chart in section["charts"]
                 if chart["id"] == "response_time")
    # 00:00 to 15:00 in Tokyo: 10:00 and 12:00 read, 11:00 a gap, 14:00 this check.
    assert chart["series"]["p95"][9:15] == [None, 100.0, None, 140.0, None, 120.0]


def morning(**overrides):
    checks = {"api": {"verdict": "pass"},
              "response_time": {"verdict": "pass", "median_ms": 70, "p95_ms": 90, "samples": 10}}
    sources = {"health": {"healthy": True, "failed_checks": [], "checks": checks},
               "pagerduty": {"enabled": True, "incidents": [], "error": "PagerDuty API: GET /incidents answered 401"},
               "statuspage": {"enabled": True, "recent": [], "maintenances": [], "error": ""},
               "incidents": [{"incident_id": "INC-20261205-010000", "severity": "P2", "title": "Slow checkout",
                              "status": "monitoring", "declared_at": "2026-12-04T16:00:00Z", "resolved_at": None}],
               "backups": {"backups": [{"database": "shop", "newest": "shop-20261203T000000Z.dump", "age_hours": 53.0,
                                        "verified": True, "problems": ["older than 26 hours"]}], "error": ""},
               "sizes": {"database_sizes": [{"name": "shop", "bytes": 9437184}],
                         "table_sizes": {"tables": [{"table": "public.orders", "total_bytes": 800000}]}},
               "size_weeks": 8}
    return gathered("morning", **{**sources, **overrides})


def test_a_morning_with_an_unreadable_service_a_stale_backup_and_an_open_incident_needs_a_look():
    report = daily_check_report(morning(), WORDS["en"])

    assert report["status"] == "warning" and report["speak"] is True
    assert report["warnings"] == ["PagerDuty could not be read: PagerDuty API: GET /incidents answered 401",
                                  "Incidents still open: runbook INC-20261205-010000.", "shop: older than 26 hours"]
    # PagerDuty was not read: no count for it, so the history has a gap rather than a zero.
    assert "incidents.pagerduty" not in report["metrics"] and report["metrics"]["incidents.statuspage"] == 0
    assert report["metrics"]["backup.shop.age_hours"] == 53.0 and report["metrics"]["incidents.P2"] == 1
    charts = {chart["id"]: chart for section in report["document"]["sections"] for chart in section["charts"]}
    assert list(charts) == ["response_time", "incidents_by_severity", "backup_age", "database_size", "table_sizes"]
    # Bytes in the history, MiB on the chart, this morning in this week's column.
    assert report["metrics"]["database.shop.bytes"] == 9437184
    assert charts["database_size"]["series"]["shop"][-1] == 9.0 and charts["database_size"]["unit"] == "MiB"


def test_an_unhealthy_morning_fails():
    report = daily_check_report(morning(health={"healthy": False, "failed_checks": ["api"], "checks": {
        "api": {"verdict": "fail", "reason": "answered 503"}}}), WORDS["en"])

    assert report["status"] == "failed" and report["failures"] == ["The application is not healthy: api."]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_phase_has_its_words_in_both_languages(language):
    evening = gathered("evening", deploys={"enabled": True, "deployments": [], "error": ""},
                       maintenance=[{"level": "daily", "result": "failed", "failed": ["backup"], "run_id": "r1"}],
                       planned_deploys=[], statuspage={"enabled": False}, pagerduty={"enabled": False}, incidents=[],
                       oncall_rotation={"starts_on": "2026-11-30", "weeks": [{"primary": "Sato"}],
                                        "escalation": [{"who": "CTO", "respond_within_minutes": 60}]})
    for report in (daily_check_report(morning(), WORDS[language]), daily_check_report(hourly(error_rate=1), WORDS[language]),
                   daily_check_report(evening, WORDS[language])):
        assert report["document"]["title"] and all(section["title"] for section in report["document"]["sections"])
    assert WORDS[language].keys() == WORDS["en"].keys()
