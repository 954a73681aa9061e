#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: statuspage_incident_info
short_description: List what is open on a Statuspage page and say whether a deploy should wait
description:
  - Lists the unresolved incidents and the open scheduled maintenances of an Atlassian Statuspage page,
    each in the shape M(runbook.ops.statuspage_incident) returns.
  - Says in RV(freeze) whether a change should wait, because an incident is unresolved or a maintenance
    is active, and in RV(freeze_reasons) why, one sentence for each.
  - A maintenance is active when it is V(in_progress) or V(verifying), or when it is still V(scheduled) and the
    current time lies inside its window (Statuspage moves it on only if told to, so the window counts too).
  - A scheduled maintenance whose window cannot be read is counted as active, and its reason says so, since a
    freeze gate that cannot tell must not let a change through.
  - With O(since), also lists in RV(recent) the incidents created, updated or resolved since then, for the
    daily checks.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
options:
  since:
    description:
      - An ISO 8601 time with an offset (or Z). When given, RV(recent) lists the incidents (not maintenances)
        created, updated or resolved at or after it.
      - The listing is read newest first and stops a week before O(since); an incident opened earlier than that
        and still unresolved is in RV(unresolved) all the same.
    type: str
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.statuspage
  - runbook.ops.transport
attributes:
  check_mode:
    support: full
    details: Read-only; it runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - Reads three listings (unresolved incidents, scheduled maintenances, active maintenances), at least one
    request each, 100 items a page. Statuspage allows about one request a second per API key.
  - An incident counts as unresolved unless its status is V(resolved) or V(postmortem); maintenances are never
    counted among the incidents, whichever listing they come from.
seealso:
  - module: runbook.ops.statuspage_incident
  - name: Statuspage API, incidents
    description: The listings this module reads.
    link: https://developer.statuspage.io/#tag/incidents
"""

EXAMPLES = r"""
- name: Read what is open on the status page
  runbook.ops.statuspage_incident_info:
  register: statuspage

- name: Read what happened on the status page since last evening as well
  runbook.ops.statuspage_incident_info:
    since: "2026-12-04T09:00:00Z"
  register: statuspage_day

- name: Hold the deploy while an incident is open or a maintenance runs
  ansible.builtin.assert:
    that: not statuspage.freeze
    fail_msg: "Deploy frozen: {{ statuspage.freeze_reasons | join(' ') }}"
    success_msg: Nothing open on the status page.

- name: Name the maintenances still to come
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.scheduled_for }} until {{ item.scheduled_until }}"
  loop: "{{ statuspage.maintenances | rejectattr('id', 'in', statuspage.active_maintenances | map(attribute='id')) }}"
  loop_control:
    label: "{{ item.id }}"
"""

RETURN = r"""
unresolved:
  description:
    - The incidents that are not resolved, newest first, in the shape of RV(runbook.ops.statuspage_incident#module:incident).
    - Their C(key) is the key in square brackets at the start of the name, as M(runbook.ops.statuspage_incident)
      names incidents, or null when the name starts with none.
    - Scheduled maintenances are never among them.
  returned: success
  type: list
  elements: dict
  sample:
    - {"id": "p31zjtct2jer", "name": "[INC-20261204-120000] Checkout errors", "key": "INC-20261204-120000",
       "kind": "incident", "status": "investigating", "impact": "major"}
maintenances:
  description:
    - The scheduled maintenances not completed, the earliest window first, in the shape of RV(unresolved).
    - Those V(scheduled) (still to come, or past their window but never completed) and those V(in_progress)
      or V(verifying).
  returned: success
  type: list
  elements: dict
recent:
  description:
    - The incidents (not maintenances) created, updated or resolved at or after O(since), newest first, in the
      shape of RV(unresolved).
  returned: when O(since) is given
  type: list
  elements: dict
active_maintenances:
  description: Those of RV(maintenances) that are active now (see the description), in the same shape.
  returned: success
  type: list
  elements: dict
freeze:
  description: Whether any incident is unresolved or any maintenance is active.
  returned: success
  type: bool
  sample: true
freeze_reasons:
  description: One sentence for each unresolved incident and each active maintenance; empty when RV(freeze) is false.
  returned: success
  type: list
  elements: str
  sample:
    - Incident "[INC-20261204-120000] Checkout errors" is investigating, impact major.
    - Maintenance "Database upgrade" is in progress, scheduled from 2026-12-10T22:00:00.000+09:00 until 2026-12-10T23:00:00.000+09:00.
checked_at:
  description: The time the maintenance windows were compared with, ISO 8601 in UTC.
  returned: success
  type: str
  sample: "2026-12-10T13:05:00Z"
"""

import datetime
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._statuspage import incident_kind, newest_first, summarize
from ansible_collections.runbook.ops.plugins.module_utils._statuspage_options import (
    statuspage_argument_spec,
    statuspage_client,
)

CLOSED_STATUSES = ("resolved", "postmortem", "completed")
OPEN_MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying")
RUNNING_MAINTENANCE_STATUSES = ("in_progress", "verifying")
LEADING_KEY = re.compile(r"^\[([^\[\]\r\n]+)\]")


def key_of(incident):
    """The key statuspage_incident puts in square brackets at the start of a name, or None."""
    found = LEADING_KEY.match(incident.get("name") or "")
    return found.group(1) if found else None


def moment(text):
    """An aware datetime from Statuspage's ISO 8601 text (UTC when it names no zone), or None."""
    try:
        value = datetime.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def window_state(maintenance, now):
    """``running``, ``due`` (scheduled, its window now), ``unreadable`` (scheduled, window unknown) or ``outside``
    (scheduled, its window to come or already past)."""
    if maintenance.get("status") in RUNNING_MAINTENANCE_STATUSES:
        return "running"
    starts, ends = moment(maintenance.get("scheduled_for")), moment(maintenance.get("scheduled_until"))
    if starts is None or (maintenance.get("scheduled_until") and ends is None):
        return "unreadable"
    # A maintenance without an end lasts until someone completes it.
    if starts <= now and (ends is None or now < ends):
        return "due"
    return "outside"


def window_order(maintenance):
    """Earliest window first; one whose start cannot be read goes last."""
    starts = moment(maintenance.get("scheduled_for"))
    return (starts is None, starts or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc))


