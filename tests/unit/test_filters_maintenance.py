"""The maintenance filters: maintenance_problems, metric_changes and maintenance_year."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.filter.maintenance import json_lines, maintenance_problems, maintenance_year
from ansible_collections.runbook.ops.plugins.filter.maintenance import maintenance_outcome, metric_changes

GOOD = {
    "maintenance_level": "monthly",
    "maintenance_date": "",
    "maintenance_cleanup": [{"paths": ["/var/log/app", "log"], "patterns": ["*.log"], "excludes": [],
                             "older_than_days": 30}],
    "maintenance_archive_tables": [{"table": "operation_logs", "column": "created_at", "older_than_days": 90}],
    "maintenance_connection_alert_threshold": 80,
    "maintenance_archive_batch_size": "10000",  # -e name=value gives text
    "maintenance_backup_keep_count": None,
}


def test_good_settings_have_no_problem():
    assert maintenance_problems(GOOD) == []


@pytest.mark.parametrize("change, problem", [
    ({"maintenance_level": "Daily"}, "maintenance_level must be one of daily, weekly, monthly, quarterly, not 'Daily'."),
    ({"maintenance_date": "2026-13-45"}, "maintenance_date must be a day as YYYY-MM-DD, not '2026-13-45'."),
    ({"maintenance_date": "20261231"}, "maintenance_date must be a day as YYYY-MM-DD, not '20261231'."),
    ({"maintenance_tls_hostnames": "shop.example.com"},
     "maintenance_tls_hostnames must be a list, such as ['shop.example.com'], not 'shop.example.com'."),
    ({"dr_drill_rpo_target_hours": "24h"}, "dr_drill_rpo_target_hours must be a number, more than 0, not '24h'."),
    ({"maintenance_connection_alert_threshold": "ninety"},
     "maintenance_connection_alert_threshold must be a number, more than 0, not 'ninety'."),
    ({"maintenance_archive_batch_size": 0}, "maintenance_archive_batch_size must be a number, more than 0, not 0."),
    ({"maintenance_backup_keep_count": -2}, "maintenance_backup_keep_count must be a number, 1 or more, not -2."),
    ({"maintenance_cleanup": [{"paths": "log", "patterns": ["*.log"], "older_than_days": 3}]},
     "maintenance_cleanup entry 1 needs paths, a list of folders."),
    ({"maintenance_cleanup": [{"paths": ["log/../.."], "patterns": ["*.json"], "older_than_days": 3}]},
     "maintenance_cleanup entry 1: the relative folder log/../.. leaves the host's ops_root."),
    ({"maintenance_cleanup": [{"paths": ["log"], "patterns": ["*.log"], "exclude": ["keep.log"], "older_than_days": 3}]},
     "maintenance_cleanup entry 1 has unknown keys exclude; it takes paths, patterns, excludes, older_than_days."),
    ({"maintenance_cleanup": [{"paths": ["log"], "patterns": [""], "older_than_days": 3}]},
     'maintenance_cleanup entry 1 needs patterns, a list of file-name patterns such as "*.log".'),
    ({"maintenance_cleanup": [{"paths": ["log"], "patterns": ["*.log"], "older_than_days": -1}]},
     "maintenance_cleanup entry 1: older_than_days is negative; give days, 0 or more."),
    ({"maintenance_archive_tables": [{"table": "audit_log", "column": "timestamp"}]},
     "maintenance_archive_tables entry 1 (audit_log) needs older_than_days, a number of days."),
    ({"maintenance_archive_tables": [{"table": "audit_log", "column": "timestamp", "older_than_days": 1,
                                      "batch_size": 0}]},
     "maintenance_archive_tables entry 1 (audit_log): batch_size must be more than 0."),
    ({"maintenance_archive_tables": ["audit_log"]},
     "maintenance_archive_tables entry 1 must be a dictionary, not 'audit_log'."),
])
def test_each_problem_is_named(change, problem):
    assert maintenance_problems({**GOOD, **change}) == [problem]


def test_changes_keep_whole_numbers_whole_and_name_what_appeared_and_went():
    changes = metric_changes({"database_bytes": 1100, "table_bytes.new": 5, "ratio": 0.5},
                             {"database_bytes": 1000.0, "table_bytes.gone": 7, "ratio": 0.25})
    assert changes == [
        {"name": "database_bytes", "before": 1000, "after": 1100, "change": 100, "percent": 10.0},
        {"name": "ratio", "before": 0.25, "after": 0.5, "change": 0.25, "percent": 100.0},
        {"name": "table_bytes.gone", "before": 7, "after": None, "change": None, "percent": None},
        {"name": "table_bytes.new", "before": None, "after": 5, "change": None, "percent": None},
    ]
    with pytest.raises(AnsibleFilterError):
        metric_changes([], {})


def test_the_year_sums_runs_failures_archived_rows_and_drills():
    year = maintenance_year([
        {"level": "daily", "date": "2026-01-02", "result": "succeeded", "failed": [], "metrics": {"database_bytes": 100}},
        {"level": "monthly", "date": "2026-02-01", "result": "failed", "failed": ["archive"],
         "metrics": {"archived_rows.audit_log": 40, "archived_rows.operation_logs": 2}},
        {"level": "weekly", "date": "2026-03-01", "result": "succeeded", "failed": [],
         "metrics": {"vulnerabilities.high": 2, "vulnerabilities.low": 5}},
        {"level": "quarterly", "date": "2026-03-29", "result": "succeeded", "failed": [],
         "metrics": {"database_bytes": 150, "drill_rto_seconds": 12.5, "drill_rpo_seconds": 3600}},
        {"level": "quarterly", "date": "2026-06-28", "result": "failed", "failed": ["drill_full"],
         "metrics": {"drill_rto_seconds": 20}},
    ])
    assert year["runs"] == 5 and year["failed_runs"] == 2
    assert year["failed_steps"] == {"archive": 1, "drill_full": 1}
    assert year["archived_rows"] == 42
    assert (year["database_bytes_first"], year["database_bytes_last"]) == (100, 150)
    assert year["drills"] == [{"date": "2026-03-29", "rto_seconds": 12.5, "rpo_seconds": 3600, "passed": True},
                              {"date": "2026-06-28", "rto_seconds": 20, "rpo_seconds": None, "passed": False}]
    assert year["vulnerabilities_last"] == {"high": 2, "low": 5}
    assert year["by_level"]["monthly"] == {"runs": 1, "failed": 1}


def test_the_outcome_names_failed_steps_and_hosts_with_their_errors_and_what_needs_a_look():
    results = {"backup": {"status": "ok", "summary": "Backup shop.dump"},
               "tls": {"status": "warning", "summary": "5 days left"},
               "archive": {"status": "failed", "summary": "lock timeout"}}
    hosts = {"web1": {"status": "ok", "cleanup": {"files_removed": 3, "errors": [{"path": "/x"}], "missing_paths": []},
                      "resources": {"disks": [{"mount": "/", "percent": 91.0}, {"mount": "/data", "percent": 10}]}},
             "web2": {"status": "unreachable", "error": "Not reached over SSH: timed out"}}
    outcome = maintenance_outcome(results, hosts, "85")
    assert outcome == {
        "failed": ["archive", "host web2"],
        "warnings": ["tls", "disk / on web1", "clean-up errors on web1"],
        "errors": ["archive: lock timeout", "host web2: Not reached over SSH: timed out"],
        "lines": ["ok | backup | Backup shop.dump", "warning | tls | 5 days left", "failed | archive | lock timeout",
                  "ok | host web1 | 3 file(s) removed", "unreachable | host web2 | Not reached over SSH: timed out"],
    }


def test_json_lines_pass_over_what_is_no_object_and_keep_what_is_recent_enough():
    lines = ['{"at": "2026-12-01T00:00:00Z", "n": 1}', "", '{"at": "2026-12-0', "[1, 2]",
             '{"at": "2026-12-04T09:00:00Z", "n": 2}', '{"n": 3}']

    assert [entry.get("n") for entry in json_lines(lines)] == [1, 2, 3]
    assert [entry["n"] for entry in json_lines(lines, "2026-12-03T00:00:00Z")] == [2]
    assert [entry["n"] for entry in json_lines(['{"date": "2025-12-31", "n": 1}', '{"date": "2026-01-01", "n": 2}'],
                                               "2026-01-01", "date")] == [2]
    # A line from the future (a clock set wrong) is left out, and so is one of another shape.
    assert [entry["n"] for entry in json_lines(lines, "", "at", "2026-12-02T00:00:00Z")] == [1]
    shapes = ['{"n": 1, "metrics": [1]}', '{"n": 2, "breaches": "health"}', '{"n": 3, "failed": {}}',
              '{"n": 4, "metrics": {}, "unread": []}']
    assert [entry["n"] for entry in json_lines(shapes)] == [4]
