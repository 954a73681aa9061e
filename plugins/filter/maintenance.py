# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the maintenance reports compute from the history of runs: the change since the last run, and the year.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _number(value):
    """A metric's value as a number, or None for what is no number (a missing reading)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


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
        change = None if after is None or before is None else round(after - before, 3)
        percent = round(100.0 * change / before, 1) if change is not None and before else None
        changes.append({"name": name, "before": before, "after": after, "change": change, "percent": percent})
    return changes


def maintenance_year(entries):
    """A year of history lines summed up: runs by level and outcome, the steps that failed and how often, rows
    archived, the database's size at the start and the end, and each drill's restore time and backup age."""
    entries = [entry for entry in entries if isinstance(entry, dict)]
    by_level, failed_steps, drills, sizes = {}, {}, [], []
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
                           "rpo_seconds": _number(metrics.get("drill_rpo_seconds"))})
    return {
        "runs": len(entries),
        "failed_runs": sum(level["failed"] for level in by_level.values()),
        "by_level": by_level,
        "failed_steps": failed_steps,
        "archived_rows": archived,
        "database_bytes_first": sizes[0][1] if sizes else None,
        "database_bytes_last": sizes[-1][1] if sizes else None,
        "drills": drills,
    }


class FilterModule:
    def filters(self):
        return {"metric_changes": metric_changes, "maintenance_year": maintenance_year}
