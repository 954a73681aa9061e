#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: statuspage_incident
short_description: Create, update and resolve Statuspage incidents and scheduled maintenance, found by a key
description:
  - Keeps one incident (or scheduled maintenance) of an Atlassian Statuspage page in the state asked for.
    The incident is named V([<key>] <name>); the key in brackets is how a later task finds it again.
  - Finds the incident by searching for O(key) and keeping only incidents whose name starts with
    V([<key>]), so a title that mentions another incident's key in brackets is never taken for it.
    When the search finds none, the unresolved incidents (for O(kind=maintenance), the scheduled
    and the active maintenances) are also looked through before anything is created, because Statuspage
    does not document how fresh its search index is or how it splits a key like V(INC-20261204-120000).
  - When several incidents carry the key, the newest is used and a warning names the others.
  - Creates the incident when none carries the key (unless O(create=false)), otherwise changes only what
    differs. An incident update (the message subscribers see) is posted only when O(status) or O(body)
    differs from the incident's status or the text of its newest update, so a re-run posts nothing.
  - A resolved incident (a completed maintenance) keeps its status unless O(status) is given, and is reopened
    by a status only with O(reopen=true); an update step that runs late must not bring it back for customers.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.statuspage
  - runbook.ops.transport
attributes:
  check_mode:
    support: full
    details: Reads the incident and the components, and returns in RV(request) the body it would send; sends nothing.
  diff_mode:
    support: full
    details: Shows the name, status, impact, component statuses and metadata before and after.
  idempotent:
    support: full
    details:
      - A second run with the same arguments finds the incident by its key and sends nothing.
      - Statuspage has no idempotency key, so the module searches by key before creating. Two runs racing
        with the same key can still create two incidents; the next run then works on the newest and warns.
options:
  key:
    description:
      - The key carried in the incident's name, for example V(INC-20261204-120000).
      - It may not contain square brackets or line breaks.
    type: str
    required: true
  name:
    description:
      - The title. The incident is named V([<key>] <name>), cut to Statuspage's 255 characters (the key is never cut).
      - Required when the incident must be created. When given for an existing incident, its name is changed to match.
    type: str
  kind:
    description:
      - V(incident) for a realtime incident, V(maintenance) for scheduled maintenance.
      - The incident found by O(key) must be of this kind; otherwise the task fails and changes nothing.
    type: str
    choices: [incident, maintenance]
    default: incident
  state:
    description:
      - V(present) creates the incident when none carries O(key), else updates it.
      - V(resolved) sets an incident's status to V(resolved) and a maintenance's to V(completed), and
        returns the components it affected to V(operational). It never creates; it fails when no incident
        carries O(key).
    type: str
    choices: [present, resolved]
    default: present
  create:
    description:
      - Whether O(state=present) may create the incident. When V(false) and no incident carries O(key),
        the task fails and changes nothing, so a mistyped key in an update step cannot open a new incident.
    type: bool
    default: true
  reopen:
    description:
      - Whether O(status) may move a resolved incident (a completed maintenance) back to an open status.
        When V(false), the task fails and changes nothing.
    type: bool
    default: false
  status:
    description:
      - The status to set. V(investigating), V(identified) and V(monitoring) are for O(kind=incident);
        V(scheduled), V(in_progress) and V(verifying) for O(kind=maintenance).
      - Defaults to V(investigating) or V(scheduled) on create; an existing incident keeps its status when not given.
      - Not allowed with O(state=resolved), which sets the status itself.
    type: str
    choices: [investigating, identified, monitoring, scheduled, in_progress, verifying]
  body:
    description:
      - The message of the incident update (at most 25000 characters).
      - Posted on create, and later only when it or O(status) differs from the newest update
        (leading and trailing white space is ignored in the comparison).
    type: str
  impact:
    description: The impact shown for the incident (sent as C(impact_override)).
    type: str
    choices: [none, minor, major, critical, maintenance]
  components:
    description:
      - Component name (or id) mapped to the status to give it, one of V(operational), V(under_maintenance),
        V(degraded_performance), V(partial_outage) or V(major_outage).
      - The components become affected by the incident. Names are looked up in the page's components;
        an unknown or ambiguous name fails the task before anything is written.
      - With O(state=resolved), every component the incident affected returns to V(operational) unless named here.
    type: dict
  metadata:
    description:
      - Metadata to attach to the incident. Every top-level value must be a dictionary.
      - Merged into the incident's metadata two levels deep; keys not given are kept.
    type: dict
  deliver_notifications:
    description: Whether subscribers are notified of what this task posts.
    type: bool
    default: true
  scheduled_for:
    description:
      - When the maintenance starts, ISO 8601 with a time zone, for example V(2026-12-04T22:00:00+09:00).
      - Required to create a maintenance; only for O(kind=maintenance).
    type: str
  scheduled_until:
    description:
      - When the maintenance ends, ISO 8601 with a time zone; after O(scheduled_for).
      - Required to create a maintenance; only for O(kind=maintenance).
    type: str
  scheduled_remind_prior:
    description: Whether subscribers are reminded before the maintenance starts. Only for O(kind=maintenance).
    type: bool
  scheduled_auto_in_progress:
    description:
      - Whether Statuspage moves the maintenance to V(in_progress) at O(scheduled_for).
      - Only for O(kind=maintenance).
    type: bool
  scheduled_auto_completed:
    description:
      - Whether Statuspage moves the maintenance to V(completed) at O(scheduled_until).
      - Only for O(kind=maintenance).
    type: bool
  auto_transition_to_maintenance_state:
    description:
      - Whether the affected components go V(under_maintenance) when the maintenance starts.
      - Only for O(kind=maintenance).
    type: bool
  auto_transition_to_operational_state:
    description:
      - Whether the affected components go back to V(operational) when the maintenance completes.
      - Only for O(kind=maintenance).
    type: bool
