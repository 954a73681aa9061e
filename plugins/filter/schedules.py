# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One schedule definition, said the way each scheduler reads it.

An entry says what runs (a playbook of the collection and its variables) and when: a time of day (or a minute
of every hour), optionally a weekday, the first or last such weekday of the month, and some months, in a time
zone. ``schedule_plans`` checks the entries and gives each one as an AWX/AAP RRULE, a systemd OnCalendar
expression and a cron line for Semaphore; ``schedule_next_runs`` gives the next run times of an entry, and
``schedule_day_matches`` tells whether a day is one of an entry's days.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import calendar
import datetime
import re
import zoneinfo
from pathlib import Path

from ansible.errors import AnsibleFilterError

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
# Not digits alone: awx.awx finds a schedule by its name or by its ID.
NAME = re.compile(r"^(?![0-9]+$)[a-z0-9][a-z0-9-]{0,62}$")
AT = re.compile(r"^(?P<hour>\*|[01]\d|2[0-3]):(?P<minute>[0-5]\d)$")
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKS = ("first", "last")
KEYS = {"name", "playbook", "at", "weekday", "week", "months", "vars", "enabled", "description", "time_zone",
        "timeout_minutes"}

# AWX reads an RRULE from its DTSTART on; one fixed start keeps the rule the same on every run, so applying the
# definition again changes nothing.
DTSTART = datetime.date(2026, 1, 1)


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise AnsibleFilterError(f"Unknown time zone {name!r}: use an IANA name such as Asia/Tokyo or UTC.") from exc


def _problems(entry, index, playbooks):
    """What is wrong with one entry, as sentences naming it."""
    if not isinstance(entry, dict):
        return [f"Schedule entry {index + 1} is not a mapping."]
    label = f"Schedule {entry.get('name', index + 1)!r}"
    problems = []
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        problems.append(f"{label} has unknown keys {', '.join(unknown)}; the keys are {', '.join(sorted(KEYS))}.")
    if not NAME.match(str(entry.get("name", ""))):
        problems.append(f"{label} needs a name of lower-case letters, digits and dashes, not digits alone (it names "
                        "units and jobs).")
    # A line break would end the unit file's line: what follows it would be read as a setting of the unit.
    if re.search(r"[\x00-\x1f\x7f]", str(entry.get("description", ""))):
        problems.append(f"{label} has a description of more than one line; give it one line.")
    if entry.get("playbook") not in playbooks:
        problems.append(f"{label} names playbook {entry.get('playbook')!r}; the collection's playbooks are "
                        f"{', '.join(playbooks)}.")
    at = AT.match(str(entry.get("at", "")))
    if not at:
        # YAML reads an unquoted 18:00 as the number 1080 (minutes, base 60).
        hint = " in quotes (YAML reads an unquoted 18:00 as a number)" if isinstance(entry.get("at"), int) else ""
        problems.append(f"{label} needs at: HH:MM (24-hour, e.g. '03:00') or '*:MM' for every hour{hint}.")
    weekday = entry.get("weekday")
    if weekday is not None and str(weekday).lower() not in WEEKDAYS:
        problems.append(f"{label} has weekday {weekday!r}; use one of {', '.join(WEEKDAYS)}.")
    week = entry.get("week")
    if week is not None and (week not in WEEKS or weekday is None):
        problems.append(f"{label} has week {week!r}: it must be first or last, with a weekday.")
    months = entry.get("months")
    if months is not None and (not isinstance(months, list) or not months
                               or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12
                                          for m in months)):
        problems.append(f"{label} has months {months!r}; give a list of month numbers 1 to 12.")
    if not isinstance(entry.get("vars", {}), dict):
        problems.append(f"{label} has vars that are not a mapping.")
    if not isinstance(entry.get("enabled", True), bool):
        problems.append(f"{label} has enabled {entry.get('enabled')!r}; use true or false.")
    timeout = entry.get("timeout_minutes", 1)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        problems.append(f"{label} has timeout_minutes {timeout!r}; give a whole number of minutes, 1 or more.")
    return problems


