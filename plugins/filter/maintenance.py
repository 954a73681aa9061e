# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the maintenance reports compute from the history of runs: the change since the last run, and the year.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import datetime
import json

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

LEVELS = ("daily", "weekly", "monthly", "quarterly")
CLEANUP_KEYS = ("paths", "patterns", "excludes", "older_than_days")
ARCHIVE_KEYS = ("table", "column", "older_than_days", "archive_table", "batch_size")
# Settings that must be numbers, and the least each may be: name -> (minimum, whether the minimum itself is allowed).
NUMBERS = {
    "maintenance_connection_alert_threshold": (0, False),
    "maintenance_archive_batch_size": (0, False),
    "maintenance_backup_keep_days": (0, True),
    "maintenance_backup_keep_count": (1, True),
    "maintenance_top_processes": (0, True),
    "maintenance_disk_alert_percent": (0, False),
    "maintenance_long_query_seconds": (0, False),
    "maintenance_fresh_hours": (0, True),
    "maintenance_tls_warn_days": (0, True),
    "maintenance_tls_port": (0, False),
    "maintenance_slow_statement_ms": (0, True),
    "maintenance_report_top": (0, False),
    "dr_drill_rto_target_minutes": (0, False),
    "dr_drill_rpo_target_hours": (0, False),
}
LISTS = ("maintenance_tables", "maintenance_tls_hostnames", "maintenance_dependency_audit_command",
         "maintenance_dependency_alert_severities")


def _number(value):
    """A metric's value as a number (whole numbers as int, so reports show 23168, not 23168.0), or None for what
    is no number (a missing reading)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def _a_number(value):
    """A number given as one, or as text (``-e name=90`` and survey answers are text); else None."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return _number(value)


def _strings(value):
    """Whether ``value`` is a list of non-empty texts: a single text would be read letter by letter."""
    return isinstance(value, list) and bool(value) and all(isinstance(item, str) and item.strip() for item in value)


def _age_problem(where, entry):
    age = _a_number(entry.get("older_than_days"))
    if age is None:
        return [f"{where} needs older_than_days, a number of days."]
    return [f"{where}: older_than_days is negative; give days, 0 or more."] if age < 0 else []


def _cleanup_problems(entries):
    if not isinstance(entries, list):
        return ["maintenance_cleanup must be a list of entries (paths, patterns, excludes, older_than_days)."]
    problems = []
    for number, entry in enumerate(entries, start=1):
        where = f"maintenance_cleanup entry {number}"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a dictionary, not {entry!r}.")
            continue
        unknown = sorted(set(entry) - set(CLEANUP_KEYS))
        if unknown:
            problems.append(f"{where} has unknown keys {', '.join(unknown)}; it takes {', '.join(CLEANUP_KEYS)}.")
        if not _strings(entry.get("paths")):
            problems.append(f"{where} needs paths, a list of folders.")
        else:
            for path in entry["paths"]:
                if not path.startswith("/") and ".." in path.split("/"):
                    problems.append(f"{where}: the relative folder {path} leaves the host's ops_root.")
        if not _strings(entry.get("patterns")):
            problems.append(f"{where} needs patterns, a list of file-name patterns such as \"*.log\".")
        if "excludes" in entry and not (entry["excludes"] == [] or _strings(entry["excludes"])):
            problems.append(f"{where}: excludes must be a list of file-name patterns.")
        problems += _age_problem(where, entry)
    return problems