notes:
  - Statuspage allows about one request a second per API key. A run makes one search, one more listing
    before a create, one listing of the components (100 a page) when O(components) is given, and at most
    one write.
  - A write that fails without a clear answer (a timeout, a gateway error) is not repeated, since it may
    have been done; running the task again is safe, because it finds the incident by its key first.
seealso:
  - name: Statuspage API, incidents
    description: The endpoints this module calls.
    link: https://developer.statuspage.io/#tag/incidents
"""

EXAMPLES = r"""
- name: Open the incident
  runbook.ops.statuspage_incident:
    key: "{{ incident_id }}"
    name: Checkout errors
    status: investigating
    impact: major
    body: We are investigating errors during checkout.
    components:
      Checkout: major_outage
    metadata:
      runbook:
        pagerduty_dedup_key: "{{ incident_id }}"
  register: statuspage

- name: Post an update (fails rather than opening a new incident when the key is wrong)
  runbook.ops.statuspage_incident:
    key: "{{ incident_id }}"
    create: false
    status: monitoring
    body: A fix is deployed; we are watching the error rate.
    components:
      Checkout: degraded_performance

- name: Resolve it; every affected component returns to operational
  runbook.ops.statuspage_incident:
    key: "{{ incident_id }}"
    state: resolved
    body: Checkout works again.

- name: Announce a maintenance window
  runbook.ops.statuspage_incident:
    key: MNT-20261210-2200
    kind: maintenance
    name: Database upgrade
    scheduled_for: "2026-12-10T22:00:00+09:00"
    scheduled_until: "2026-12-10T23:00:00+09:00"
    body: The shop is read-only during the upgrade.
    components:
      Database: under_maintenance

- name: Complete the maintenance
  runbook.ops.statuspage_incident:
    key: MNT-20261210-2200
    kind: maintenance
    state: resolved
