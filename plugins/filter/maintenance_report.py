# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The maintenance run's report and the annual report as documents the reports role renders (Markdown and an
HTML page with charts), like the daily checks' pages.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import statistics

from ansible_collections.runbook.ops.plugins.filter.daily_check import SEVERITIES
from ansible_collections.runbook.ops.plugins.filter.reports import mib, reading, shown

# The metrics a run's charts follow over the runs of its level, when the level measures them.
RUN_CHARTS = (("database_size", ("database_bytes", "capacity_database_bytes"), 1048576),
              ("backup", ("backup_bytes",), 1048576),
              ("backup_time", ("backup_seconds",), 1))
RECENT_RUNS = 30


def _cell(text):
    return " ".join(str(text if text is not None else "-").split())


def _run_charts(report, history, words):
    """Each measurement of RUN_CHARTS over the last runs of the same level, this one last."""
    runs = [entry for entry in history or [] if entry.get("level") == report["level"]][-(RECENT_RUNS - 1):]
    runs.append({"date": report["date"], "metrics": report["metrics"]})
    charts = []
    for chart_id, names, scale in RUN_CHARTS:
        values = []
        for run in runs:
            found = next((reading(run.get("metrics", {}).get(name)) for name in names
                          if reading(run.get("metrics", {}).get(name)) is not None), None)
            values.append(None if found is None else round(found / scale, 3))
        if any(value is not None for value in values):
            charts.append({"id": chart_id, "type": "line", "title": words["charts"][chart_id],
                           "unit": "MiB" if scale > 1 else "s", "labels": [run.get("date") for run in runs],
                           "series": {report["level"]: values}, "empty": False})
    return charts


def _details(report, words):
    """The steps' own findings, each a section when it found something."""
    steps, sections = report["steps"], []

    def data(step):
        return (steps.get(step) or {}).get("data") or {}

    tables = data("table_sizes").get("tables") or []
    if tables:
        sections.append({"title": words["sections"]["tables"], "table": {"columns": words["columns"]["tables"], "rows": [
            [table["table"], mib(table.get("total_bytes")), mib(table.get("table_bytes")), mib(table.get("index_bytes")),
             shown(table.get("estimated_rows"))] for table in tables]}})
    statements = data("slow_statements").get("statements") or []
    if statements:
        sections.append({"title": words["sections"]["statements"], "table": {
            "columns": words["columns"]["statements"],
            "rows": [[f"{shown(s.get('mean_ms'))} ms", shown(s.get("calls")), f"{shown((reading(s.get('total_ms')) or 0) / 1000)} s",
                      _cell(s.get("query"))[:200]] for s in statements]}})
    long_queries = data("connections").get("long_queries") or []
    if long_queries:
        sections.append({"title": words["sections"]["long_queries"], "lines": [
            f"{query.get('seconds')} s, pid {query.get('pid')}, {query.get('user')}: {_cell(query.get('query'))[:200]}"
            for query in long_queries]})
    archived = data("archive").get("tables") or []
    if archived:
        sections.append({"title": words["sections"]["archive"], "table": {"columns": words["columns"]["archive"], "rows": [
            [(table.get("item") or {}).get("table"), table.get("archive_table"), table.get("cutoff"),
             shown(table.get("rows_moved")), shown(table.get("batches"))] for table in archived]}})
    unused = data("unused_indexes").get("indexes") or []
    if unused:
        sections.append({"title": words["sections"]["unused_indexes"], "lines": [
            f"{index.get('index')} ({index.get('table')}, {mib(index.get('bytes'))})" for index in unused]})
    return sections