def incident_reason(incident):
    return f'Incident "{incident.get("name")}" is {incident.get("status")}, impact {incident.get("impact") or "unknown"}.'


def maintenance_reason(maintenance, state):
    name, status = maintenance.get("name"), (maintenance.get("status") or "").replace("_", " ")
    window = f'from {maintenance.get("scheduled_for")} until {maintenance.get("scheduled_until") or "it is completed"}'
    if state == "running":
        return f'Maintenance "{name}" is {status}, scheduled {window}.'
    if state == "due":
        return f'Maintenance "{name}" is scheduled {window}, which is now.'
    return f'Maintenance "{name}" is scheduled, but its window ({window}) cannot be read; counted as active.'


def main():
    module = AnsibleModule(argument_spec=statuspage_argument_spec(since={"type": "str"}),
                           supports_check_mode=True)

    since = None
    if module.params["since"] is not None:
        since = moment(module.params["since"])
        if since is None or "T" not in module.params["since"]:
            module.fail_json(msg=f"since must be an ISO 8601 time such as 2026-12-04T18:00:00+09:00, not "
                                 f"{module.params['since']!r}.")

    client = statuspage_client(module)
    try:
        listed_incidents = client.unresolved_incidents()
        listed_maintenances = client.open_maintenances()
        listed_recent = client.incidents_since(since) if since else None
    except APIError as exc:
        module.fail_json(msg=str(exc), **exc.to_result())

    # Statuspage does not say whether its unresolved listing holds maintenances in progress, or whether the
    # scheduled one holds completed ones: each item is judged by its own kind and status.
    incidents = newest_first([incident for incident in listed_incidents
                              if incident_kind(incident) == "incident"
                              and incident.get("status") not in CLOSED_STATUSES])
    maintenances = sorted((maintenance for maintenance in listed_maintenances
                           if incident_kind(maintenance) == "maintenance"
                           and maintenance.get("status") in OPEN_MAINTENANCE_STATUSES), key=window_order)

    now = datetime.datetime.now(datetime.timezone.utc)
    reasons = [incident_reason(incident) for incident in incidents]
    active = []
    for maintenance in maintenances:
        state = window_state(maintenance, now)
        if state != "outside":
            active.append(maintenance)
            reasons.append(maintenance_reason(maintenance, state))

    recent = {}
    if listed_recent is not None:
        recent["recent"] = [summarize(incident, key_of(incident))
                            for incident in newest_first(listed_recent) if incident_kind(incident) == "incident"]
    module.exit_json(
        changed=False,
        **recent,
        unresolved=[summarize(incident, key_of(incident)) for incident in incidents],
        maintenances=[summarize(maintenance, key_of(maintenance)) for maintenance in maintenances],
        active_maintenances=[summarize(maintenance, key_of(maintenance)) for maintenance in active],
        freeze=bool(reasons),
        freeze_reasons=reasons,
        checked_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


if __name__ == "__main__":
    main()
