"""maintenance_document and annual_document: the maintenance reports as documents for the reports role."""
import pathlib

import yaml

from ansible_collections.runbook.ops.plugins.filter.maintenance import maintenance_year
from ansible_collections.runbook.ops.plugins.filter.maintenance_report import annual_document, maintenance_document

ROLE_VARS = pathlib.Path(__file__).parents[2] / "roles" / "maintenance" / "vars" / "main.yml"
WORDS = yaml.safe_load(ROLE_VARS.read_text(encoding="utf-8"))["__maintenance_words"]


def run_report(**overrides):
    report = {"level": "daily", "date": "2026-12-05", "run_id": "r2", "operator": "ops", "started_at": "2026-12-05T03:00:00Z",
              "finished_at": "2026-12-05T03:02:00Z", "result": "succeeded", "failed": [], "plan": ["backup", "connections"],
              "warnings": [], "metrics": {"backup_bytes": 2097152},
              "steps": {"connections": {"status": "ok", "summary": "3 sessions"},
                        "backup": {"status": "ok", "summary": "Backup shop.dump | 2 MiB"}},
              "hosts": {"web1": {"status": "unreachable", "error": "Not reached over SSH: timed out"}},
              "previous_run": "r1", "changes": [{"name": "backup_bytes", "before": 1048576, "after": 2097152,
                                                 "change": 1048576, "percent": 100.0}]}
    return {**report, **overrides}


def test_a_run_lists_its_steps_in_the_order_they_ran_and_charts_the_levels_runs():
    history = [{"level": "daily", "date": "2026-12-04", "metrics": {"backup_bytes": 1048576}},
               {"level": "weekly", "date": "2026-12-01", "metrics": {"backup_bytes": 9999999}}]

    document = maintenance_document(run_report(), history, WORDS["en"])

    steps, hosts, changes = document["sections"][:3]
    assert [row[0] for row in steps["table"]["rows"]] == ["backup", "connections"]
    assert hosts["table"]["rows"] == [["web1", "unreachable", "-", "-", "-", "Not reached over SSH: timed out"]]
    assert changes["table"]["rows"] == [["backup_bytes", "1,048,576", "2,097,152", "+1,048,576 (+100.0 %)"]]
    [backup] = changes["charts"]
    assert backup["series"] == {"daily": [1.0, 2.0]} and backup["labels"] == ["2026-12-04", "2026-12-05"]
    assert document["name"] == "maintenance-daily-r2" and document["status"] == "ok"


def test_a_failed_run_says_so_first_in_japanese_too():
    document = maintenance_document(run_report(failed=["backup"]), [], WORDS["ja"])

    assert document["status"] == "failed" and document["summary"][0] == "結果: 失敗（backup）。"


def check(date, healthy, **metrics):
    return {"phase": "hourly", "date": date, "at": f"{date}T01:00:00Z",
            "metrics": {"health.ok": 1 if healthy else 0, **metrics}}


def test_the_year_measures_uptime_against_the_target_and_resolves_incidents_by_severity():
    checks = [check("2026-01-10", True, **{"response.p95_ms": 100})] * 998 + [check("2026-02-10", False)] * 2
    incidents = [{"severity": "P1", "minutes_to_resolve": 30.0, "resolved_at": "x"},
                 {"severity": "P1", "minutes_to_resolve": 90.0, "resolved_at": "x"},
                 {"severity": "P3", "minutes_to_resolve": None, "resolved_at": None}]
    year = maintenance_year([{"level": "quarterly", "date": "2026-12-27", "failed": ["drill_full"],
                              "metrics": {"drill_rto_seconds": 40}}])

    document = annual_document({"year": 2026, "generated_at": "now", "target_percent": 99.9, "maintenance": year,
                                "checks": checks, "incidents": incidents}, WORDS["en"])

    # 998 of 1000 checks healthy: 99.8 %, under the target.
    assert document["status"] == "failed"
    assert document["summary"][0] == "Uptime 99.800 % against the target of 99.9 % (MISSED), from 1000 hourly checks."
    uptime, severities = document["sections"][0], document["sections"][1]
    assert uptime["charts"][0]["series"]["Uptime by month"][:3] == [100.0, 0.0, None]
    assert severities["table"]["rows"][0] == ["P1", 2, "60", "90", 0]
    assert severities["table"]["rows"][2] == ["P3", 1, "-", "-", 1]
    assert document["sections"][-1]["table"]["rows"] == [["2026-12-27", "failed", "40 s", "-"]]
    # The uptime chart starts just under the worst month, so that a dip below the target shows.
    assert uptime["charts"][0]["low"] == 0.0


def test_a_target_missed_by_less_than_the_rounding_is_missed_and_no_uptime_needs_a_look():
    checks = [check("2026-03-01", True)] * 9989 + [check("2026-03-01", False)] * 10
    year = maintenance_year([])

    document = annual_document({"year": 2026, "generated_at": "now", "maintenance": year, "checks": checks},
                               WORDS["en"])
    assert document["status"] == "failed" and "Uptime 99.900 % against the target of 99.9 % (MISSED)" in document["summary"][0]
    assert document["sections"][0]["charts"][0]["low"] == 99.4

    unmeasured = annual_document({"year": 2026, "generated_at": "now", "maintenance": year, "checks": []}, WORDS["en"])
    assert unmeasured["status"] == "warning"