def maintenance_document(report, history, words):
    """A maintenance run's report as a document: its result, every step and host, the change of each measurement
    since the last run of its level, the steps' findings, and charts of the level's runs."""
    steps = [name for name in report["plan"] if name in report["steps"]] + \
        [name for name in report["steps"] if name not in report["plan"]]
    summary = [words["result_failed"].format(steps=", ".join(report["failed"])) if report["failed"]
               else words["result_ok"]]
    if report["warnings"]:
        summary.append(words["warnings"].format(steps=", ".join(report["warnings"])))
    summary.append(words["run"].format(run_id=report["run_id"], operator=report["operator"],
                                       started=report["started_at"]))

    host_rows = []
    for name, host in report["hosts"].items():
        if host.get("status") == "ok":
            disks = (host.get("resources") or {}).get("disks") or []
            fullest = max(disks, key=lambda disk: reading(disk.get("percent")) or 0, default={})
            cleanup = host.get("cleanup") or {}
            host_rows.append([name, words["status"].get("ok"), shown(cleanup.get("files_removed")),
                              mib(cleanup.get("bytes_freed")),
                              f"{fullest.get('mount', '-')} {shown(fullest.get('percent'))} %",
                              f"{shown(((host.get('resources') or {}).get('memory') or {}).get('used_percent'))} %"])
            for error in cleanup.get("errors") or []:
                summary.append(f"{name}: {error.get('path')}: {error.get('error')}")
        else:
            host_rows.append([name, words["status"].get(host.get("status"), host.get("status")), "-", "-", "-",
                              _cell(host.get("error"))])

    changes = [[change["name"], shown(change.get("before"), 3), shown(change.get("after"), 3),
                "-" if change.get("change") is None else ("+" if change["change"] > 0 else "") + shown(change["change"], 3)
                + ("" if change.get("percent") is None else f" ({change['percent']:+.1f} %)")]
               for change in report.get("changes") or []]
    since = words["since_first"].format(level=report["level"]) if not report.get("previous_run") \
        else words["since_previous"].format(level=report["level"], run_id=report["previous_run"])

    return {
        "name": f"maintenance-{report['level']}-{report['run_id']}",
        "title": words["title"].format(level=report["level"], date=report["date"]),
        "status": "failed" if report["failed"] else "warning" if report["warnings"] else "ok",
        "generated_at": report["finished_at"],
        "summary": summary,
        "sections": [
            {"title": words["sections"]["steps"], "table": {"columns": words["columns"]["steps"], "rows": [
                [name, words["status"].get(report["steps"][name].get("status"), report["steps"][name].get("status")),
                 _cell(report["steps"][name].get("summary"))] for name in steps]}},
            {"title": words["sections"]["hosts"], "table": {"columns": words["columns"]["hosts"], "rows": host_rows}},
            {"title": words["sections"]["changes"].format(level=report["level"]), "lines": [since],
             "table": {"columns": words["columns"]["changes"], "rows": changes},
             "charts": _run_charts(report, history, words)},
        ] + _details(report, words),
    }


# ----- the annual report ---------------------------------------------------------------------------------

def _month(text):
    return str(text or "")[:7]


def _by_month(entries, year, read):
    """Twelve values, one per month of the year: ``read`` of that month's entries, or None for a month without."""
    months = [f"{year}-{number:02d}" for number in range(1, 13)]
    grouped = {month: [] for month in months}
    for entry in entries:
        month = _month(entry.get("date") or entry.get("at"))
        if month in grouped:
            grouped[month].append(entry)
    return months, [read(grouped[month]) if grouped[month] else None for month in months]


def _median_of(name):
    def read(entries):
        values = [reading((entry.get("metrics") or {}).get(name)) for entry in entries]
        values = [value for value in values if value is not None]
        return round(statistics.median(values), 1) if values else None
    return read


