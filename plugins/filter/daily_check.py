# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a daily check comes to: its measurements for the history, its verdict, and its report as a document the
reports role renders (Markdown and HTML) and summarises for Slack.

The role gathers; this filter decides and words. It is Python rather than Jinja because a report is many small
decisions (what is missing, what needs a look, which gap to leave), and they read and test better here.
Documentation is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import datetime
import zoneinfo

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.filter.reports import (
    history_series,
    mib,
    oncall_handoff,
    reading,
    shown,
    threshold_breaches,
)

SEVERITIES = ("P1", "P2", "P3", "P4")


def _local(text, zone, pattern="%m-%d %H:%M"):
    """An ISO 8601 time as the team reads it, in its own time zone."""
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text or "-")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).strftime(pattern)


class _Report:
    """One check's report being written: its sections, summary lines, measurements and what needs a look."""

    def __init__(self, gathered, words):
        self.data = gathered
        self.words = words
        self.zone = gathered["time_zone"]
        self.windows = gathered["windows"]
        self.sections = []
        self.summary = []
        self.metrics = {}
        self.warnings = []
        self.failures = []

    def say(self, key, **values):
        return self.words[key].format(**values)

    def section(self, key, lines=None, table=None, charts=None):
        self.sections.append({"title": self.words["sections"][key], "lines": lines or [], "table": table,
                              "charts": charts or []})

    def unread(self, source, error):
        line = self.say("not_read", source=source, error=error)
        self.warnings.append(line)
        return line

    # ----- charts from the history ----------------------------------------------------------------------
    def history(self):
        """The history before this check, with this check's own measurements as its last line."""
        return list(self.data.get("history") or []) + [{"phase": self.data["phase"], "at": self.windows["now"],
                                                        "metrics": self.metrics}]

    def line_chart(self, chart_id, title, unit, lines, start, end, step_hours, label_format, phases=None, scale=1):
        records = [record for record in self.history() if phases is None or record.get("phase") in phases]
        data = history_series(records, lines, start, end, step_hours, self.zone, label_format)
        # Sizes are kept in bytes and shown in MiB, which a person reads at a glance.
        series = {name: [None if value is None else round(value / scale, 3) for value in values]
                  for name, values in data["series"].items()}
        return {"id": chart_id, "type": "line", "title": title, "unit": unit, "labels": data["labels"],
                "series": series, "empty": data["readings"] == 0}

    def day_chart(self, chart_id, title, unit, lines):
        """Readings of today, hour by hour, up to the next full hour."""
        end = datetime.datetime.fromisoformat(self.windows["day_start"].replace("Z", "+00:00")) \
            + datetime.timedelta(hours=max(1, int(float(self.windows["hours_since_day_start"])) + 1))
        return self.line_chart(chart_id, title, unit, lines, self.windows["day_start"],
                               end.strftime("%Y-%m-%dT%H:%M:%SZ"), 1, "%H:%M")

    def days_chart(self, chart_id, title, unit, lines, days, step_days=1, phases=("morning",), scale=1):
        end = datetime.datetime.fromisoformat(self.windows["tomorrow_start"].replace("Z", "+00:00"))
        start = end - datetime.timedelta(days=days)
        return self.line_chart(chart_id, title, unit, lines, start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               end.strftime("%Y-%m-%dT%H:%M:%SZ"), 24 * step_days, "%m-%d", phases, scale)

    def severity_chart(self, incidents):
        bars = {severity: 0 for severity in SEVERITIES}
        for incident in incidents:
            if incident.get("severity") in bars:
                bars[incident["severity"]] += 1
        return {"id": "incidents_by_severity", "type": "bar", "title": self.words["charts"]["incidents"],
                "unit": "", "bars": bars, "empty": False}

    # ----- what each check reads --------------------------------------------------------------------------
    def response_time(self, latency, healthy):
        median, p95 = (latency or {}).get("median_ms"), (latency or {}).get("p95_ms")
        if healthy and reading(median) is not None:
            self.metrics.update({"response.median_ms": reading(median), "response.p95_ms": reading(p95)})
            line = self.say("response", median=shown(median), p95=shown(p95), samples=len(latency.get("samples_ms") or []))
        else:
            line = self.say("response_unknown")
        chart = self.day_chart("response_time", self.words["charts"]["response"], "ms",
                               {"median": "response.median_ms", "p95": "response.p95_ms"})
        return line, chart

    def incidents(self, since):
        """The incidents of the window from the three places they are kept; returns the summary line. A source
        that could not be read records no count, so its chart shows a gap rather than a calm zero."""
        rows, counts, unread, still_open = [], {}, [], []

        def row(source, key, title, status, severity, opened, resolved):
            rows.append([source, key, title, status, severity, _local(opened, self.zone),
                         _local(resolved, self.zone) if resolved else "-"])
            if status not in ("resolved", "postmortem"):
                still_open.append(f"{source} {key}")

        pagerduty = self.data.get("pagerduty") or {}
        if pagerduty.get("enabled"):
            for incident in pagerduty.get("incidents") or []:
                row("PagerDuty", f"#{incident.get('incident_number')}", incident.get("title"), incident.get("status"),
                    incident.get("urgency"), incident.get("created_at"), incident.get("resolved_at"))
            if pagerduty.get("error"):
                unread.append(self.unread("PagerDuty", pagerduty["error"]))
            counts["PagerDuty"] = None if pagerduty.get("error") else len(pagerduty.get("incidents") or [])
        statuspage = self.data.get("statuspage") or {}
        if statuspage.get("enabled"):
            for incident in statuspage.get("recent") or []:
                row("Statuspage", incident.get("key") or incident.get("id"), incident.get("name"), incident.get("status"),
                    incident.get("impact"), incident.get("created_at"), incident.get("resolved_at"))
            if statuspage.get("error"):
                unread.append(self.unread("Statuspage", statuspage["error"]))
            counts["Statuspage"] = None if statuspage.get("error") else len(statuspage.get("recent") or [])
        runbook = self.data.get("incidents") or []
        for incident in runbook:
            row("runbook", incident["incident_id"], incident.get("title"), incident.get("status"),
                incident.get("severity"), incident["declared_at"], incident.get("resolved_at"))
        counts["runbook"] = len(runbook)

        self.metrics.update({f"incidents.{source.lower()}": count for source, count in counts.items()})
        for severity in SEVERITIES:
            self.metrics[f"incidents.{severity}"] = sum(incident.get("severity") == severity for incident in runbook)
        if still_open:
            self.warnings.append(self.say("incidents_open", ids=", ".join(still_open)))
        self.section("incidents", [self.say("incidents_since", since=_local(since, self.zone))] + unread,
                     {"columns": self.words["columns"]["incidents"], "rows": rows}, [self.severity_chart(runbook)])
        return self.say("incidents", since=_local(since, self.zone), counts=", ".join(
            f"{source} {self.words['unknown'] if count is None else count}" for source, count in counts.items()))

    def hosts(self, kind):
        """The ops hosts' reports of this check; an unreachable or failed host needs a look."""
        found = {}
        for name, report in sorted((self.data.get("hosts") or {}).items()):
            if report.get("status") != "ok":
                self.warnings.append(self.say("host_unread", host=name, error=report.get("error") or report.get("status")))
            else:
                found[name] = report.get(kind) or {}
        return found

    # ----- the three checks -------------------------------------------------------------------------------
    def morning(self):
        health = self.data.get("health") or {}
        checks = health.get("checks") or {}
        self.metrics["health.ok"] = 1 if health.get("healthy") else 0
        lines = []
        for name, check in checks.items():
            explained = check.get("reason") and check.get("verdict") in ("fail", "warn")
            lines.append(f"{name}: {check.get('verdict')}" + (f" ({check.get('reason')})" if explained else ""))
        if not health.get("healthy"):
            self.failures.append(self.say("unhealthy", checks=", ".join(health.get("failed_checks") or []) or "?"))
        response = checks.get("response_time") or {}
        response_line, response_chart = self.response_time(
            {"median_ms": response.get("median_ms"), "p95_ms": response.get("p95_ms"),
             "samples_ms": [None] * int(reading(response.get("samples")) or 0)},
            response.get("verdict") in ("pass", "fail"))
        self.section("health", lines + [response_line], charts=[response_chart])
        self.summary.append(self.say("healthy" if health.get("healthy") else "unhealthy_summary"))
        self.summary.append(response_line)

        self.summary.append(self.incidents(self.windows["since_evening"]))
        self.backups()
        self.sizes()
        self.security()

    def backups(self):
        backups = self.data.get("backups") or {}
        rows, lines = [], []
        if backups.get("error"):
            lines.append(self.unread(self.words["sources"]["backups"], backups["error"]))
        for entry in backups.get("backups") or []:
            database = entry.get("database")
            self.metrics[f"backup.{database}.age_hours"] = reading(entry.get("age_hours"))
            rows.append([database, entry.get("newest") or "-", shown(entry.get("age_hours")),
                         self.words["yes"] if entry.get("verified") else self.words["no"], mib(entry.get("size_bytes")),
                         " ".join(entry.get("problems") or [])])
            for problem in entry.get("problems") or []:
                self.warnings.append(f"{database}: {problem}")
        databases = [entry.get("database") for entry in backups.get("backups") or []]
        chart = self.days_chart("backup_age", self.words["charts"]["backup_age"], self.words["units"]["hours"],
                                {database: f"backup.{database}.age_hours" for database in databases} or {"-": "-"}, 14)
        self.section("backups", lines, {"columns": self.words["columns"]["backups"], "rows": rows}, [chart])
        stale = [entry.get("database") for entry in backups.get("backups") or [] if entry.get("problems")]
        self.summary.append(self.say("backups_stale", databases=", ".join(stale)) if stale
                            else self.say("backups_fresh", count=len(rows)) if rows else self.say("backups_none"))
        if not rows and not backups.get("error"):
            self.warnings.append(self.say("backups_none"))

    def sizes(self):
        sizes = self.data.get("sizes") or {}
        lines, rows = [], []
        if sizes.get("error"):
            lines.append(self.unread(self.words["sources"]["sizes"], sizes["error"]))
        # The templates are PostgreSQL's, not the team's.
        listed = [entry for entry in sizes.get("database_sizes") or [] if not entry["name"].startswith("template")]
        databases = [entry["name"] for entry in listed]
        for entry in listed:
            self.metrics[f"database.{entry['name']}.bytes"] = reading(entry.get("bytes"))
        tables = (sizes.get("table_sizes") or {}).get("tables") or []
        for table in tables:
            self.metrics[f"table.{table['table']}.bytes"] = reading(table.get("total_bytes"))
            rows.append([table["table"], mib(table.get("total_bytes")), mib(table.get("index_bytes")),
                         shown(table.get("estimated_rows"))])
        weeks = int(self.data.get("size_weeks") or 8)
        charts = [self.days_chart("database_size", self.words["charts"]["database_size"], "MiB",
                                  {name: f"database.{name}.bytes" for name in databases} or {"-": "-"}, weeks * 7, 7,
                                  scale=1048576),
                  self.days_chart("table_sizes", self.words["charts"]["table_sizes"], "MiB",
                                  {table["table"]: f"table.{table['table']}.bytes" for table in tables} or {"-": "-"},
                                  weeks * 7, 7, scale=1048576)]
        self.section("sizes", lines, {"columns": self.words["columns"]["tables"], "rows": rows}, charts)

    def security(self):
        rows, failed_total, sudo_total = [], 0, 0
        for name, report in self.hosts("security").items():
            failed, accepted, sudo = (report.get("failed_logins") or {}, report.get("accepted_logins") or {},
                                      report.get("sudo") or {})
            failed_total += int(reading(failed.get("count")) or 0)
            sudo_total += int(reading(sudo.get("count")) or 0)
            self.metrics[f"security.{name}.failed_logins"] = reading(failed.get("count"))
            self.metrics[f"security.{name}.sudo"] = reading(sudo.get("count"))
            addresses = ", ".join(f"{entry.get('address')} ({entry.get('count')})"
                                  for entry in (failed.get("by_address") or [])[:3])
            sudo_users = ", ".join(f"{entry.get('user')}→{entry.get('target')} ({entry.get('count')})"
                                   for entry in (sudo.get("by_user") or [])[:3])
            rows.append([name, _local(report.get("since"), self.zone), shown(failed.get("count")),
                         shown(failed.get("invalid_users")), addresses or "-",
                         shown(accepted.get("count")), shown(sudo.get("count")), sudo_users or "-",
                         shown(sudo.get("failures"))])
            if reading(sudo.get("failures")):
                self.warnings.append(self.say("sudo_failures", host=name, count=shown(sudo.get("failures"))))
        self.section("security", [self.words["security_since"]], {"columns": self.words["columns"]["security"],
                                                                  "rows": rows})
        self.summary.append(self.say("security", failed=failed_total, sudo=sudo_total, hosts=len(rows)))

    def hourly(self):
        probe = self.data.get("probe") or {}
        response_line, response_chart = self.response_time(probe.get("latency"), probe.get("healthy"))
        self.metrics["health.ok"] = 1 if probe.get("healthy") else 0
        error_rate = reading(self.data.get("error_rate"))
        users = self.data.get("active_users") or {}
        readings = {"health": self.metrics["health.ok"], "response_median_ms": self.metrics.get("response.median_ms"),
                    "response_p95_ms": self.metrics.get("response.p95_ms"), "error_rate": error_rate,
                    "active_users": reading(users.get("value")), "disk_percent": None, "memory_percent": None,
                    "load_per_cpu": None}
        # The endpoint's health and each host's answer are thresholds too: a host or an endpoint that stays down is
        # announced when it goes and when it comes back, not every hour in between.
        thresholds = {"health": {"below": 1}, **(self.data.get("thresholds") or {})}
        host_rows, host_errors = [], {}
        for name, report in sorted((self.data.get("hosts") or {}).items()):
            readings[f"host:{name}"], thresholds[f"host:{name}"] = int(report.get("status") == "ok"), {"below": 1}
            if report.get("status") != "ok":
                host_errors[name] = report.get("error") or report.get("status")
                continue
            resources = report.get("resources") or {}
            disks = [reading(disk.get("percent")) for disk in resources.get("disks") or []]
            memory = reading((resources.get("memory") or {}).get("used_percent"))
            load = reading((resources.get("load") or {}).get("1m"))
            per_cpu = load / max(1, int(reading(resources.get("cpu_count")) or 1)) if load is not None else None
            host = {"disk_percent": max([d for d in disks if d is not None], default=None), "memory_percent": memory,
                    "load_per_cpu": round(per_cpu, 2) if per_cpu is not None else None}
            for metric, value in host.items():
                self.metrics[f"host.{name}.{metric}"] = value
                if value is not None and (readings[metric] is None or value > readings[metric]):
                    readings[metric] = value
            host_rows.append([name, shown(host["disk_percent"]), shown(memory), shown(host["load_per_cpu"], 2)])
        self.metrics.update({"error_rate": error_rate, "active_users": readings["active_users"]})

        verdict = threshold_breaches(readings, thresholds, self.data.get("previous_breaches"))
        # A metric of the application that has a threshold and could not be read says so; the hosts' metrics are
        # unread only when their host is, which is said already.
        self.unreadable = [metric for metric in verdict["unread"] if metric in ("error_rate", "active_users")]
        lines = [response_line]
        if users.get("enabled") and users.get("error"):
            lines.append(self.unread(self.words["sources"]["active_users"], users["error"]))
        for metric in self.unreadable:
            if metric != "active_users" or not users.get("error"):
                lines.append(self.unread(self.words["metrics"][metric], self.words["no_reading"]))
        # A breach still stands while its metric cannot be read: its recovery is announced once it is read again.
        self.breaches = verdict["names"] + [metric for metric in self.data.get("previous_breaches") or []
                                            if metric in verdict["unread"]]
        self.recovered = verdict["recovered"]
        self.new_unreadable = [metric for metric in self.unreadable if metric not in (self.data.get("previous_unread") or [])]

        rows = []
        for metric, value in readings.items():
            if metric.startswith("host:"):
                continue
            rule = thresholds.get(metric)
            breach = next((entry for entry in verdict["breached"] if entry["metric"] == metric), None)
            state = (self.words["state"]["new"] if breach and breach["new"] else self.words["state"]["still"] if breach
                     else self.words["state"]["recovered"] if metric in verdict["recovered"]
                     else self.words["state"]["unread"] if rule and value is None else self.words["state"]["ok"])
            limit = f"{self.words['directions'][next(iter(rule))]} {shown(next(iter(rule.values())), 3)}" if rule else "-"
            rows.append([self.words["metrics"].get(metric, metric), shown(value, 3), limit, state])
        for breach in verdict["breached"]:
            (self.failures if breach["new"] else self.warnings).append(self.breach_line(breach, probe, host_errors))
        self.section("readings", lines, {"columns": self.words["columns"]["readings"], "rows": rows},
                     [response_chart,
                      self.day_chart("error_rate", self.words["charts"]["error_rate"], "", {"error rate": "error_rate"}),
                      self.day_chart("active_users", self.words["charts"]["active_users"], "",
                                     {"users": "active_users"})])
        self.section("hosts", [self.say("host_unread", host=name, error=error) for name, error in host_errors.items()],
                     {"columns": self.words["columns"]["hosts"], "rows": host_rows})
        self.summary.append(response_line)
        self.summary.extend(self.recovery_line(metric, readings.get(metric)) for metric in verdict["recovered"])

    def breach_line(self, breach, probe, host_errors):
        metric = breach["metric"]
        if metric == "health":
            return self.say("health_down", reason=probe.get("reason") or "-")
        if metric.startswith("host:"):
            return self.say("host_unread", host=metric[5:], error=host_errors.get(metric[5:], "-"))
        return self.say("breach", metric=self.words["metrics"].get(metric, metric), value=shown(breach["value"], 3),
                        direction=self.words["directions"][breach["direction"]], limit=shown(breach["limit"], 3))

    def recovery_line(self, metric, value):
        if metric == "health":
            return self.say("health_back")
        if metric.startswith("host:"):
            return self.say("host_back", host=metric[5:])
        return self.say("recovered", metric=self.words["metrics"].get(metric, metric), value=shown(value, 3))

    def evening(self):
        self.summary.append(self.incidents(self.windows["day_start"]))
        self.deploys()
        self.maintenance()
        self.section("trend", [], charts=[
            self.day_chart("response_time", self.words["charts"]["response"], "ms",
                           {"median": "response.median_ms", "p95": "response.p95_ms"}),
            self.day_chart("error_rate", self.words["charts"]["error_rate"], "", {"error rate": "error_rate"})])
        self.tomorrow()
        self.handoff()

    def deploys(self):
        deploys = self.data.get("deploys") or {}
        lines, rows = [], []
        if deploys.get("enabled"):
            if deploys.get("error"):
                lines.append(self.unread("Vercel", deploys["error"]))
            for deployment in deploys.get("deployments") or []:
                rows.append([_local(deployment.get("created_at"), self.zone, "%H:%M"), deployment.get("id"),
                             deployment.get("state"), deployment.get("target") or "preview",
                             deployment.get("creator") or "-", (deployment.get("commit_message") or "-").splitlines()[0][:80]
                             if deployment.get("commit_message") else "-"])
            failed = [row for row in rows if row[2] == "ERROR"]
            if not deploys.get("error"):
                self.metrics["deploys.count"] = len(rows)
            self.summary.append(self.say("deploys", count=len(rows), failed=len(failed)))
        self.section("deploys", lines, {"columns": self.words["columns"]["deploys"], "rows": rows})

    def maintenance(self):
        rows = [[record.get("level"), record.get("result"), ", ".join(record.get("failed") or []) or "-",
                 record.get("run_id")] for record in self.data.get("maintenance") or []]
        failed = [row for row in rows if row[1] == "failed"]
        if failed:
            self.warnings.append(self.say("maintenance_failed", levels=", ".join(row[0] for row in failed)))
        self.section("maintenance", [] if rows else [self.words["maintenance_none"]],
                     {"columns": self.words["columns"]["maintenance"], "rows": rows})

    def tomorrow(self):
        statuspage = self.data.get("statuspage") or {}
        start, end = self.windows["tomorrow_start"], self.windows["tomorrow_end"]
        rows = []
        for maintenance in statuspage.get("maintenances") or []:
            starts = maintenance.get("scheduled_for") or ""
            if _local(starts, "UTC", "%Y-%m-%dT%H:%M:%SZ") < end and \
                    _local(maintenance.get("scheduled_until") or starts, "UTC", "%Y-%m-%dT%H:%M:%SZ") >= start:
                rows.append([self.words["kinds"]["maintenance"], _local(starts, self.zone, "%H:%M"),
                             maintenance.get("name"), maintenance.get("status")])
        for deploy in self.data.get("planned_deploys") or []:
            if str(deploy.get("date")) == self.windows["tomorrow"]:
                rows.append([self.words["kinds"]["deploy"], deploy.get("time") or "-", deploy.get("what"),
                             deploy.get("who") or "-"])
        self.section("tomorrow", [] if rows else [self.words["tomorrow_none"]],
                     {"columns": self.words["columns"]["tomorrow"], "rows": sorted(rows, key=lambda row: str(row[1]))})
        deploys = sum(row[0] == self.words["kinds"]["deploy"] for row in rows)
        self.summary.append(self.say("tomorrow", maintenances=len(rows) - deploys, deploys=deploys))

    def handoff(self):
        rotation = self.data.get("oncall_rotation") or {}
        if not rotation:
            return
        handoff = oncall_handoff(rotation, self.windows["now"], self.zone)
        lines = [self.say("oncall_week", week=self.words[name], start=week["from"], end=week["to"],
                          primary=week["primary"], secondary=week["secondary"] or "-")
                 if week else self.say("oncall_not_started", week=self.words[name], start=handoff["starts_on"])
                 for name, week in (("this_week", handoff["this_week"]), ("next_week", handoff["next_week"]))]
        if handoff["this_week"] is None:
            self.warnings.append(lines[0])
        rows = [[level["level"], level["who"], shown(level["respond_within_minutes"]), level.get("contact") or "-"]
                for level in handoff["escalation"]]
        self.section("oncall", lines, {"columns": self.words["columns"]["escalation"], "rows": rows})
        self.summary.append(lines[0])