"""

RETURN = r"""
incident:
  description:
    - The incident after the task. In check mode, the incident as it would be (RV(incident.id) is null
      when it would be created, and a would-be update has a null RV(incident.updates[].created_at)).
  returned: success
  type: dict
  contains:
    id:
      description: Incident id.
      type: str
      sample: p31zjtct2jer
    name:
      description: Full name, with the key in brackets.
      type: str
      sample: "[INC-20261204-120000] Checkout errors"
    key:
      description: The key, as given in O(key).
      type: str
      sample: INC-20261204-120000
    kind:
      description: V(incident) or V(maintenance).
      type: str
    status:
      description: Status, such as V(investigating), V(resolved), V(scheduled) or V(completed).
      type: str
      sample: investigating
    impact:
      description: Impact shown, V(none), V(minor), V(major), V(critical) or V(maintenance).
      type: str
      sample: major
    shortlink:
      description: Short public link to the incident.
      type: str
      sample: http://stspg.io/803310a12
    created_at:
      description: When it was created, ISO 8601.
      type: str
    updated_at:
      description: When it last changed, ISO 8601.
      type: str
    resolved_at:
      description: When it was resolved, or null.
      type: str
    scheduled_for:
      description: Start of a maintenance, or null.
      type: str
    scheduled_until:
      description: End of a maintenance, or null.
      type: str
    components:
      description: The components it affects, each with its status.
      type: list
      elements: dict
      sample: [{"id": "cmpcheckout1", "name": "Checkout", "status": "major_outage"}]
    metadata:
      description: Its metadata.
      type: dict
      sample: {"runbook": {"pagerduty_dedup_key": "INC-20261204-120000"}}
    updates:
      description: Its incident updates, the messages subscribers saw, newest first.
      type: list
      elements: dict
      contains:
        status:
          description: The status the update set.
          type: str
          sample: monitoring
        body:
          description: Its text.
          type: str
        created_at:
          description: When it was posted, ISO 8601; null for an update check mode predicts.
          type: str
found:
  description: Whether an incident carrying the key existed before the task.
  returned: success, and failures that come after the search (such as no incident with O(create=false))
  type: bool
created:
  description: Whether the incident was created (in check mode, would be).
  returned: success
  type: bool
request:
  description:
    - The body sent to Statuspage (in check mode, that would be sent), or null when nothing needed to change.
  returned: success
  type: dict
  sample: {"incident": {"status": "monitoring", "body": "A fix is deployed.", "deliver_notifications": true}}