def _rrule(rule):
    """AWX's form: DTSTART with TZID, then an RRULE with INTERVAL and no numbered BYDAY (AWX refuses those)."""
    parts = []
    if rule["hour"] is None:
        parts += ["FREQ=HOURLY", "INTERVAL=1", f"BYMINUTE={rule['minute']}"]
    elif rule["week"]:
        parts += ["FREQ=MONTHLY", "INTERVAL=1"]
    elif rule["weekday"]:
        parts += ["FREQ=WEEKLY", "INTERVAL=1"]
    else:
        parts += ["FREQ=DAILY", "INTERVAL=1"]
    if rule["months"]:
        parts.append("BYMONTH=" + ",".join(str(m) for m in rule["months"]))
    if rule["weekday"]:
        parts.append("BYDAY=" + rule["weekday"][:2].upper())
    if rule["week"] == "first":
        parts.append("BYMONTHDAY=1,2,3,4,5,6,7")
    elif rule["week"] == "last":
        parts.append("BYMONTHDAY=-7,-6,-5,-4,-3,-2,-1")
    start = f"{DTSTART:%Y%m%d}T{rule['hour'] or 0:02d}{rule['minute']:02d}00"
    return f"DTSTART;TZID={rule['time_zone']}:{start} RRULE:{';'.join(parts)}"


def _on_calendar(rule):
    """systemd's form; it reads the weekday and the days together, and takes the time zone at the end."""
    weekday = rule["weekday"][:3].capitalize() + " " if rule["weekday"] else ""
    months = ",".join(f"{m:02d}" for m in rule["months"]) if rule["months"] else "*"
    days = {"first": "-01..07", "last": "~07/1", None: "-*"}[rule["week"]]
    hour = "*" if rule["hour"] is None else f"{rule['hour']:02d}"
    return f"{weekday}*-{months}{days} {hour}:{rule['minute']:02d}:00 {rule['time_zone']}"


def _cron(rule):
    """Semaphore's form (robfig/cron with a CRON_TZ prefix). Cron cannot say "the first Sunday": with both day
    fields set it runs on either, so the line runs on every such weekday and the run itself checks the week."""
    hour = "*" if rule["hour"] is None else str(rule["hour"])
    months = ",".join(str(m) for m in rule["months"]) if rule["months"] else "*"
    weekday = str((WEEKDAYS.index(rule["weekday"]) + 1) % 7) if rule["weekday"] else "*"
    return f"CRON_TZ={rule['time_zone']} {rule['minute']} {hour} * {months} {weekday}"


def _summary(rule):
    months = ", ".join(calendar.month_abbr[m] for m in rule["months"])
    if rule["week"]:
        day = f"the {rule['week']} {rule['weekday'].capitalize()} of {months or 'every month'}"
    elif rule["weekday"]:
        day = f"every {rule['weekday'].capitalize()}" + (f" in {months}" if months else "")
    else:
        day = f"every day in {months}" if months else "every day"
    if rule["hour"] is None:
        return f"{day}, every hour at minute {rule['minute']:02d} ({rule['time_zone']})"
    return f"{day} at {rule['hour']:02d}:{rule['minute']:02d} ({rule['time_zone']})"


def schedule_problems(entries, time_zone="Asia/Tokyo"):
    """Every problem of a schedule definition, as sentences naming the entry; empty when it is good."""
    if not isinstance(entries, list):
        return ["The schedule definition must be a list of entries."]
    # The plays that set the schedulers up are not themselves scheduled.
    playbooks = sorted(path.stem for path in PLAYBOOKS.glob("*.yml") if not path.stem.endswith("_configure"))
    problems = [problem for index, entry in enumerate(entries) for problem in _problems(entry, index, playbooks)]
    names = [entry.get("name") for entry in entries if isinstance(entry, dict)]
    problems += [f"Schedule {name!r} is defined more than once." for name in sorted(set(map(str, names)))
                 if list(map(str, names)).count(name) > 1]
    for entry in entries:
        zone = (entry.get("time_zone") if isinstance(entry, dict) else None) or time_zone
        try:
            _zone(zone)
        except AnsibleFilterError:
            problems.append(f"Schedule {entry.get('name') if isinstance(entry, dict) else ''!r} has time zone "
                            f"{zone!r}, which is not known here: use an IANA name such as Asia/Tokyo or UTC.")
    return problems