def daily_check_report(gathered, words):
    """The check's report from what the role gathered: measurements, verdict, summary lines and the document."""
    phase = (gathered or {}).get("phase")
    if phase not in ("morning", "hourly", "evening"):
        raise AnsibleFilterError(f"daily_check_report takes the morning, hourly or evening check, not {phase!r}.")
    report = _Report(gathered, words)
    getattr(report, phase)()

    status = "failed" if report.failures else "warning" if report.warnings else "ok"
    hourly = phase == "hourly"
    windows = gathered["windows"]
    return {
        "status": status,
        "metrics": {name: value for name, value in report.metrics.items() if value is not None},
        "failures": report.failures,
        "warnings": report.warnings,
        "summary": report.summary,
        "breaches": report.breaches if hourly else [],
        "unread": report.unreadable if hourly else [],
        # The hourly check speaks only when something crossed a threshold, came back, or can no longer be read.
        "speak": not hourly or bool(report.failures or report.recovered or report.new_unreadable),
        "document": {
            "name": gathered["report_name"],
            "title": report.say(f"title_{phase}", date=windows["today"], time=windows["local_time"]),
            "status": status,
            "generated_at": windows["local_time"],
            "summary": report.failures + report.warnings + report.summary,
            "sections": report.sections,
        },
    }


class FilterModule:
    def filters(self):
        return {"daily_check_report": daily_check_report}