"""

import copy
import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._statuspage import (
    COMPONENT_STATUSES,
    IMPACTS,
    NAME_MAX,
    REALTIME_STATUSES,
    SCHEDULED_STATUSES,
    incident_kind,
    incidents_carrying,
    summarize,
    updates_newest_first,
)
from ansible_collections.runbook.ops.plugins.module_utils._statuspage_options import (
    statuspage_argument_spec,
    statuspage_client,
)

FLAGS = ("scheduled_remind_prior", "scheduled_auto_in_progress", "scheduled_auto_completed",
         "auto_transition_to_maintenance_state", "auto_transition_to_operational_state")
FIRST_STATUS = {"incident": "investigating", "maintenance": "scheduled"}
FINAL_STATUS = {"incident": "resolved", "maintenance": "completed"}
BODY_MAX = 25000


class Refusal(Exception):
    """The task must fail before anything is written; the message says why."""


def full_name(key, name):
    return (f"[{key}] {name.strip()}")[:NAME_MAX]


def parse_time(text, option):
    """An aware datetime from ISO 8601; a time without a zone is refused as ambiguous."""
    try:
        # fromisoformat reads a trailing Z only from Python 3.11 on.
        value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Refusal(f"{option} is not an ISO 8601 date and time: {text!r}.")
    if value.tzinfo is None:
        raise Refusal(f"{option} needs a time zone, for example {text}Z or {text}+09:00.")
    return value


def utc_text(value):
    return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def check_arguments(params):
    """Refuse what can be refused without asking Statuspage."""
    key, kind = params["key"].strip(), params["kind"]
    if not key or any(char in key for char in "[]\r\n"):
        raise Refusal("key must be non-empty, without square brackets or line breaks.")
    if len(f"[{key}] ") >= NAME_MAX:
        raise Refusal(f"key is too long: the incident's name, [key] and a title, has at most {NAME_MAX} characters.")
    if params["name"] is not None and not params["name"].strip():
        raise Refusal("name must not be empty.")
    allowed = REALTIME_STATUSES if kind == "incident" else SCHEDULED_STATUSES
    if params["status"] and params["state"] == "resolved":
        raise Refusal(f"status does not go with state=resolved, which sets the status to {FINAL_STATUS[kind]}.")
    if params["status"] and params["status"] not in allowed:
        raise Refusal(f"status {params['status']} does not go with kind={kind}; use one of {', '.join(allowed[:-1])}.")
    if params["body"] is not None and len(params["body"]) > BODY_MAX:
        raise Refusal(f"body has {len(params['body'])} characters; Statuspage takes at most {BODY_MAX}.")
    wrong = {name: status for name, status in (params["components"] or {}).items()
             if status not in COMPONENT_STATUSES}
    if wrong:
        raise Refusal(f"Component status must be one of {', '.join(COMPONENT_STATUSES)}; not {wrong}.")
    not_dicts = [name for name, value in (params["metadata"] or {}).items() if not isinstance(value, dict)]
    if not_dicts:
        raise Refusal(f"Every top-level value of metadata must be a dictionary; {', '.join(not_dicts)} is not.")
    if kind == "incident":
        given = [option for option in ("scheduled_for", "scheduled_until") + FLAGS if params[option] is not None]
        if given:
            raise Refusal(f"{', '.join(given)} only go(es) with kind=maintenance.")
    times = {option: parse_time(params[option], option)
             for option in ("scheduled_for", "scheduled_until") if params[option] is not None}
    if len(times) == 2 and times["scheduled_until"] <= times["scheduled_for"]:
        raise Refusal("scheduled_until must be after scheduled_for.")
    return key, times


def resolve_components(client, wanted):
    """For names (or ids) mapped to statuses: id -> wanted status, and the page's components (id -> component)."""
    if not wanted:
        return {}, {}
    page = {component["id"]: component for component in client.components()}
    names = {component_id: component.get("name") for component_id, component in page.items()}
    resolved, unknown = {}, []
    for name, status in wanted.items():
        ids = [component_id for component_id, known in names.items() if known == name]
        if not ids and name in names:
            ids = [name]  # named by its id
        if len(ids) > 1:
            raise Refusal(f"Several components are named {name!r} ({', '.join(ids)}); name it by its id instead.")
        if not ids:
            unknown.append(name)
        else:
            resolved[ids[0]] = status
    if unknown:
        raise Refusal(f"Unknown component(s) {', '.join(map(repr, unknown))}; this page has: "
                      f"{', '.join(sorted(set(filter(None, names.values())))) or 'no components'}.")
    return resolved, page


def merged_metadata(existing, given):
    merged = copy.deepcopy(existing or {})
    for name, values in (given or {}).items():
        if not isinstance(merged.get(name), dict):
            merged[name] = {}
        merged[name].update(values)
    return merged


def create_fields(params, kind, name, times, components):
    fields = {"name": name, "status": params["status"] or FIRST_STATUS[kind]}
    if params["body"] is not None:
        fields["body"] = params["body"]
    if params["impact"]:
        fields["impact_override"] = params["impact"]
    if components:
        fields["components"] = components
        fields["component_ids"] = list(components)
    if params["metadata"]:
        fields["metadata"] = params["metadata"]
    fields.update({option: utc_text(value) for option, value in times.items()})
    fields.update({flag: params[flag] for flag in FLAGS if params[flag] is not None})
    fields["deliver_notifications"] = params["deliver_notifications"]
    return fields