def _archive_problems(entries):
    if not isinstance(entries, list):
        return ["maintenance_archive_tables must be a list of entries (table, column, older_than_days)."]
    problems = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(f"maintenance_archive_tables entry {number} must be a dictionary, not {entry!r}.")
            continue
        where = f"maintenance_archive_tables entry {number} ({entry.get('table', 'no table')})"
        unknown = sorted(set(entry) - set(ARCHIVE_KEYS))
        if unknown:
            problems.append(f"{where} has unknown keys {', '.join(unknown)}; it takes {', '.join(ARCHIVE_KEYS)}.")
        for key in ("table", "column"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                problems.append(f"{where} needs {key}, a name.")
        problems += _age_problem(where, entry)
        if "batch_size" in entry and (_a_number(entry["batch_size"]) or 0) <= 0:
            problems.append(f"{where}: batch_size must be more than 0.")
    return problems


def maintenance_problems(settings):
    """Everything wrong with a maintenance run's settings, as sentences; an empty list when nothing is."""
    problems = []
    level = settings.get("maintenance_level")
    if level not in LEVELS:
        problems.append(f"maintenance_level must be one of {', '.join(LEVELS)}, not {level!r}.")
    day = str(settings.get("maintenance_date") or "")
    try:
        # fromisoformat alone takes 20261231 and 2026-W52-4 too.
        if day and (len(day) != 10 or day[4] != "-" or day[7] != "-"):
            raise ValueError(day)
        if day:
            datetime.date.fromisoformat(day)
    except ValueError:
        problems.append(f"maintenance_date must be a day as YYYY-MM-DD, not {day!r}.")
    for name in LISTS:
        if name in settings and not isinstance(settings[name], list):
            problems.append(f"{name} must be a list, such as [{settings[name]!r}], not {settings[name]!r}.")
    for name, (least, allowed) in NUMBERS.items():
        if settings.get(name) is None:
            continue
        value = _a_number(settings[name])
        if value is None or value < least or (value == least and not allowed):
            bound = f"{least} or more" if allowed else f"more than {least}"
            problems.append(f"{name} must be a number, {bound}, not {settings[name]!r}.")
    return problems + _cleanup_problems(settings.get("maintenance_cleanup")) + _archive_problems(
        settings.get("maintenance_archive_tables"))


# What a history line's lists and dictionaries must be, when it has them: a line of another shape is as bad
# as one cut short, and is passed over the same way rather than failing every run after it.
LINE_SHAPE = {"metrics": dict, "failed": list, "breaches": list, "unread": list}


def json_lines(lines, since=None, field="at", until=None):
    """The JSON objects of a JSON-lines file's lines; blank lines are passed over, and a line that is no JSON object
    (a run that died while writing it), or whose metrics or lists are of another shape, with a warning, so that one
    bad line cannot stop every later run. With ``since`` and ``until``, only the objects whose ``field`` (an ISO
    8601 time or date) is in that period: a history of years is then cut to what a run reads before Ansible carries
    it from task to task, and a line dated in the future (a clock set wrong) is left out."""
    found, bad = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict) and all(isinstance(entry[key], kind) for key, kind in LINE_SHAPE.items()
                                           if key in entry):
            moment = str(entry.get(field, ""))
            if (not since or moment >= since) and (not until or "" < moment < until):
                found.append(entry)
        else:
            bad.append(number)
    if bad:
        # One warning, however many lines: a file of garbage must not bury the job's output.
        Display().warning(f"{len(bad)} line(s) of the history are no JSON object of its shape and were passed over (line "
                          f"{', '.join(map(str, bad[:5]))}{', ...' if len(bad) > 5 else ''}).")
    return found


