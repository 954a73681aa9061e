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
  - runbook.ops.attributes.action
attributes:
  action:
    support: full
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
notes:
  - Runs on the controller (or the AWX execution node), so it sees the application from outside, as its
    users and the API calls of this collection do.
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