def update_fields(params, kind, incident, name, times, given_components, page_components):
    """What must change in the incident, as the fields of one PATCH; empty when nothing must."""
    fields = {}
    if name and incident.get("name") != name:
        fields["name"] = name

    if params["state"] == "resolved":
        target_status = FINAL_STATUS[kind]
    else:
        target_status = params["status"] or incident.get("status")
    newest = (updates_newest_first(incident) or [{}])[0]
    body_differs = params["body"] is not None and params["body"].strip() != (newest.get("body") or "").strip()
    if target_status != incident.get("status") or body_differs:
        fields["status"] = target_status
        if params["body"] is not None:
            fields["body"] = params["body"]

    if params["impact"] and params["impact"] != (incident.get("impact_override") or incident.get("impact")):
        fields["impact_override"] = params["impact"]

    affected = {component["id"]: component.get("status") for component in incident.get("components") or []}
    wanted = dict.fromkeys(affected, "operational") if params["state"] == "resolved" else {}
    wanted.update(given_components)
    # The page's list is read just now; the incident's copy of a component's status may lag behind it.
    now = dict(affected)
    now.update((component_id, component.get("status")) for component_id, component in page_components.items())
    if any(component_id not in affected or now.get(component_id) != status
           for component_id, status in wanted.items()):
        fields["components"] = wanted
        fields["component_ids"] = list(affected) + [component_id for component_id in wanted
                                                    if component_id not in affected]

    metadata = merged_metadata(incident.get("metadata"), params["metadata"])
    if metadata != (incident.get("metadata") or {}):
        fields["metadata"] = metadata

    for option, value in times.items():
        current = incident.get(option)
        if not current or parse_time(current, option) != value:
            fields[option] = utc_text(value)
    fields.update({flag: params[flag] for flag in FLAGS
                   if params[flag] is not None and incident.get(flag) != params[flag]})

    if fields:
        fields["deliver_notifications"] = params["deliver_notifications"]
    return fields


def view(summary):
    """The fields a diff shows."""
    if not summary:
        return {}
    return {"name": summary["name"], "status": summary["status"], "impact": summary["impact"],
            "components": {component["name"] or component["id"]: component["status"]
                           for component in summary["components"]},
            "metadata": summary["metadata"]}


def predict(summary, fields, page_components):
    """The incident as it would be after sending ``fields``, for check mode and diffs."""
    after = copy.deepcopy(summary)
    after["name"] = fields.get("name", after["name"])
    after["status"] = fields.get("status", after["status"])
    after["impact"] = fields.get("impact_override", after["impact"])
    after["metadata"] = fields.get("metadata", after["metadata"])
    if "components" in fields:
        known = {component["id"]: component for component in after["components"]}
        after["components"] = [
            {"id": component_id,
             "name": known.get(component_id, {}).get("name") or page_components.get(component_id, {}).get("name"),
             "status": fields["components"].get(component_id) or known.get(component_id, {}).get("status")}
            for component_id in fields["component_ids"]]
    for option in ("scheduled_for", "scheduled_until"):
        after[option] = fields.get(option, after[option])
    if "status" in fields:
        after["updates"].insert(0, {"status": fields["status"], "body": fields.get("body"), "created_at": None})
    return after


def blank(key, kind):
    """The summary of an incident that does not exist yet."""
    return {"id": None, "name": None, "key": key, "kind": kind, "status": None, "impact": None, "shortlink": None,
            "created_at": None, "updated_at": None, "resolved_at": None, "scheduled_for": None,
            "scheduled_until": None, "components": [], "metadata": {}, "updates": []}


