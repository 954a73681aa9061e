#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vercel_alias
short_description: Make domains point at a Vercel deployment
description:
  - Reads where each domain points, then assigns only the domains that point elsewhere.
  - Vercel moves an alias in one step, so a domain never stops serving during the change; this module never
    deletes an alias to move it.
  - Refuses a deployment that is not READY, or that belongs to another project than O(project), and a
    domain that serves another project's deployment.
  - With O(expect), moves nothing unless every domain still serves what the caller last saw.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.vercel
  - runbook.ops.transport
attributes:
  check_mode:
    support: full
    details: Reads everything and reports which domains would move; assigns nothing.
  diff_mode:
    support: full
    details: Shows, for each domain, the deployment it points at before and after.
  idempotent:
    support: full
options:
  deployment:
    description: The deployment to point at, by id (V(dpl_...)) or by its URL.
    type: str
    required: true
  domains:
    description: The domains (aliases) to point at O(deployment).
    type: list
    elements: str
    required: true
  project:
    description:
      - When set, the deployment must belong to this project (id or name), and no domain may serve another
        project's deployment, as a guard against a mistyped id or domain.
    type: str
  expect:
    description:
      - Each domain with the id of the deployment the caller saw it serve. When any domain serves something
        else now, nothing is moved and the task fails, so two operators cannot overwrite each other's change.
    type: dict
notes:
  - When one domain fails to move, the module fails and RV(domains) tells which domains moved already,
    so the caller can put them back.
seealso:
  - module: runbook.ops.vercel_deployment_info
  - name: Vercel API, assign an alias
    description: The endpoint that moves an alias.
    link: https://vercel.com/docs/rest-api/endpoints/aliases
"""

EXAMPLES = r"""
- name: Find the deployment production served before the live one
  runbook.ops.vercel_deployment_info:
    project: webapp
    domains:
      - shop.example.com
      - www.shop.example.com
  register: deployments

- name: Point production at the previous deployment
  runbook.ops.vercel_alias:
    deployment: "{{ deployments.previous.id }}"
    project: webapp
    domains:
      - shop.example.com
      - www.shop.example.com
  register: switch

- name: Put one domain back where it was
  runbook.ops.vercel_alias:
    deployment: "{{ switch.domains[0].before }}"
    domains: ["{{ switch.domains[0].domain }}"]
"""

RETURN = r"""
deployment:
  description: The deployment the domains point at now, in the shape of runbook.ops.vercel_deployment_info's deployments.
  returned: when the deployment was found
  type: dict
domains:
  description: One entry per domain, in the order given, also when the module fails part-way.
  returned: always
  type: list
  elements: dict
  contains:
    domain:
      description: The domain.
      type: str
      sample: shop.example.com
    before:
      description: Id of the deployment it pointed at before, or null when it had no alias.
      type: str
      sample: dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ
    after:
      description:
        - Id of the deployment it points at after the task (in check mode, would point at).
        - After a failure part-way, the domains not reached yet still show their RV(domains[].before).
      type: str
    changed:
      description: Whether this domain moved (in check mode, would move).
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._vercel_options import vercel_argument_spec, vercel_client
from ansible_collections.runbook.ops.plugins.module_utils._vercel import aliases_of, foreign, serving, summarize


def why_not(deployment, owner_id, aliases, expected):
    """Why the domains must not be moved to this deployment, or None when they may."""
    if deployment["state"] != "READY":
        return f"Deployment {deployment['id']} is {deployment['state']}, not READY; only a READY deployment can serve."
    if owner_id and deployment["project_id"] != owner_id:
        return f"Deployment {deployment['id']} belongs to project {deployment['project_id']}, not to {owner_id}."
    if owner_id and foreign(aliases, owner_id):
        return (f"{', '.join(foreign(aliases, owner_id))} serve(s) another project's deployment; "
                "this module will not take a domain from another project.")
    changed_meanwhile = [domain for domain, deployment_id in (expected or {}).items()
                         if domain in aliases and aliases[domain]["deployment_id"] != deployment_id]
    if changed_meanwhile:
        return (f"{', '.join(changed_meanwhile)} no longer serve(s) what was expected: production changed since "
                "it was read (another rollback or deploy?). Nothing was changed; look again and run again.")
    return None


def main():
    module = AnsibleModule(
        argument_spec=vercel_argument_spec(
            deployment={"type": "str", "required": True},
            domains={"type": "list", "elements": "str", "required": True},
            project={"type": "str"},
            expect={"type": "dict"},
        ),
        supports_check_mode=True,
    )
    domains = [domain.strip().lower() for domain in module.params["domains"]]
    if not domains or not all(domains):
        module.fail_json(msg="domains must list at least one domain, with no empty entries.", domains=[])

    client = vercel_client(module)
    project = module.params["project"]
    plan, moving = [], None
    try:
        deployment = summarize(client.deployment(module.params["deployment"]))
        # A project id needs no lookup; a name does.
        owner_id = project if not project or project.startswith("prj_") else client.project(project)["id"]
        aliases = aliases_of(client, domains)
        refusal = why_not(deployment, owner_id, aliases, module.params["expect"])
        if refusal:
            module.fail_json(msg=refusal, deployment=deployment, domains=[])

        for domain, before in serving(aliases).items():
            plan.append({"domain": domain, "before": before, "after": before, "changed": False})
        for entry in plan:
            if entry["before"] != deployment["id"]:
                if not module.check_mode:
                    moving = entry["domain"]
                    client.assign_alias(deployment["id"], moving)
                entry.update(after=deployment["id"], changed=True)
    except APIError as exc:
        # The entries say which domains moved already, so the caller can put those back.
        module.fail_json(msg=f"Moving {moving} failed: {exc}" if moving else str(exc),
                         changed=any(entry["changed"] for entry in plan), domains=plan, **exc.to_result())

    changed = any(entry["changed"] for entry in plan)
    result = {"changed": changed, "deployment": deployment, "domains": plan}
    if module._diff:
        result["diff"] = {
            "before": {entry["domain"]: entry["before"] for entry in plan},
            "after": {entry["domain"]: entry["after"] for entry in plan},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
