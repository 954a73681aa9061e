#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vercel_deployment
short_description: Build a production deployment from git, or promote one, and wait until production serves it
description:
  - With O(ref), builds a production deployment of the project from its git repository at that branch or tag
    (at O(commit) when given), waits until it is READY, and makes sure the production domains serve it.
  - With O(deployment), puts that READY deployment live instead. A production deployment is promoted; a
    preview deployment is first rebuilt for production, as C(vercel promote) does.
  - Vercel points the production domains at a READY production build by itself, unless the project stages
    its production builds; then this promotes the build. Either way the task ends when every one of
    O(domains) serves it.
  - While it waits, each change of the build's state, and every half minute, is shown in the job log.
  - A build that ends in ERROR or CANCELED fails the task with Vercel's reason and the link to the build log;
    it never served production. A build still running at O(wait_timeout) fails the task too, and is left
    to Vercel.
  - Idempotent by commit. When O(commit) is what production serves already, nothing is done. When a run was
    interrupted, the next one for the same commit takes over the build it started (still building, or
    READY and staged) instead of building again. A build of the commit that served production and was
    rolled back from is not taken over; a fresh one is made. Without O(commit), every run builds the
    newest commit of O(ref).
  - It refuses to start while another production build of the project is still running (unless the project
    stages its production builds), as Vercel would put that build live by itself after this one.
  - This is an action plugin that runs on the controller, where the Vercel API is reached from.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.attributes.action
  - runbook.ops.vercel
  - runbook.ops.transport
attributes:
  action:
    support: full
  check_mode:
    support: full
    details: Reads what production serves and reports what would be built or promoted; starts nothing.
  diff_mode:
    support: full
    details: Shows which deployment each domain serves before and after.
  idempotent:
    support: partial
    details: With O(commit) or O(deployment), a second run changes nothing. With only O(ref), each run builds.
options:
  project:
    description: The project, by id (V(prj_...)) or by name.
    type: str
    required: true
  domains:
    description:
      - The production domains that must serve the deployment when the task ends.
      - When empty, Vercel's production target of the project is what counts.
    type: list
    elements: str
    default: []
  ref:
    description:
      - Build from this git branch or tag. Mutually exclusive with O(deployment); one of the two is required.
    type: str
  commit:
    description:
      - The commit to build, as a SHA; it must be on O(ref). It is sent to Vercel as given, so give the full
        SHA when a build may be made; an abbreviated one (7 characters or more) is enough to tell that the
        commit is live already.
      - Gives idempotence, see the description.
    type: str
  repository:
    description:
      - The git repository, as V(owner/name) for GitHub and Bitbucket, or the project id for GitLab.
      - Defaults to the repository linked to the Vercel project.
    type: str
  git_provider:
    description: The git host of O(repository). Defaults to that of the repository linked to the project.
    type: str
    choices: [github, gitlab, bitbucket]
  deployment:
    description:
      - Put this READY deployment live instead of building, by id (V(dpl_...)) or URL.
    type: str
  meta:
    description:
      - Metadata to record on a new deployment, as text values. Vercel keeps it with the deployment.
      - Promoting a production deployment creates none, so its metadata stays as it was.
    type: dict
    default: {}
  schema_version:
    description:
      - The database schema version this deployment is built for, recorded in its C(runbookSchemaVersion)
        metadata; the rollback role compares it with the database before going back to this deployment.
    type: str
  wait_timeout:
    description: Seconds to wait for the build and the promotion, in all.
    type: float
    default: 1200
  poll_interval:
    description: Seconds between two looks at the build.
    type: float
    default: 5
notes:
  - Vercel may also build each push to the production branch by itself. Deploying through this module
    instead works best with those automatic production builds turned off (the git settings of the project).
seealso:
  - module: runbook.ops.vercel_deployment_info
  - module: runbook.ops.vercel_alias
  - name: Vercel API, create a deployment
    description: The endpoint a build from git starts with.
    link: https://vercel.com/docs/rest-api/deployments/create-a-new-deployment
"""

EXAMPLES = r"""
- name: Deploy a commit of main to production
  runbook.ops.vercel_deployment:
    project: webapp
    team: acme
    ref: main
    commit: bef543f8593f06c95570a96b17eaa23f8582508f
    domains:
      - shop.example.com
      - www.shop.example.com
    schema_version: "20261201093000"
  register: deployed

- name: Say what went out, and what it replaced
  ansible.builtin.debug:
    msg: "{{ deployed.deployment.id }} live; before it {{ deployed.previous.id | default('nothing') }}"

- name: Promote a deployment that was checked on its preview URL
  runbook.ops.vercel_deployment:
    project: webapp
    deployment: webapp-977acb0e6-acme.vercel.app
    domains: [shop.example.com]
"""

RETURN = r"""
deployment:
  description:
    - The deployment production serves at the end, in the shape of M(runbook.ops.vercel_deployment_info)'s
      deployments. In check mode, the one that would be promoted, or null when one would be built.
    - When the build failed, the failed deployment.
  returned: always, null when the arguments were refused
  type: dict
previous:
  description: The deployment production served before, in the same shape, or null when it served none.
  returned: success
  type: dict
source_deployment:
  description: The deployment named by O(deployment), as found.
  returned: when O(deployment) is given
  type: dict
project:
  description: The project's id and name.
  returned: success
  type: dict
  sample: {"id": "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB", "name": "webapp"}
created:
  description: Whether a new deployment was created.
  returned: success
  type: bool
adopted:
  description: Whether the build of an earlier, interrupted run was taken over instead of building again.
  returned: success
  type: bool
promoted:
  description: Whether this task promoted the deployment (rather than Vercel pointing the domains by itself).
  returned: success
  type: bool
already_live:
  description: True when production served the commit or deployment already, and nothing was done.
  returned: success
  type: bool
git_source:
  description: The git source a new deployment was, or would be, built from.
  returned: when building from O(ref)
  type: dict
  sample: {"type": "github", "org": "acme", "repo": "webapp", "ref": "main", "sha": "3f2c9a1"}
serving_before:
  description: Each domain with the deployment it served before.
  returned: success
  type: dict
serving:
  description: Each domain with the deployment it serves at the end.
  returned: success
  type: dict
  sample: {"shop.example.com": "dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ"}
states:
  description: The build's states as they were seen, with the seconds since the task started.
  returned: success
  type: list
  elements: dict
  sample: [{"state": "QUEUED", "after_s": 0}, {"state": "BUILDING", "after_s": 5}, {"state": "READY", "after_s": 95}]
"""