def main():
    module = AnsibleModule(
        argument_spec=statuspage_argument_spec(
            # An incident key such as INC-20261204-120000 is no secret, whatever its option's name suggests.
            key={"type": "str", "required": True, "no_log": False},
            name={"type": "str"},
            kind={"type": "str", "choices": ["incident", "maintenance"], "default": "incident"},
            state={"type": "str", "choices": ["present", "resolved"], "default": "present"},
            create={"type": "bool", "default": True},
            reopen={"type": "bool", "default": False},
            status={"type": "str",
                    "choices": ["investigating", "identified", "monitoring", "scheduled", "in_progress", "verifying"]},
            body={"type": "str"},
            impact={"type": "str", "choices": list(IMPACTS)},
            components={"type": "dict"},
            metadata={"type": "dict"},
            deliver_notifications={"type": "bool", "default": True},
            scheduled_for={"type": "str"},
            scheduled_until={"type": "str"},
            scheduled_remind_prior={"type": "bool"},
            scheduled_auto_in_progress={"type": "bool"},
            scheduled_auto_completed={"type": "bool"},
            auto_transition_to_maintenance_state={"type": "bool"},
            auto_transition_to_operational_state={"type": "bool"},
        ),
        supports_check_mode=True,
    )
    params, kind = module.params, module.params["kind"]
    try:
        key, times = check_arguments(params)
    except Refusal as exc:
        module.fail_json(msg=str(exc))
    name = full_name(key, params["name"]) if params["name"] else None

    client = statuspage_client(module)
    request, writing, matches = None, False, []
    try:
        matches = incidents_carrying(client, key, kind)
        incident = matches[0] if matches else None
        if len(matches) > 1:
            module.warn(f"{len(matches)} incidents carry [{key}] in their name; using the newest, {incident['id']}. "
                        f"The others: {', '.join(str(other.get('id')) for other in matches[1:])}.")
        if incident and incident_kind(incident) != kind:
            raise Refusal(f"The incident carrying [{key}] ({incident.get('id')}) is a {incident_kind(incident)}, "
                          f"not a {kind}: set kind={incident_kind(incident)}.")
        final = FINAL_STATUS[kind]
        if (incident and params["status"] and params["status"] != final and incident.get("status") == final
                and not params["reopen"]):
            raise Refusal(f"The {kind} carrying [{key}] ({incident.get('id')}) is {final}; setting it to "
                          f"{params['status']} would reopen it for subscribers. Set reopen=true to do that; "
                          "nothing was changed.")
        if incident is None and params["state"] == "resolved":
            raise Refusal(f"No Statuspage {kind} carries [{key}] in its name, so there is nothing to resolve. "
                          "Check the key; nothing was changed.")
        if incident is None and not params["create"]:
            raise Refusal(f"No Statuspage {kind} carries [{key}] in its name, and create=false. "
                          "Check the key; nothing was changed.")
        if incident is None and not name:
            raise Refusal(f"No Statuspage {kind} carries [{key}] in its name; name is required to create it.")
        if incident is None and kind == "maintenance" and len(times) < 2:
            raise Refusal("scheduled_for and scheduled_until are required to create a maintenance.")

        given_components, page_components = resolve_components(client, params["components"] or {})
        if incident is None:
            fields = create_fields(params, kind, name, times, given_components)
            before = None
        else:
            fields = update_fields(params, kind, incident, name, times, given_components, page_components)
            before = summarize(incident, key)
        request = {"incident": fields} if fields else None

        after = before
        if request and module.check_mode:
            after = predict(before or blank(key, kind), fields, page_components)
        elif request:
            writing = True
            if incident is None:
                after = summarize(client.create_incident(fields), key)
            else:
                after = summarize(client.update_incident(incident["id"], fields), key)
    except Refusal as exc:
        module.fail_json(msg=str(exc), found=bool(matches))
    except APIError as exc:
        msg = str(exc)
        if writing and (exc.status is None or exc.status >= 500):
            msg += (" The change may or may not have been made; running the task again is safe,"
                    " as it looks for the incident by its key first.")
        module.fail_json(msg=msg, request=request, **exc.to_result())

    result = {"changed": bool(request), "incident": after, "found": incident is not None,
              "created": incident is None, "request": request}
    if module._diff:
        result["diff"] = {"before": view(before), "after": view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
