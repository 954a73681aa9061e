#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pagerduty_incident_info
short_description: List the PagerDuty incidents created in a time window, and count them
description:
  - Reads the incidents created from O(since) until O(until) from PagerDuty's REST API v2, oldest first, each
    summarised in a few fields, and counts them by status, urgency and priority.
  - Made for the operations checks, for example the incidents since the previous evening, or the incidents of
    the day.
  - A window PagerDuty would refuse (an unreadable time, O(until) not after O(since), more than 6 months) fails
    before anything is sent.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.transport
attributes:
  check_mode:
    support: full
    details: Read-only; it runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  since:
    description:
      - The start of the window, ISO 8601 with a UTC offset, for example V(2026-05-01T18:00:00+09:00) or
        V(2026-05-01T09:00:00Z). A time without an offset is refused, since the window would depend on the zone
        the controller runs in.
      - Incidents created at this moment or later are listed.
    type: str
    required: true
  until:
    description:
      - The end of the window, ISO 8601 with a UTC offset; incidents created before this moment are listed.
      - Defaults to now. It must be later than O(since), by at most 6 months (PagerDuty's limit; the exact
        latest O(until) is named when it is passed).
    type: str
  statuses:
    description: Only incidents in these states. Every state when not given.
    type: list
    elements: str
    choices: [triggered, acknowledged, resolved]
  urgencies:
    description: Only incidents of these urgencies. Both when not given.
    type: list
    elements: str
    choices: [high, low]
  service_ids:
    description: Only incidents of these services, by PagerDuty service id (for example V(PSBX001)).
    type: list
    elements: str
  api_token:
    description:
      - A PagerDuty REST API key (account or user key; read-only is enough).
      - Read from E(PAGERDUTY_API_TOKEN) when not given; one of the two is required. It is never logged or
        returned.
    type: str
  api_url:
    description:
      - Base URL of PagerDuty's REST API, for proxies, EU accounts and tests.
      - Read from E(PAGERDUTY_API_URL) when not given; an empty value means the default.
    type: str
    default: https://api.pagerduty.com
  deadline:
    description:
      - Seconds within which all attempts of one request must finish.
      - Rate limits (429) are retried with backoff inside this deadline, honouring C(Retry-After) and
        C(ratelimit-reset); so are gateway errors (502, 503, 504) and broken connections, since reading twice
        does no harm. Other errors fail at once.
    type: float
    default: 60
notes:
  - The window selects incidents by the time they were created. An incident opened before O(since) and still
    open is not listed; to see what is open now, list V(triggered) and V(acknowledged) over a longer window.
  - Reads C(GET /incidents), 100 incidents a request. PagerDuty serves at most 10000 incidents for one query;
    past that the listing stops, RV(truncated) is true and the task warns. Narrow the window or filter to see
    the rest.
  - Times are asked for and returned in UTC.
seealso:
  - module: runbook.ops.pagerduty_event
  - name: PagerDuty REST API, list incidents
    description: The listing this module reads, with its filters.
    link: https://developer.pagerduty.com/api-reference/9d0b4b12e36f9-list-incidents
"""

EXAMPLES = r"""
- name: Read the incidents of the last 24 hours for the morning check; PAGERDUTY_API_TOKEN comes from the environment
  runbook.ops.pagerduty_incident_info:
    since: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() - 86400, utc=true) }}"
  register: overnight

- name: Say what happened overnight
  ansible.builtin.debug:
    msg: >-
      {{ overnight.counts.total }} incidents since {{ overnight.since }}:
      {{ overnight.counts.by_status.resolved }} resolved, {{ overnight.counts.by_urgency.high }} of high urgency.

- name: Read the incidents of the day, in the operators' zone
  runbook.ops.pagerduty_incident_info:
    since: "{{ now(utc=true) | runbook.ops.in_time_zone('Asia/Tokyo', '%Y-%m-%dT00:00:00+09:00') }}"
  register: today

- name: Read the high-urgency incidents of the webapp service opened in the past week and still open
  runbook.ops.pagerduty_incident_info:
    since: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() - 7 * 86400, utc=true) }}"
    statuses: [triggered, acknowledged]
    urgencies: [high]
    service_ids: [PSBX001]
  register: open_incidents

- name: List them
  ansible.builtin.debug:
    msg: >-
      #{{ item.incident_number }} {{ item.title }} ({{ item.status }}, opened {{ item.created_at }}):
      {{ item.html_url }}
  loop: "{{ open_incidents.incidents }}"
  loop_control:
    label: "{{ item.id }}"
"""

RETURN = r"""
incidents:
  description: The incidents created in the window that match the filters, oldest first; empty when none.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Incident id.
      type: str
      sample: Q1ABCDEFGHIJKL
    incident_number:
      description: Incident number shown in PagerDuty.
      type: int
      sample: 42
    title:
      description: The incident's title.
      type: str
      sample: webapp health check failed
    status:
      description: V(triggered), V(acknowledged) or V(resolved).
      type: str
      sample: resolved
    urgency:
      description: V(high) or V(low).
      type: str
      sample: high
    priority:
      description: The name of the incident's priority, for example V(P1), or null when it has none.
      type: str
      sample: P1
    service:
      description: The name of the service the incident belongs to.
      type: str
      sample: webapp
    service_id:
      description: The id of that service.
      type: str
      sample: PSBX001
    created_at:
      description: When the incident was opened, ISO 8601 in UTC.
      type: str
      sample: "2026-05-01T21:14:03Z"
    resolved_at:
      description: When it was resolved, ISO 8601 in UTC, or null while it is open.
      type: str
      sample: "2026-05-01T21:52:40Z"
    html_url:
      description: Link to the incident in PagerDuty.
      type: str
      sample: https://acme.pagerduty.com/incidents/Q1ABCDEFGHIJKL
    incident_key:
      description: The incident's key, the O(runbook.ops.pagerduty_event#module:dedup_key) of the alert that opened it.
      type: str
      sample: webapp/production/health
    minutes_to_resolve:
      description: Minutes from creation to resolution, to one decimal, or null while the incident is open.
      type: float
      sample: 38.6
