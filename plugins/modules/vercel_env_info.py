#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vercel_env_info
short_description: List a Vercel project's environment variables, with their values only when asked
description:
  - Lists the environment variables of a Vercel project, sorted by name, following Vercel's pagination.
  - By default no value is read, and none (not even Vercel's ciphertext) is in the result, so the list may be
    shown and logged.
  - With O(values=true), Vercel is asked to decrypt, and each variable's value is in RV(envs[].value), for a
    backup. A value the listing leaves encrypted is read from the variable's own endpoint, which decrypts.
    The module cannot hide its own results, so the task B(must) set C(no_log=true); without it the
    module refuses to read anything. Write the backup with C(no_log=true) and C(diff=false) too, to a file
    only its owner may read (see the examples).
  - Vercel never returns the value of a C(sensitive) variable. With O(values=true) such a variable has a null
    RV(envs[].value) and RV(envs[].value_missing=true), and is counted in RV(unreadable); a backup cannot
    restore it, and whoever restores must set it from where it is kept. The same goes for a variable Vercel
    leaves encrypted, and for one whose value contains the Vercel token, which Ansible would mask in any result
    (a warning names it).
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
  values:
    description:
      - Whether to ask Vercel to decrypt the variables and return their values.
      - Requires C(no_log=true) on the task.
    type: bool
    default: false
  target:
    description: List only the variables that apply to this environment.
    type: str
    choices: [production, preview, development]
notes:
  - The check for C(no_log) reads what Ansible tells the module. Where the configuration sets
    C(no_target_syslog), Ansible tells every module it is C(no_log), and the check cannot see a task without it.
seealso:
  - module: runbook.ops.vercel_deployment_info
  - name: Sensitive environment variables
    description: Why Vercel never returns some values.
    link: https://vercel.com/docs/environment-variables/sensitive-environment-variables
"""

EXAMPLES = r"""
- name: Which variables production has, without their values
  runbook.ops.vercel_env_info:
    project: webapp
    target: production
  register: production_env

- name: Read the values for the backup (no_log, or the values end up in the job log)
  runbook.ops.vercel_env_info:
    project: webapp
    values: true
  register: env_backup
  no_log: true

- name: Write the backup where only its owner may read it
  ansible.builtin.copy:
    content: "{{ env_backup.envs | to_nice_json }}"
    dest: "{{ deploy_env_backup_dir }}/webapp-env-{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}.json"
    mode: "0600"
  no_log: true
  diff: false

- name: Say which variables the backup cannot restore
  ansible.builtin.debug:
    msg: "Not in the backup: {{ env_backup.envs | selectattr('value_missing') | map(attribute='key') | join(', ') }}"
  when: env_backup.unreadable > 0
"""

RETURN = r"""
envs:
  description: The variables, sorted by RV(envs[].key), only those for O(target) when it is given.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The variable's id.
      type: str
      sample: G43g2zxrf9Ldc5TW
    key:
      description: Its name.
      type: str
      sample: DATABASE_URL
    type:
      description: V(plain), V(encrypted), V(secret), V(sensitive) or V(system).
      type: str
      sample: encrypted
    targets:
      description: The environments it applies to, V(production), V(preview) and V(development).
      type: list
      elements: str
      sample: [production, preview]
    git_branch:
      description: The git branch it is limited to in previews, or null.
      type: str
    created_at:
      description: When it was created, ISO 8601 in UTC.
      type: str
      sample: "2026-11-02T08:15:00Z"
    updated_at:
      description: When it last changed, ISO 8601 in UTC.
      type: str
      sample: "2026-11-28T09:12:25Z"
    value:
      description: Its value; null when Vercel did not give it (see RV(envs[].value_missing)).
      returned: when O(values=true)
      type: str
    value_missing:
      description:
        - True when RV(envs[].value) is not the variable's value; always true for a V(sensitive) variable.
      returned: when O(values=true)
      type: bool
count:
  description: How many variables RV(envs) holds.
  returned: success
  type: int
  sample: 12
unreadable:
  description: How many of RV(envs) have no value (RV(envs[].value_missing=true)).
  returned: when O(values=true)
  type: int
  sample: 1
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._vercel_options import vercel_argument_spec, vercel_client

# Types whose values Vercel returns in clear only when asked to decrypt.
ENCRYPTED_TYPES = ("encrypted", "secret")


def iso_utc(ms):
    """ISO 8601 in UTC from Vercel's milliseconds since the epoch; None when unknown."""
    if not isinstance(ms, (int, float)) or isinstance(ms, bool):
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc).isoformat(timespec="seconds") \
        .replace("+00:00", "Z")