def annual_document(year_data, words):
    """The year in one document: uptime against its target, incidents by severity with their time to resolve,
    response time, capacity, security work, and the maintenance runs and drills."""
    year, checks = int(year_data["year"]), year_data.get("checks") or []
    maintenance, incidents = year_data["maintenance"], year_data.get("incidents") or []
    target = float(year_data.get("target_percent") or 99.9)

    # Uptime, as the hourly checks saw the health endpoint: the share of checks that found it healthy.
    hourly = [check for check in checks if check.get("phase") == "hourly"
              and reading((check.get("metrics") or {}).get("health.ok")) is not None]
    healthy = sum(1 for check in hourly if check["metrics"]["health.ok"] == 1)
    # Compared unrounded: 99.89999 % misses a 99.9 % target, whatever the page rounds it to.
    uptime = 100.0 * healthy / len(hourly) if hourly else None
    months, monthly_uptime = _by_month(hourly, year, lambda entries: round(
        100.0 * sum(entry["metrics"]["health.ok"] == 1 for entry in entries) / len(entries), 3))
    uptime_lines = [words["uptime"].format(uptime=f"{uptime:.3f}" if uptime is not None else "-",
                                           target=shown(target, 3), checks=len(hourly),
                                           verdict=words["met"] if uptime is not None and uptime >= target
                                           else words["missed"] if uptime is not None else "-")
                    if hourly else words["uptime_unknown"]]

    severity_rows, bars = [], {}
    for severity in SEVERITIES:
        of_severity = [incident for incident in incidents if incident.get("severity") == severity]
        minutes = [incident["minutes_to_resolve"] for incident in of_severity
                   if incident.get("minutes_to_resolve") is not None]
        bars[severity] = len(of_severity)
        severity_rows.append([severity, len(of_severity), shown(statistics.median(minutes)) if minutes else "-",
                              shown(max(minutes)) if minutes else "-",
                              sum(incident.get("resolved_at") is None for incident in of_severity)])

    mornings = [check for check in checks if check.get("phase") == "morning"]
    database_sizes = sorted({name for check in mornings for name in (check.get("metrics") or {})
                             if name.startswith("database.") and name.endswith(".bytes")})
    size_series = {}
    for name in database_sizes:
        size_series[name.split(".", 1)[1].rsplit(".", 1)[0]] = [
            None if value is None else round(value / 1048576, 3)
            for value in _by_month(mornings, year, lambda entries, name=name: next(
                (reading(entry["metrics"].get(name)) for entry in reversed(entries)
                 if reading(entry["metrics"].get(name)) is not None), None))[1]]
    failed_logins = sum(reading(value) or 0 for check in mornings for name, value in (check.get("metrics") or {}).items()
                        if name.startswith("security.") and name.endswith(".failed_logins"))
    sudo = sum(reading(value) or 0 for check in mornings for name, value in (check.get("metrics") or {}).items()
               if name.startswith("security.") and name.endswith(".sudo"))
    vulnerabilities = maintenance.get("vulnerabilities_last") or {}

    level_rows = [[level, counts["runs"], counts["failed"]] for level, counts in maintenance["by_level"].items()]
    drill_rows = [[drill["date"], words["status"]["ok"] if drill.get("passed", True) else words["status"]["failed"],
                   f"{shown(drill['rto_seconds'])} s",
                   "-" if drill.get("rpo_seconds") is None else f"{shown(drill['rpo_seconds'] / 3600)} h"]
                  for drill in maintenance["drills"]]
    missed = uptime is not None and uptime < target

    return {
        "name": f"annual-{year}",
        "title": words["annual_title"].format(year=year),
        "status": "failed" if missed else "warning" if maintenance["failed_runs"] or uptime is None else "ok",
        "generated_at": year_data["generated_at"],
        "summary": uptime_lines + [words["incidents"].format(count=len(incidents)),
                                   words["runs"].format(runs=maintenance["runs"], failed=maintenance["failed_runs"])],
        "sections": [
            {"title": words["sections"]["uptime"], "lines": uptime_lines,
             "charts": [{"id": "uptime", "type": "line", "title": words["charts"]["uptime"], "unit": "%",
                         "labels": months, "series": {words["charts"]["uptime"]: monthly_uptime,
                                                      words["target"]: [target] * 12},
                         # From a little under the worst month, so that a dip below the target shows.
                         "low": max(0.0, min([target] + [value for value in monthly_uptime if value is not None]) - 0.5),
                         "empty": uptime is None}]},
            {"title": words["sections"]["incidents"],
             "table": {"columns": words["columns"]["severities"], "rows": severity_rows},
             "charts": [{"id": "incidents_by_severity", "type": "bar", "title": words["charts"]["incidents"], "unit": "",
                         "bars": bars, "empty": False}]},
            {"title": words["sections"]["performance"], "charts": [{
                "id": "response_time", "type": "line", "title": words["charts"]["response"], "unit": "ms",
                "labels": months, "series": {"median": _by_month(checks, year, _median_of("response.median_ms"))[1],
                                             "p95": _by_month(checks, year, _median_of("response.p95_ms"))[1]},
                "empty": not checks}]},
            {"title": words["sections"]["capacity"],
             "lines": [words["archived"].format(rows=shown(maintenance["archived_rows"]))],
             "charts": [{"id": "database_size", "type": "line", "title": words["charts"]["database_size"], "unit": "MiB",
                         "labels": months, "series": size_series or {"-": [None] * 12}, "empty": not size_series}]},
            {"title": words["sections"]["security"], "lines": [
                words["security"].format(failed=shown(failed_logins), sudo=shown(sudo)),
                words["vulnerabilities"].format(found=", ".join(f"{name} {count}" for name, count in vulnerabilities.items())
                                                or "-")]},
            {"title": words["sections"]["maintenance"],
             "lines": [f"{step}: {count}" for step, count in maintenance["failed_steps"].items()],
             "table": {"columns": words["columns"]["levels"], "rows": level_rows}},
            {"title": words["sections"]["drills"], "table": {"columns": words["columns"]["drills"], "rows": drill_rows}},
        ],
    }


class FilterModule:
    def filters(self):
        return {"maintenance_document": maintenance_document, "annual_document": annual_document}
