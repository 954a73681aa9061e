#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vercel_deployment_info
short_description: List a Vercel project's deployments and find the live and the previous one
description:
  - Lists a project's deployments, newest first, following Vercel's pagination until it has what was asked.
  - Finds RV(current), the deployment the production domains serve now, and RV(previous), the newest
    READY production deployment older than it, which is where an application rollback goes.
  - Deployments in ERROR, CANCELED or still building are never chosen as RV(previous).
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.vercel
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
  project:
    description: The project, by id (V(prj_...)) or by name.
    type: str
    required: true
  domains:
    description:
      - The production domains. What they point at is RV(current).
      - When empty, RV(current) is the project's production target as Vercel reports it, or else the
        newest READY production deployment.
    type: list
    elements: str
    default: []
  deployment:
    description:
      - Also look up this one deployment, by id (V(dpl_...)) or URL, and return it as RV(deployment).
    type: str
  target:
    description: Which deployments to list.
    type: str
    choices: [production, preview, any]
    default: production
  state:
    description:
      - List only deployments in these states.
      - RV(previous) is looked for among the listed deployments, so leaving out V(READY) leaves it empty.
    type: list
    elements: str
    choices: [BLOCKED, BUILDING, CANCELED, DELETED, ERROR, INITIALIZING, QUEUED, READY]
  limit:
    description:
      - At most this many deployments are returned in RV(deployments).
      - Reading goes on past it only as far as needed to find RV(previous).
    type: int
    default: 20
  page_size:
    description: Deployments asked for in one request (Vercel allows up to 100).
    type: int
    default: 20
  skip:
    description:
      - Deployment ids never chosen as RV(previous), for example those production was rolled back from; they
        are listed in RV(passed_over) when they would have been.
    type: list
    elements: str
    default: []
  since_hours:
    description:
      - List only deployments created within this many hours before now, as Vercel's listing filters them.
      - RV(latest) and RV(previous) are looked for among the listed deployments, so a short window may leave
        them empty. RV(current) is found all the same.
    type: float
seealso:
  - module: runbook.ops.vercel_alias
  - name: Vercel API, list deployments
    description: The endpoint this module pages through.
    link: https://vercel.com/docs/rest-api/deployments/list-deployments
"""

EXAMPLES = r"""
- name: Find where production would roll back to
  runbook.ops.vercel_deployment_info:
    project: webapp
    team: acme
    domains:
      - shop.example.com
      - www.shop.example.com
  register: deployments

- name: Show the plan
  ansible.builtin.debug:
    msg: "Live {{ deployments.current.id }}, previous {{ deployments.previous.id | default('none') }}"

- name: The last failed production builds
  runbook.ops.vercel_deployment_info:
    project: prj_webapp01
    state: [ERROR]
    limit: 5

- name: What was deployed in the last six hours, for an incident's timeline
  runbook.ops.vercel_deployment_info:
    project: webapp
    target: any
    since_hours: 6
    limit: 100
  register: recent

- name: Show who deployed what, and why a build failed
  ansible.builtin.debug:
    msg: >-
      {{ item.created_at }} {{ item.state }} {{ item.commit_repo }} {{ item.commit_sha }}
      by {{ item.creator }} {{ item.error_message or '' }}
  loop: "{{ recent.deployments }}"
  loop_control:
    label: "{{ item.id }}"
"""

RETURN = r"""
project:
  description: The project the deployments belong to.
  returned: success
  type: dict
  contains:
    id:
      description: Project id.
      type: str
      sample: prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB
    name:
      description: Project name.
      type: str
      sample: webapp
deployments:
  description: The listed deployments, newest first, at most O(limit).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Deployment id.
      type: str
      sample: dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ
    url:
      description: The deployment's own hostname.
      type: str
      sample: webapp-4f8a1c2.vercel.app
    name:
      description: Project name as Vercel reports it.
      type: str
    state:
      description: V(READY), V(ERROR), V(BUILDING), V(CANCELED) and so on.
      type: str
      sample: READY
    target:
      description: V(production), or null for a preview deployment.
      type: str
      sample: production
    project_id:
      description: The project the deployment belongs to.
      type: str
    created:
      description: Creation time in milliseconds since the epoch.
      type: int
      sample: 1795912345000
    created_at:
      description: Creation time, ISO 8601 in UTC.
      type: str
      sample: "2026-11-28T09:12:25Z"
    creator:
      description: Who created it (username, else e-mail, else user id).
      type: str
    commit_sha:
      description: Git commit the deployment was built from, when known.
      type: str
    commit_ref:
      description: Git branch or tag, when known.
      type: str
    commit_message:
      description: Git commit message, when known.
      type: str
    commit_repo:
      description: The git repository, as V(org/repo), when known.
      type: str
      sample: acme/webapp
    error_message:
      description:
        - Why the deployment failed, in Vercel's words, for an V(ERROR) deployment; null when Vercel gives none.
        - Vercel may also say here why a V(CANCELED) deployment was canceled.
      type: str
      sample: Command "npm run build" exited with 1
    inspector_url:
      description: Link to the deployment in Vercel's dashboard.
      type: str
    ready_substate:
      description:
        - For a READY production deployment, V(STAGED) when it was built but does not serve production until
          promoted, V(PROMOTED) when it does or did; null when Vercel does not say.
      type: str
    schema_version:
      description:
        - The database schema version the deploy recorded for this deployment (its C(runbookSchemaVersion)
          meta), or null when it was deployed without one.
      type: str