def maintenance_outcome(results, hosts, disk_alert_percent):
    """What a run came to, from its steps' results (in the order they ran) and its hosts' reports: the steps and
    hosts that failed, what needs a look, each failure's error line, and one line per step and host for the log."""
    failed = [name for name, step in results.items() if step.get("status") == "failed"]
    warnings = [name for name, step in results.items() if step.get("status") == "warning"]
    errors = [f"{name}: {results[name].get('summary', '')}" for name in failed]
    lines = [f"{step.get('status')} | {name} | {step.get('summary', '')}" for name, step in results.items()]
    limit = _a_number(disk_alert_percent)
    for name, host in hosts.items():
        if host.get("status") != "ok":
            failed.append(f"host {name}")
            errors.append(f"host {name}: {host.get('error') or 'failed'}")
            lines.append(f"{host.get('status')} | host {name} | {host.get('error') or 'failed'}")
            continue
        cleanup, resources = host.get("cleanup", {}), host.get("resources", {})
        warnings += [f"disk {disk.get('mount')} on {name}" for disk in resources.get("disks", [])
                     if limit is not None and (_a_number(disk.get("percent")) or 0) > limit]
        if cleanup.get("errors"):
            warnings.append(f"clean-up errors on {name}")
        if cleanup.get("missing_paths"):
            warnings.append(f"clean-up folders missing on {name}")
        lines.append(f"ok | host {name} | {cleanup.get('files_removed', 0)} file(s) removed")
    return {"failed": failed, "warnings": warnings, "errors": errors, "lines": lines}


def metric_changes(current, previous):
    """Each metric of ``current`` beside its value in ``previous``: name, before, after, change and percent.

    A metric new since the previous run has ``before`` null; one that is gone is listed with ``after`` null, so
    that a table that disappeared does not go unnoticed.
    """
    if not isinstance(current, dict) or not isinstance(previous, dict):
        raise AnsibleFilterError("metric_changes compares two dictionaries of metrics.")
    changes = []
    for name in sorted(set(current) | set(previous)):
        after, before = _number(current.get(name)), _number(previous.get(name))
        change = None if after is None or before is None else _number(round(after - before, 3))
        percent = round(100.0 * change / before, 1) if change is not None and before else None
        changes.append({"name": name, "before": before, "after": after, "change": change, "percent": percent})
    return changes


def maintenance_year(entries):
    """A year of history lines summed up: runs by level and outcome, the steps that failed and how often, rows
    archived, the database's size at the start and the end, each drill's verdict, restore time and backup age, and
    the dependency audit's last findings by severity."""
    entries = [entry for entry in entries if isinstance(entry, dict)]
    by_level, failed_steps, drills, sizes, vulnerabilities = {}, {}, [], [], {}
    archived = 0
    for entry in entries:
        level = by_level.setdefault(entry.get("level", "unknown"), {"runs": 0, "failed": 0})
        level["runs"] += 1
        level["failed"] += entry.get("result") == "failed"
        for step in entry.get("failed", []):
            failed_steps[step] = failed_steps.get(step, 0) + 1
        metrics = entry.get("metrics", {})
        archived += sum(int(_number(value) or 0) for name, value in metrics.items() if name.startswith("archived_rows."))
        if _number(metrics.get("database_bytes")) is not None:
            sizes.append((entry.get("date"), _number(metrics["database_bytes"])))
        if _number(metrics.get("drill_rto_seconds")) is not None:
            drills.append({"date": entry.get("date"), "rto_seconds": _number(metrics["drill_rto_seconds"]),
                           "rpo_seconds": _number(metrics.get("drill_rpo_seconds")),
                           "passed": "drill_full" not in entry.get("failed", [])})
        found = {name.split(".", 1)[1]: _number(value) for name, value in metrics.items()
                 if name.startswith("vulnerabilities.")}
        if found:
            vulnerabilities = found
    return {
        "runs": len(entries),
        "failed_runs": sum(level["failed"] for level in by_level.values()),
        "by_level": by_level,
        "failed_steps": failed_steps,
        "archived_rows": archived,
        "database_bytes_first": sizes[0][1] if sizes else None,
        "database_bytes_last": sizes[-1][1] if sizes else None,
        "drills": drills,
        "vulnerabilities_last": vulnerabilities,
    }


class FilterModule:
    def filters(self):
        return {"metric_changes": metric_changes, "maintenance_year": maintenance_year,
                "maintenance_problems": maintenance_problems, "json_lines": json_lines,
                "maintenance_outcome": maintenance_outcome}
