# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the report pages compute from the checks' history, the incident timelines and the inventory's rota.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import datetime
import zoneinfo

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

DIRECTIONS = ("above", "below")


def _moment(value, what):
    """An ISO 8601 time with an offset (or Z) as an aware datetime."""
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise AnsibleFilterError(f"{what} must be an ISO 8601 time, not {value!r}.") from None
    if moment.tzinfo is None:
        raise AnsibleFilterError(f"{what} must say its offset from UTC (for example Z or +09:00): {value!r}.")
    return moment


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise AnsibleFilterError(f"Unknown time zone {name!r}; use a name such as Asia/Tokyo or UTC.") from None


def reading(value):
    """A measurement as a float, or None for what is no number (a missing reading, a text, a boolean)."""
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def shown(value, digits=1):
    """A number as a report shows it: whole numbers without decimals, others rounded; '-' when unknown."""
    number = reading(value)
    if number is None:
        return "-"
    return f"{number:,.0f}" if number.is_integer() or abs(number) >= 1000 else f"{number:,.{digits}f}".rstrip("0").rstrip(".")


def mib(value):
    number = reading(value)
    return "-" if number is None else f"{number / 1048576:,.1f} MiB"


def history_series(records, metrics, start, end, step_hours=1, time_zone="UTC", label_format="%H:%M"):
    """The history's readings of some metrics in fixed steps from start to end, ready for line_chart: one value
    per step (the last reading in it), null for a step with none, so a gap shows as a gap."""
    if not isinstance(metrics, dict) or not metrics:
        raise AnsibleFilterError("history_series takes a dictionary of line names and metric names.")
    begin, finish = _moment(start, "start"), _moment(end, "end")
    step = datetime.timedelta(hours=float(step_hours))
    if step <= datetime.timedelta(0) or finish <= begin:
        raise AnsibleFilterError("history_series needs a positive step and an end after its start.")
    count = int(-(-(finish - begin) // step))
    series = {name: [None] * count for name in metrics}
    for record in sorted(records or [], key=lambda entry: str(entry.get("at", ""))):
        try:
            moment = _moment(record.get("at"), "A history line's time")
        except AnsibleFilterError:
            continue
        if not begin <= moment < finish:
            continue
        column = int((moment - begin) // step)
        for name, metric in metrics.items():
            value = reading((record.get("metrics") or {}).get(metric))
            if value is not None:
                series[name][column] = value
    zone = _zone(time_zone)
    labels = [(begin + step * column).astimezone(zone).strftime(label_format) for column in range(count)]
    return {"labels": labels, "series": series,
            "readings": sum(value is not None for values in series.values() for value in values)}


def incident_summaries(timelines, since=None, until=None, time_zone="UTC"):
    """One summary per incident from its timeline (the incident role's JSON lines): severity, title, when it was
    declared and resolved (and the local day of the declaration), and the minutes between. With since/until, only
    incidents open at some time in it. A timeline whose times cannot be read is passed over with a warning."""
    window_start = _moment(since, "since") if since else None
    window_end = _moment(until, "until") if until else None
    zone = _zone(time_zone)
    found = []
    for entries in timelines or []:
        try:
            summary = _incident_summary(entries, window_start, window_end, zone)
        except AnsibleFilterError as exc:
            Display().warning(f"An incident timeline was passed over: {exc}")
            continue
        if summary:
            found.append(summary)
    return sorted(found, key=lambda incident: incident["declared_at"])


def _incident_summary(entries, window_start, window_end, zone):
    """The summary of one timeline, or None when it is no incident or none of the window's."""
    entries = [entry for entry in entries or [] if isinstance(entry, dict) and entry.get("result") != "failed"]
    declared = next((entry for entry in entries if entry.get("action") == "declare"), None)
    if declared is None:
        return None
    resolved = next((entry for entry in reversed(entries) if entry.get("action") == "resolve"), None)
    latest = entries[-1]
    name = declared.get("incident_id") or "?"
    declared_at = _moment(declared.get("declared_at") or declared.get("at"), f"{name}: the declaration's time")
    resolved_at = _moment(resolved.get("at"), f"{name}: the resolution's time") if resolved else None
    if window_end and declared_at >= window_end:
        return None
    if window_start and resolved_at and resolved_at < window_start:
        return None
    return {
        "incident_id": declared.get("incident_id"),
        "severity": latest.get("severity") or declared.get("severity"),
        "title": latest.get("title") or declared.get("title"),
        "status": "resolved" if resolved else latest.get("status") or "investigating",
        "declared_at": declared_at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resolved_at": resolved_at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if resolved_at else None,
        "minutes_to_resolve": round((resolved_at - declared_at).total_seconds() / 60, 1) if resolved_at else None,
        "declared_date": declared_at.astimezone(zone).date().isoformat(),
    }


def last_reading(history, metric, phase=None):
    """The time (``at``) of the last check of the history that recorded ``metric``, or None when none did."""
    found = None
    for record in history or []:
        if (phase is None or record.get("phase") == phase) and (record.get("metrics") or {}).get(metric) is not None:
            if found is None or str(record.get("at", "")) > found:
                found = str(record.get("at"))
    return found


def _rota_week(rotation, first_day, week_start):
    weeks = rotation["weeks"]
    index = ((week_start - first_day).days // 7) % len(weeks)
    shift = weeks[index]
    return {"from": week_start.isoformat(), "to": (week_start + datetime.timedelta(days=6)).isoformat(),
            "primary": shift.get("primary"), "secondary": shift.get("secondary")}


def oncall_handoff(rotation, moment, time_zone="Asia/Tokyo"):
    """This week's and next week's on-call from a weekly rota that starts on ``starts_on`` and repeats its
    ``weeks``, with the escalation levels, for the moment given (in the rota's time zone)."""
    if not isinstance(rotation, dict):
        raise AnsibleFilterError("The on-call rota must be a dictionary with starts_on, weeks and escalation.")
    problems = []
    weeks = rotation.get("weeks")
    if not isinstance(weeks, list) or not weeks or not all(isinstance(week, dict) and week.get("primary")
                                                           for week in weeks):
        problems.append("weeks must be a list of weeks, each naming its primary")
    escalation = rotation.get("escalation")
    if not isinstance(escalation, list) or not all(isinstance(level, dict) and level.get("who")
                                                   and (reading(level.get("respond_within_minutes")) or -1) >= 0
                                                   for level in escalation or [None]):
        problems.append("escalation must be a list of levels, each with who and respond_within_minutes (0 or more)")
    try:
        first_day = datetime.date.fromisoformat(str(rotation.get("starts_on")))
    except ValueError:
        first_day = None
        problems.append(f"starts_on must be a date (YYYY-MM-DD), not {rotation.get('starts_on')!r}")
    if problems:
        raise AnsibleFilterError(f"The on-call rota is not usable: {'; '.join(problems)}.")

    today = _moment(moment, "The hand-off's time").astimezone(_zone(time_zone)).date()
    # A rota set up ahead of time has no week yet; it says when it starts.
    this_week = today - datetime.timedelta(days=(today - first_day).days % 7)
    next_week = this_week + datetime.timedelta(days=7)
    return {
        "starts_on": first_day.isoformat(),
        "this_week": _rota_week(rotation, first_day, this_week) if this_week >= first_day else None,
        "next_week": _rota_week(rotation, first_day, next_week) if next_week >= first_day else None,
        "escalation": [{"level": number, "who": level["who"],
                        "respond_within_minutes": reading(level["respond_within_minutes"]),
                        "contact": level.get("contact")}
                       for number, level in enumerate(escalation, start=1)],
    }


def threshold_breaches(readings, thresholds, previous=None):
    """Which readings are past their thresholds, which of those were not last time (new), and which were and are
    no longer (recovered). A threshold is ``{above: N}`` or ``{below: N}``; a missing reading breaches nothing
    and is listed as unread, so a check that could not measure says so instead of passing as well."""
    if not isinstance(thresholds, dict):
        raise AnsibleFilterError("threshold_breaches takes a dictionary of metric names and thresholds.")
    before = set(previous or [])
    breached, unread = [], []
    for name, rule in thresholds.items():
        if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in DIRECTIONS \
                or reading(next(iter(rule.values()))) is None:
            raise AnsibleFilterError(f"The threshold of {name} must be {{above: N}} or {{below: N}}, not {rule!r}.")
        if not 0 <= reading(next(iter(rule.values()))) < float("inf"):
            raise AnsibleFilterError(f"The threshold of {name} must be a finite number of 0 or more, not {rule!r}.")
        direction, limit = next(iter(rule.items()))
        value = reading((readings or {}).get(name))
        if value is None:
            unread.append(name)
        elif value > float(limit) if direction == "above" else value < float(limit):
            breached.append({"metric": name, "value": value, "limit": float(limit), "direction": direction,
                             "new": name not in before})
    names = [entry["metric"] for entry in breached]
    return {"breached": breached, "names": names,
            "recovered": sorted(name for name in before if name in thresholds and name not in names
                                and name not in unread),
            "unread": unread}


def _utc_text(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_windows(history, now, time_zone="Asia/Tokyo", evening_hour=18):
    """The periods a daily check reads, from the time it runs and the history of the checks before it.

    ``since_evening`` is the last evening check (at most two days back), else the previous day's evening hour;
    ``day_ago`` is where a host never read before starts. The day and tomorrow are local days."""
    zone = _zone(time_zone)
    moment = _moment(now, "now").astimezone(zone)
    day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    # Arithmetic on times of one zone is on the wall clock: a day later is the same hour, daylight saving or not.
    tomorrow_start = day_start + datetime.timedelta(days=1)
    evening = moment.replace(hour=int(evening_hour), minute=0, second=0, microsecond=0)
    if evening > moment:
        evening -= datetime.timedelta(days=1)

    evenings = []
    for record in history or []:
        try:
            at = _moment(record.get("at"), "A history line's time")
        except AnsibleFilterError:
            continue
        if record.get("phase") == "evening" and moment - datetime.timedelta(days=2) <= at < moment:
            evenings.append(at)
    since_evening = max(evenings) if evenings else evening
    return {
        "now": _utc_text(moment),
        "today": day_start.date().isoformat(),
        "tomorrow": tomorrow_start.date().isoformat(),
        "day_start": _utc_text(day_start),
        "tomorrow_start": _utc_text(tomorrow_start),
        "tomorrow_end": _utc_text(tomorrow_start + datetime.timedelta(days=1)),
        "hours_since_day_start": round((moment - day_start).total_seconds() / 3600, 3),
        "since_evening": _utc_text(since_evening),
        "day_ago": _utc_text(moment - datetime.timedelta(days=1)),
        "local_time": moment.strftime("%Y-%m-%d %H:%M %Z"),
    }


class FilterModule:
    def filters(self):
        return {"history_series": history_series, "incident_summaries": incident_summaries,
                "oncall_handoff": oncall_handoff, "threshold_breaches": threshold_breaches,
                "check_windows": check_windows, "last_reading": last_reading}
