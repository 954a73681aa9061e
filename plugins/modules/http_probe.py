#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: http_probe
short_description: Probe an HTTP endpoint, optionally until it is healthy within a deadline
description:
  - Sends a GET to O(url) and says whether the answer is healthy, with its status and latency.
  - With O(wait), probes again every O(interval) seconds until the answer is healthy or O(wait) seconds
    have passed, whichever comes first; the deadline holds even when the endpoint hangs.
  - Redirects are followed, as a browser would (for example from http:// to https://); the final answer counts.
  - An unhealthy endpoint is not a failure of the task unless O(fail_unhealthy) says so; RV(healthy) says
    it, so the caller decides.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
attributes:
  check_mode:
    support: full
    details: Read-only; it probes in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  url:
    description: The http(s) URL to probe.
    type: str
    required: true
  status:
    description: The statuses that mean healthy.
    type: list
    elements: int
    default: [200]
  body_contains:
    description: When set, the answer's body must also contain this text to be healthy.
    type: str
  wait:
    description: Seconds to keep probing until healthy. V(0) probes once.
    type: float
    default: 0
  interval:
    description: Seconds between the start of two probes.
    type: float
    default: 2
  timeout:
    description: Seconds one probe may take; never more than what is left of O(wait).
    type: float
    default: 5
  fail_unhealthy:
    description: Fail the task, with the verdict, when the endpoint is not healthy in the end.
    type: bool
    default: false
  validate_certs:
    description: Whether to verify the endpoint's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust.
    type: path
seealso:
  - module: ansible.builtin.uri
"""

EXAMPLES = r"""
- name: Wait up to two minutes for the application to be healthy
  runbook.ops.http_probe:
    url: https://shop.example.com/api/health
    wait: 120
    interval: 2
  register: health

- name: Give up when it is not
  ansible.builtin.fail:
    msg: "Unhealthy: {{ health.reason }}"
  when: not health.healthy
"""

RETURN = r"""
healthy:
  description: Whether the last answer was healthy.
  returned: always
  type: bool
status:
  description: Status of the last answer, or null when there was none.
  returned: always
  type: int
  sample: 200
reason:
  description: Why the last probe was not healthy; empty when it was.
  returned: always
  type: str
  sample: "answered 503, expected one of 200"
latency_ms:
  description: How long the last probe took, in milliseconds.
  returned: always
  type: float
attempts:
  description: How many probes were sent.
  returned: always
  type: int
elapsed:
  description: Seconds from the first probe to the verdict.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._probe import wait_until_healthy


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "status": {"type": "list", "elements": "int", "default": [200]},
            "body_contains": {"type": "str"},
            "wait": {"type": "float", "default": 0},
            "interval": {"type": "float", "default": 2},
            "timeout": {"type": "float", "default": 5},
            "fail_unhealthy": {"type": "bool", "default": False},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not params["url"].startswith(("http://", "https://")):
        module.fail_json(msg=f"url must be an http(s) URL, not {params['url']!r}.")
    if params["wait"] < 0 or params["interval"] <= 0 or params["timeout"] <= 0:
        module.fail_json(msg="wait must be 0 or more, interval and timeout more than 0.")

    verdict = wait_until_healthy(params["url"], params["status"], params["body_contains"], params["wait"],
                                 params["interval"], params["timeout"], params["validate_certs"], params["ca_path"])
    if params["fail_unhealthy"] and not verdict["healthy"]:
        waited = f" within {params['wait']:g} s" if params["wait"] else ""
        module.fail_json(msg=f"{params['url']} did not become healthy{waited} ({verdict['attempts']} probe(s), "
                             f"last: {verdict['reason']}).", **verdict)
    module.exit_json(changed=False, **verdict)


if __name__ == "__main__":
    main()