def schedule_plans(entries, time_zone="Asia/Tokyo"):
    """Each entry checked and given in every scheduler's form; a bad definition fails with every problem named."""
    problems = schedule_problems(entries, time_zone)
    if problems:
        raise AnsibleFilterError(" ".join(problems))

    plans = []
    for entry in entries:
        zone = str(entry.get("time_zone") or time_zone)
        at = AT.match(entry["at"])
        rule = {
            "time_zone": zone,
            "hour": None if at["hour"] == "*" else int(at["hour"]),
            "minute": int(at["minute"]),
            "weekday": str(entry["weekday"]).lower() if entry.get("weekday") else None,
            "week": entry.get("week"),
            "months": sorted(set(entry.get("months") or [])),
        }
        plans.append({
            "name": entry["name"],
            "playbook": entry["playbook"],
            "description": entry.get("description") or _summary(rule),
            "enabled": entry.get("enabled", True),
            "vars": entry.get("vars", {}),
            "timeout_minutes": entry.get("timeout_minutes", 240),
            "rule": rule,
            "rrule": _rrule(rule),
            "on_calendar": _on_calendar(rule),
            "cron": _cron(rule),
            # What cron leaves to the run: the week of the month, checked by the play's own day check.
            "cron_day_check": {"weekday": rule["weekday"], "week": rule["week"]} if rule["week"] else {},
        })
    return plans


def schedule_day_matches(day, check):
    """Whether the day (YYYY-MM-DD) is the weekday, and the first or last one of its month, that ``check`` names.

    An empty check matches every day.
    """
    if not check:
        return True
    try:
        date = datetime.date.fromisoformat(str(day))
    except ValueError as exc:
        raise AnsibleFilterError(f"{day!r} is not a day of the form YYYY-MM-DD.") from exc
    weekday = str(check.get("weekday") or "").lower()
    if weekday and weekday not in WEEKDAYS:
        raise AnsibleFilterError(f"The day check names weekday {weekday!r}; use one of {', '.join(WEEKDAYS)}.")
    if check.get("week") not in (None, *WEEKS):
        raise AnsibleFilterError(f"The day check names week {check.get('week')!r}; use first or last.")
    return _on_day(date, weekday or None, check.get("week"))


def _on_day(date, weekday, week):
    if weekday and WEEKDAYS[date.weekday()] != weekday:
        return False
    if week == "first":
        return date.day <= 7
    if week == "last":
        return date.day > calendar.monthrange(date.year, date.month)[1] - 7
    return True


def schedule_next_runs(plan, count=5, after=None):
    """The next ``count`` run times of a plan after ``after`` (ISO 8601; default now), ISO 8601 in its time zone.

    Computed from the rule itself, day by day, so it is a check on the three schedulers' forms, not a copy of one.
    """
    rule = plan["rule"]
    zone = _zone(rule["time_zone"])
    start = datetime.datetime.fromisoformat(after.replace("Z", "+00:00")) if after \
        else datetime.datetime.now(datetime.timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.timezone.utc)
    hours = range(24) if rule["hour"] is None else [rule["hour"]]

    runs = []
    day = start.astimezone(zone).date()
    # Ten years of days is more than any rule here needs to find its runs.
    last_day = day + datetime.timedelta(days=3660)
    while day < last_day:
        if (not rule["months"] or day.month in rule["months"]) and _on_day(day, rule["weekday"], rule["week"]):
            for hour in hours:
                moment = datetime.datetime.combine(day, datetime.time(hour, rule["minute"]), zone)
                if moment > start and len(runs) < count:
                    runs.append(moment.isoformat(timespec="minutes"))
        if len(runs) >= count:
            break
        day += datetime.timedelta(days=1)
    return runs


class FilterModule:
    def filters(self):
        return {
            "schedule_problems": schedule_problems,
            "schedule_plans": schedule_plans,
            "schedule_day_matches": schedule_day_matches,
            "schedule_next_runs": schedule_next_runs,
        }