counts:
  description: The incidents of RV(incidents) counted.
  returned: success
  type: dict
  contains:
    total:
      description: How many incidents there are.
      type: int
      sample: 3
    by_status:
      description: How many are in each state; every state is named, with 0 when none is in it.
      type: dict
      sample: {"triggered": 1, "acknowledged": 0, "resolved": 2}
    by_urgency:
      description: How many are of each urgency; both are named, with 0 when none is of it.
      type: dict
      sample: {"high": 2, "low": 1}
    by_priority:
      description: How many have each priority, by its name; V(none) counts those without one.
      type: dict
      sample: {"P1": 1, "none": 2}
truncated:
  description:
    - Whether PagerDuty had more incidents than it serves for one query (10000), so that the list and the counts
      miss the newest ones.
  returned: success
  type: bool
  sample: false
since:
  description: The start of the window as it was asked for, ISO 8601 in UTC.
  returned: success
  type: str
  sample: "2026-05-01T09:00:00Z"
until:
  description: The end of the window as it was asked for, ISO 8601 in UTC (now, when O(until) was not given).
  returned: success
  type: str
  sample: "2026-05-02T00:00:00Z"
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._pagerduty import (
    INCIDENT_STATUSES,
    PAGING_END,
    URGENCIES,
    iso_utc,
    read_window,
)
from ansible_collections.runbook.ops.plugins.module_utils._pagerduty_options import (
    pagerduty_argument_spec,
    rest_client,
)


def _moment(text):
    try:
        return datetime.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None


def minutes_to_resolve(incident):
    """Minutes from creation to resolution, or None while open or when a time cannot be read."""
    created, resolved = _moment(incident.get("created_at")), _moment(incident.get("resolved_at"))
    if incident.get("status") != "resolved" or created is None or resolved is None:
        return None
    if (created.tzinfo is None) != (resolved.tzinfo is None):
        return None
    return round((resolved - created).total_seconds() / 60, 1)


def summarize(incident):
    """The fields of an incident a report needs; a priority or service reference becomes its name."""
    priority = incident.get("priority") or {}
    service = incident.get("service") or {}
    return {
        "id": incident.get("id"),
        "incident_number": incident.get("incident_number"),
        "title": incident.get("title"),
        "status": incident.get("status"),
        "urgency": incident.get("urgency"),
        # A full priority object has a name; a bare reference only a summary.
        "priority": priority.get("name") or priority.get("summary") or None,
        "service": service.get("summary") or service.get("name"),
        "service_id": service.get("id"),
        "created_at": incident.get("created_at"),
        "resolved_at": incident.get("resolved_at"),
        "html_url": incident.get("html_url"),
        "incident_key": incident.get("incident_key"),
        "minutes_to_resolve": minutes_to_resolve(incident),
    }


def count(incidents):
    """Counts by status, urgency and priority name; every status and urgency is named, even at 0."""
    by_status = dict.fromkeys(INCIDENT_STATUSES, 0)
    by_urgency = dict.fromkeys(URGENCIES, 0)
    by_priority = {}
    for incident in incidents:
        by_status[incident["status"]] = by_status.get(incident["status"], 0) + 1
        by_urgency[incident["urgency"]] = by_urgency.get(incident["urgency"], 0) + 1
        priority = incident["priority"] or "none"
        by_priority[priority] = by_priority.get(priority, 0) + 1
    return {"total": len(incidents), "by_status": by_status, "by_urgency": by_urgency, "by_priority": by_priority}


def main():
    spec = pagerduty_argument_spec(
        since={"type": "str", "required": True},
        until={"type": "str"},
        statuses={"type": "list", "elements": "str", "choices": list(INCIDENT_STATUSES)},
        urgencies={"type": "list", "elements": "str", "choices": list(URGENCIES)},
        service_ids={"type": "list", "elements": "str"},
    )
    # Listing incidents takes only the REST API's options.
    for events_option in ("routing_key", "events_url"):
        del spec[events_option]
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params

    # A bad window fails here, before the token is even looked at.
    try:
        since, until = read_window(params["since"], params["until"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    window = {"since": iso_utc(since), "until": iso_utc(until)}

    client = rest_client(module)
    if client is None:
        module.fail_json(msg="No PagerDuty API token: set the environment variable PAGERDUTY_API_TOKEN (or the "
                             "api_token option) to a REST API key; a read-only key is enough.", **window)
    try:
        listing = client.incidents_between(since, until, statuses=params["statuses"], urgencies=params["urgencies"],
                                           service_ids=params["service_ids"])
    except APIError as exc:
        module.fail_json(msg=str(exc), **window, **exc.to_result())

    if listing["truncated"]:
        module.warn(f"PagerDuty serves at most {PAGING_END} incidents for one query and had more from "
                    f"{window['since']} to {window['until']}; the list and the counts miss the newest. "
                    "Narrow the window or filter by status, urgency or service.")
    incidents = [summarize(incident) for incident in listing["incidents"]]
    module.exit_json(changed=False, incidents=incidents, counts=count(incidents), truncated=listing["truncated"],
                     **window)


if __name__ == "__main__":
    main()
