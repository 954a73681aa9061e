#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pagerduty_event
short_description: Trigger, acknowledge or resolve a PagerDuty alert, or send a change event
description:
  - Sends one event to a PagerDuty service through the Events API v2.
  - V(trigger), V(acknowledge) and V(resolve) act on the alert named by O(dedup_key). V(change) records a change
    (a deploy, a rollback) beside the service's incidents; it pages nobody.
  - Everything PagerDuty would refuse is checked first (key length, required fields, sizes), so a bad task sends
    nothing.
  - With O(api_token), the alert is looked up first and an event that would change nothing is not sent. See
    O(api_token) and the notes.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.pagerduty
  - runbook.ops.transport
attributes:
  check_mode:
    support: full
    details:
      - Builds the event and returns it as RV(request), with the routing key masked; sends no event.
      - With O(api_token) it still looks the alert up, so the task reports a change only when the event would be sent.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - With O(api_token), V(trigger), V(acknowledge) and V(resolve) send nothing when the alert is already in
        that state, and report no change.
      - Without it, every run sends its event and reports a change; PagerDuty folds a repeated trigger with the
        same O(dedup_key) into the alert that is open, so no second alert is opened.
      - A V(change) event is sent on every run; PagerDuty never deduplicates change events.
options:
  event_action:
    description:
      - V(trigger) opens an alert, or updates the open alert with the same O(dedup_key).
      - V(acknowledge) and V(resolve) act on the open alert with O(dedup_key).
      - V(change) sends a change event to the service (the routing key must be a service's integration key,
        not an event ruleset's).
    type: str
    required: true
    choices: [trigger, acknowledge, resolve, change]
  dedup_key:
    description:
      - Names the alert, at most 255 characters. Required to V(acknowledge) and V(resolve).
      - Optional for V(trigger) but recommended. Without it PagerDuty opens a new alert on every run and makes up
        a key (returned as RV(dedup_key)), which a later task then needs to resolve the alert; and a trigger
        without a key is never repeated after a network failure, since a repeat could page twice.
      - Use a key that is stable across runs and unique to what it describes, for example
        V(webapp/production/health); a key shared by two problems makes one's resolve close the other's alert.
      - Ignored for V(change).
    type: str
  summary:
    description:
      - What happened, as the alert's or the change's title. Required for V(trigger) and V(change).
      - Cut to 1024 characters, with a warning.
    type: str
  source:
    description:
      - Where it happened, preferably a hostname or a URL.
      - Defaults to the host name of the host the module runs on (the controller, where API calls are made).
    type: str
  severity:
    description: How bad the problem is, for V(trigger).
    type: str
    choices: [critical, error, warning, info]
    default: error
  component:
    description: The part of the source that is affected, for example V(database), for V(trigger).
    type: str
  group:
    description: A logical group of components, for example V(production), for V(trigger).
    type: str
  event_class:
    description: The kind of event, for example V(deploy) or V(http_probe), for V(trigger); PagerDuty's C(class).
    type: str
  custom_details:
    description: Free-form details shown with the alert or change, for V(trigger) and V(change).
    type: dict
  links:
    description: Links shown with the alert or change, for V(trigger) and V(change).
    type: list
    elements: dict
    suboptions:
      href:
        description: The link's URL.
        type: str
        required: true
      text:
        description: The text shown for it.
        type: str
  client:
    description: The name of the tool that sends the event, for V(trigger).
    type: str
  client_url:
    description: A URL of the tool that sends the event, for example the job's page in AWX, for V(trigger).
    type: str
  timestamp:
    description:
      - When it happened, ISO 8601 with a UTC offset (V(2026-05-01T09:30:00+09:00), or V(Z) for UTC); a time
        without an offset is refused, since PagerDuty would have to guess its zone.
      - Defaults to now, in UTC. Used for V(trigger) and V(change).
    type: str
notes:
  - The lookup with O(api_token) reads C(GET /incidents) for open incidents (triggered or acknowledged) whose
    incident key is O(dedup_key). V(trigger) is not sent when one is open; V(acknowledge) is not sent when it is
    already acknowledged or none is open; V(resolve) is not sent when none is open.
  - The lookup searches every service the token can see, so an incident of another service with the same key
    counts; keep keys unique to the service, for example by starting them with the service's name.
  - When the lookup fails, the task warns and sends the event anyway; the page matters more than the bookkeeping.
  - Without O(api_token), V(acknowledge) and V(resolve) of an alert that is not open are still sent and reported
    as changed; PagerDuty accepts and then drops them.
  - Only a trigger, acknowledge or resolve with a O(dedup_key) is retried after a gateway error or a broken
    connection. Any event is retried after a rate limit (429), which PagerDuty answers before doing anything.
seealso:
  - name: PagerDuty Events API v2
    description: What each field of an event means.
    link: https://developer.pagerduty.com/docs/events-api-v2-overview
  - name: PagerDuty change events
    description: What a change event is and where it is shown.
    link: https://developer.pagerduty.com/docs/send-change-event
"""

EXAMPLES = r"""
- name: Page the on-call engineer; PAGERDUTY_ROUTING_KEY and PAGERDUTY_API_TOKEN come from the environment
  runbook.ops.pagerduty_event:
    event_action: trigger
    dedup_key: webapp/production/health
    summary: "webapp production health check failed: 503 on https://shop.example.com/api/health"
    severity: critical
    component: webapp
    group: production
    event_class: http_probe
    custom_details:
      status: 503
      checked_from: "{{ inventory_hostname }}"
    links:
      - href: https://shop.example.com/api/health
        text: Health endpoint

- name: Tell PagerDuty someone is on it
  runbook.ops.pagerduty_event:
    event_action: acknowledge
    dedup_key: webapp/production/health

- name: Resolve it once the rollback is verified
  runbook.ops.pagerduty_event:
    event_action: resolve
    dedup_key: webapp/production/health

- name: Record the rollback next to the service's incidents
  runbook.ops.pagerduty_event:
    event_action: change
    summary: "Rolled back webapp production to {{ previous_deployment }}"
    custom_details:
      operator: "{{ operator }}"
      from: "{{ current_deployment }}"
      to: "{{ previous_deployment }}"
"""

RETURN = r"""
sent:
  description: Whether the event was sent and PagerDuty accepted it. False in check mode and when the lookup showed
    there was nothing to do.
  returned: always
  type: bool
dedup_key:
  description:
    - The alert's dedup key, as given, or as PagerDuty made it up for a V(trigger) without one.
    - Null for a change event, and for a trigger without a key in check mode.
  returned: always
  type: str
  sample: webapp/production/health
request:
  description: The JSON body that was (or would be) sent, with the routing key masked.
  returned: always
  type: dict
  sample:
    routing_key: "********"
    event_action: resolve
    dedup_key: webapp/production/health
response:
  description: PagerDuty's answer, or null when nothing was sent.
  returned: always
  type: dict
  contains:
    status:
      description: PagerDuty's word for the outcome.
      type: str
      sample: success
    message:
      description: PagerDuty's message.
      type: str
      sample: Event processed
incident:
  description: The open incident the lookup found, or null when there was no lookup or no open incident.
  returned: always
  type: dict
  contains:
    id:
      description: Incident id.
      type: str
      sample: Q1ABCDEFGHIJKL
    incident_number:
      description: Incident number shown in PagerDuty.
      type: int
      sample: 42
    status:
      description: V(triggered) or V(acknowledged).
      type: str
      sample: triggered
    html_url:
      description: Link to the incident in PagerDuty.
      type: str
    title:
      description: The incident's title.
      type: str
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._pagerduty import (
    ALERT_ACTIONS,
    OPEN_STATUSES,
    SEVERITIES,
    SUMMARY_MAX,
    build_event,
    now_iso,
    summarize_incident,
)
from ansible_collections.runbook.ops.plugins.module_utils._pagerduty_options import (
    events_client,
    pagerduty_argument_spec,
    rest_client,
)

# The options each kind of event carries; the others are ignored, with a warning.
CARRIED = {
    "trigger": ("dedup_key", "summary", "source", "component", "group", "event_class", "custom_details", "links",
                "client", "client_url", "timestamp"),
    "acknowledge": ("dedup_key",),
    "resolve": ("dedup_key",),
    "change": ("summary", "source", "custom_details", "links", "timestamp"),
}
OPTIONAL_FIELDS = ("dedup_key", "summary", "source", "component", "group", "event_class", "custom_details", "links",
                   "client", "client_url", "timestamp")


def decide(action, incidents):
    """``(send, incident)``: whether the event would change the open alert, and the incident it concerns."""
    open_incidents = [incident for incident in incidents if incident["status"] in OPEN_STATUSES]
    triggered = [incident for incident in open_incidents if incident["status"] == "triggered"]
    incident = (triggered or open_incidents or [None])[0]
    if action == "trigger":
        return not open_incidents, incident
    if action == "acknowledge":
        return bool(triggered), incident
    return bool(open_incidents), incident


def event_from(module):
    """The event the options describe, warning about what it cannot carry."""
    params = module.params
    action = params["event_action"]
    ignored = [name for name in OPTIONAL_FIELDS if params[name] not in (None, "", [], {})
               and name not in CARRIED[action]]
    if ignored:
        module.warn(f"{action.capitalize()} events do not carry {', '.join(ignored)}; ignored.")

    summary = params["summary"]
    if action in ("trigger", "change") and summary and len(summary) > SUMMARY_MAX:
        module.warn(f"summary has {len(summary)} characters; PagerDuty keeps {SUMMARY_MAX}, so it was cut.")
        summary = summary[:SUMMARY_MAX]
    return build_event(
        action,
        dedup_key=params["dedup_key"],
        summary=summary,
        source=params["source"] or socket.gethostname(),
        severity=params["severity"],
        timestamp=(params["timestamp"] or "").strip() or now_iso(),
        component=params["component"],
        group=params["group"],
        event_class=params["event_class"],
        custom_details=params["custom_details"],
        links=params["links"],
        client=params["client"],
        client_url=params["client_url"],
    )


def look_up(module, action, dedup_key):
    """``(send, incident)`` from the REST API; without a token, or when the lookup fails, send."""
    rest = rest_client(module) if action in ALERT_ACTIONS and dedup_key else None
    if rest is None:
        return True, None
    try:
        found = rest.incidents(incident_key=dedup_key, statuses=OPEN_STATUSES)
    except APIError as exc:
        module.warn(f"Could not look up the alert, so the event is sent anyway: {exc}")
        return True, None
    return decide(action, [summarize_incident(incident) for incident in found])


def main():
    module = AnsibleModule(
        argument_spec=pagerduty_argument_spec(
            event_action={"type": "str", "required": True, "choices": ["trigger", "acknowledge", "resolve", "change"]},
            dedup_key={"type": "str", "no_log": False},
            summary={"type": "str"},
            source={"type": "str"},
            severity={"type": "str", "choices": list(SEVERITIES), "default": "error"},
            component={"type": "str"},
            group={"type": "str"},
            event_class={"type": "str"},
            custom_details={"type": "dict"},
            links={"type": "list", "elements": "dict",
                   "options": {"href": {"type": "str", "required": True}, "text": {"type": "str"}}},
            client={"type": "str"},
            client_url={"type": "str"},
            timestamp={"type": "str"},
        ),
        required_if=[
            ("event_action", "acknowledge", ["dedup_key"]),
            ("event_action", "resolve", ["dedup_key"]),
            ("event_action", "trigger", ["summary"]),
            ("event_action", "change", ["summary"]),
        ],
        supports_check_mode=True,
    )
    action = module.params["event_action"]
    events = events_client(module)
    event = event_from(module)
    request = events.shown(event)
    dedup_key = event.get("dedup_key")
    result = {"changed": False, "sent": False, "dedup_key": dedup_key, "request": request, "response": None,
              "incident": None}

    problems = events.problems(event)
    if problems:
        module.fail_json(msg=" ".join(problems), **result)

    send, result["incident"] = look_up(module, action, dedup_key)
    result["changed"] = send
    if not send or module.check_mode:
        module.exit_json(**result)

    try:
        answer = events.send(event)
    except APIError as exc:
        module.fail_json(msg=str(exc), **{**result, "changed": False, **exc.to_result()})
    result.update(sent=True, dedup_key=answer["dedup_key"] if action != "change" else None,
                  response={"status": answer["status"], "message": answer["message"]})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
