# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Times as people on the team read them: in their time zone, and inside incident IDs.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

from ansible.errors import AnsibleFilterError

INCIDENT_ID = re.compile(r"^INC-(\d{8}-\d{6})$")


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise AnsibleFilterError(f"Unknown time zone {name!r}: use an IANA name such as Asia/Tokyo or UTC.") from exc


def _moment(value):
    """An aware datetime from a datetime (naive means UTC), epoch seconds, or ISO 8601 text."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise AnsibleFilterError(f"{value!r} is not an ISO 8601 time.") from exc
    else:
        raise AnsibleFilterError(f"Cannot read a time from {type(value).__name__} {value!r}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def in_time_zone(value, zone="Asia/Tokyo", format=None):
    """The moment in ``zone``: ISO 8601 with its offset, or formatted with strftime's ``format``."""
    local = _moment(value).astimezone(_zone(zone))
    return local.strftime(format) if format else local.isoformat(timespec="seconds")


def incident_time(incident_id, zone="Asia/Tokyo"):
    """When an incident was declared, ISO 8601 with offset, read from its ID ``INC-YYYYmmdd-HHMMSS``.

    The ID carries the wall-clock time of the zone it was made in; the same zone must be given here.
    """
    match = INCIDENT_ID.match(str(incident_id).strip())
    if not match:
        raise AnsibleFilterError(f"{incident_id!r} is not an incident ID of the form INC-YYYYmmdd-HHMMSS.")
    try:
        wall = datetime.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S")
    except ValueError as exc:
        raise AnsibleFilterError(f"{incident_id!r} does not carry a real date and time.") from exc
    return wall.replace(tzinfo=_zone(zone)).isoformat(timespec="seconds")


class FilterModule:
    def filters(self):
        return {"in_time_zone": in_time_zone, "incident_time": incident_time}