latest:
  description:
    - The newest READY production deployment, in the shape of RV(deployments), or null when there is none.
    - When it is not RV(current), production was rolled back or promoted by hand.
  returned: success
  type: dict
current:
  description: The deployment production serves now, in the shape of RV(deployments), or null when unknown.
  returned: success
  type: dict
previous:
  description:
    - The newest READY production deployment older than RV(current), in the shape of RV(deployments).
    - Null when there is none.
  returned: success
  type: dict
deployment:
  description: The deployment named by O(deployment), in the shape of RV(deployments).
  returned: when O(deployment) is given
  type: dict
serving:
  description: Each of O(domains) with the id of the deployment it points at (null when it has no alias).
  returned: success
  type: dict
  sample: {"shop.example.com": "dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ"}
foreign_domains:
  description: Those of O(domains) that serve a deployment of another project than O(project).
  returned: success
  type: list
  elements: str
domains_disagree:
  description: True when the production domains point at different deployments.
  returned: success
  type: bool
passed_over:
  description: The deployments of O(skip) that would have been RV(previous), in the shape of RV(deployments).
  returned: success
  type: list
  elements: dict
pages_read:
  description: How many pages of deployments were read.
  returned: success
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._vercel_options import vercel_argument_spec, vercel_client
from ansible_collections.runbook.ops.plugins.module_utils._vercel import (
    aliases_of,
    created_since,
    foreign,
    is_rollback_candidate,
    serving,
    summarize,
)


def live_deployment_id(project, serving_now, domains):
    """What production serves: the first domain's alias, else the project's production target."""
    if domains:
        return serving_now.get(domains[0])
    return ((project.get("targets") or {}).get("production") or {}).get("id")


def read_deployments(client, project_id, params, current_id):
    """Read pages until ``limit`` deployments are listed and ``previous`` is found (or none are left)."""
    target = None if params["target"] == "any" else params["target"]
    since = None if params["since_hours"] is None else created_since(params["since_hours"], time.time())
    listed, latest, current, previous, pages, passed_over = [], None, None, None, 0, []
    for page in client.deployment_pages(project_id, target, params["state"], params["page_size"], since):
        pages += 1
        for deployment in map(summarize, page):
            if len(listed) < params["limit"]:
                listed.append(deployment)
            if latest is None and deployment["state"] == "READY" and deployment["target"] == "production":
                latest = deployment
                current_id = current_id or deployment["id"]
            if deployment["id"] == current_id:
                current = deployment
            elif current and not previous and is_rollback_candidate(deployment, current["created"]):
                if deployment["id"] in params["skip"]:
                    passed_over.append(deployment)
                else:
                    previous = deployment
        if len(listed) >= params["limit"] and previous:
            break
    return listed, latest, current, previous, pages, current_id, passed_over


def main():
    module = AnsibleModule(
        argument_spec=vercel_argument_spec(
            project={"type": "str", "required": True},
            deployment={"type": "str"},
            domains={"type": "list", "elements": "str", "default": []},
            target={"type": "str", "choices": ["production", "preview", "any"], "default": "production"},
            state={"type": "list", "elements": "str",
                   "choices": ["BLOCKED", "BUILDING", "CANCELED", "DELETED", "ERROR", "INITIALIZING", "QUEUED",
                               "READY"]},
            limit={"type": "int", "default": 20},
            page_size={"type": "int", "default": 20},
            since_hours={"type": "float"},
            skip={"type": "list", "elements": "str", "default": []},
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["limit"] < 1 or not 1 <= params["page_size"] <= 100:
        module.fail_json(msg="limit must be at least 1 and page_size between 1 and 100.")
    if params["since_hours"] is not None and params["since_hours"] <= 0:
        module.fail_json(msg=f"since_hours must be more than 0, not {params['since_hours']:g}.")

    client = vercel_client(module)
    try:
        project = client.project(params["project"])
        aliases = aliases_of(client, params["domains"])
        serving_now = serving(aliases)
        current_id = live_deployment_id(project, serving_now, params["domains"])
        listed, latest, current, previous, pages, current_id, passed_over = read_deployments(client, project["id"],
                                                                                             params, current_id)
        if current is None and current_id:
            # Production may serve a deployment the listing's filters left out.
            current = summarize(client.deployment(current_id))
        named = summarize(client.deployment(params["deployment"])) if params["deployment"] else None
    except APIError as exc:
        module.fail_json(msg=str(exc), **exc.to_result())

    extra = {"deployment": named} if params["deployment"] else {}
    module.exit_json(
        changed=False,
        project={"id": project["id"], "name": project.get("name")},
        deployments=listed,
        latest=latest,
        current=current,
        previous=previous,
        serving=serving_now,
        domains_disagree=len(set(serving_now.values())) > 1,
        foreign_domains=foreign(aliases, project["id"]),
        pages_read=pages,
        passed_over=passed_over,
        **extra,
    )


if __name__ == "__main__":
    main()