def targets_of(env):
    """Vercel gives ``target`` as a list, or as one string."""
    target = env.get("target")
    if isinstance(target, str):
        return [target]
    return [item for item in target or [] if isinstance(item, str)]


def clear_value(env):
    """The value in clear, or None when Vercel did not give it: always for a sensitive variable, and for one
    it says it left encrypted."""
    if env.get("type") == "sensitive":
        return None
    if env.get("type") in ENCRYPTED_TYPES and env.get("decrypted") is False:
        return None
    value = env.get("value")
    return value if isinstance(value, str) else None


def summarize(env):
    """The fields a backup and a reader need, never the value."""
    return {
        "id": env.get("id"),
        "key": env.get("key"),
        "type": env.get("type"),
        "targets": targets_of(env),
        "git_branch": env.get("gitBranch"),
        "created_at": iso_utc(env.get("createdAt")),
        "updated_at": iso_utc(env.get("updatedAt")),
    }


def with_value(summary, env, hidden):
    """The summary and the value; ``hidden`` are the strings Ansible masks in every result (the token)."""
    value = clear_value(env)
    masked = value is not None and any(secret and secret in value for secret in hidden)
    if masked:
        value = None
    return {**summary, "value": value, "value_missing": value is None}, masked


def main():
    module = AnsibleModule(
        argument_spec=vercel_argument_spec(
            project={"type": "str", "required": True},
            values={"type": "bool", "default": False},
            target={"type": "str", "choices": ["production", "preview", "development"]},
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["project"].strip():
        module.fail_json(msg="project must not be empty.")
    if params["values"] and not module.no_log:
        module.fail_json(msg="values=true returns the variables' values, which Ansible would show in its output and "
                             "logs: set no_log: true on this task. Nothing was read.")

    client = vercel_client(module)
    try:
        listed = client.env_vars(params["project"].strip(), decrypt=params["values"])
    except APIError as exc:
        module.fail_json(msg=str(exc), **exc.to_result())

    if params["target"]:
        listed = [env for env in listed if params["target"] in targets_of(env)]
    listed.sort(key=lambda env: (str(env.get("key")), str(env.get("id"))))

    if not params["values"]:
        envs = [summarize(env) for env in listed]
        module.exit_json(changed=False, envs=envs, count=len(envs))

    envs = []
    for env in listed:
        if env.get("type") in ENCRYPTED_TYPES and env.get("decrypted") is False and env.get("id"):
            # Vercel's listing may ignore decrypt=true; the variable's own endpoint decrypts.
            try:
                env = {**env, **client.env_var(params["project"].strip(), env["id"])}
            except APIError as exc:
                module.fail_json(msg=str(exc), **exc.to_result())
        item, masked = with_value(summarize(env), env, module.no_log_values)
        if masked:
            module.warn(f"The value of {item['key']} ({item['id']}) contains the Vercel token, which Ansible masks in "
                        "every result; it is left out (value_missing) and must be backed up another way.")
        envs.append(item)
    module.exit_json(changed=False, envs=envs, count=len(envs), unreadable=sum(item["value_missing"] for item in envs))


if __name__ == "__main__":
    main()
