#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: http_watch
short_description: Watch an HTTP endpoint for a window after a deploy and say whether it saw trouble
description:
  - Sends a GET to O(url) every O(interval) seconds for O(duration) seconds, and judges the polls so far
    after each one. The watch stops at the first breach; otherwise it ends with the window.
  - A poll fails when it gets no answer within O(timeout), a status not in O(status), or an answer without
    O(body_contains). Redirects are followed, as a browser would; the final answer counts.
  - "Four rules make a breach, judged in this order after each poll: O(max_consecutive_failures) failed polls
    in a row (judged from the first poll, so a site that is down does not wait out the window); a number above
    O(max_reported_error_rate) in the O(error_rate_field) of any answer; once O(min_polls) polls are in, a share
    of failed polls above O(max_error_rate); once O(min_polls) polls are in, a median response time above
    O(max_response_ms)."
  - Polls start only inside the window, and the watch never sleeps past its end. A poll that starts just
    before the end still has its whole O(timeout), so the task may last up to O(timeout) seconds more
    than O(duration).
  - Each poll prints one line in the job log, with its status or failure, its time and the error rate so far;
    the lines never show a body, nor the credentials, query or fragment of O(url).
  - A breach is not a failure of the task unless O(fail_on_breach) says so; RV(healthy) and RV(breach) say
    it, so the caller decides, for example to roll the deploy back.
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
    details: Read-only; it watches in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  url:
    description: The http(s) URL to poll, usually the application's health endpoint.
    type: str
    required: true
  status:
    description: The statuses that mean a healthy answer.
    type: list
    elements: int
    default: [200]
  body_contains:
    description: When set, a healthy answer's body must also contain this text (in its first MiB).
    type: str
  duration:
    description: Seconds the window lasts, from the first poll.
    type: float
    required: true
  interval:
    description:
      - Seconds between the start of two polls. A poll that takes longer is followed by the next at once.
      - The window must hold at least O(min_polls) polls, or the task fails before any request.
    type: float
    default: 30
  timeout:
    description: Seconds one poll may take before it counts as failed.
    type: float
    default: 5
  max_error_rate:
    description:
      - The largest share of failed polls, from V(0) to V(1), over the polls so far, that is not a breach.
      - Judged only once O(min_polls) polls are in. With the defaults, one failed poll among the first 20 is a breach.
    type: float
    default: 0.05
  min_polls:
    description: How many polls must be in before the error rate and the median response time are judged.
    type: int
    default: 5
  max_consecutive_failures:
    description: That many failed polls in a row are a breach, whatever O(min_polls) says.
    type: int
    default: 3
  max_response_ms:
    description:
      - When set, a median response time of the polls so far above this many milliseconds is a breach.
      - Judged only once O(min_polls) polls are in. Every poll is timed, a failed one up to its giving up.
    type: float
  error_rate_field:
    description:
      - The name of a top-level number in the answer's JSON body that holds the application's own error rate,
        for example V(error_rate). Any poll in which it is above O(max_reported_error_rate) is a breach.
      - An answer whose body is not a JSON object with that number in it (a proxy's error page, a missing or
        non-numeric field) is not a failed poll; its health stands on its status and O(body_contains) alone,
        and a warning counts such answers, so a misspelt field name shows.
    type: str
  max_reported_error_rate:
    description:
      - The largest value of O(error_rate_field) that is not a breach, in the unit the application reports.
      - Defaults to O(max_error_rate). Needs O(error_rate_field).
    type: float
  validate_certs:
    description: Whether to verify the endpoint's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust, instead of the system's.
    type: path
  fail_on_breach:
    description: Fail the task, with the verdict and a message naming the URL, the breach and its numbers, on a breach.
    type: bool
    default: false
notes:
  - Runs on the controller (or the AWX execution node), so it sees the application from outside, as its users do.
  - The task holds its host for the whole window; a loop watches its items one after the other.
seealso:
  - module: runbook.ops.http_probe
"""

EXAMPLES = r"""
# deploy_watch_minutes and deploy_watch_interval are the deploy role's settings (30 minutes, every 30 seconds).
- name: Watch production for the deploy's window after the deploy
  runbook.ops.http_watch:
    url: "{{ health_check_url }}"
    duration: "{{ deploy_watch_minutes * 60 }}"
    interval: "{{ deploy_watch_interval }}"
    max_response_ms: 800
    error_rate_field: error_rate
    max_reported_error_rate: 0.02
  register: watch

- name: Roll back when the watch saw trouble
  ansible.builtin.include_role:
    name: runbook.ops.rollback
  when: not watch.healthy

- name: After an emergency fix, fail at the first failed poll, naming it
  runbook.ops.http_watch:
    url: "{{ health_check_url }}"
    duration: "{{ deploy_watch_minutes * 60 }}"
    interval: "{{ deploy_watch_interval }}"
    max_consecutive_failures: 1
    fail_on_breach: true
"""

RETURN = r"""
healthy:
  description: Whether the watch saw no breach.
  returned: always
  type: bool
reason:
  description: Why the watch is not healthy, with the numbers; empty when it is.
  returned: always
  type: str
  sample: "error rate 20.0 % (1 of 5 polls failed), above 5 %"
breach:
  description:
    - The rule that was breached, or null.
    - One of V(consecutive_failures), V(reported_error_rate), V(error_rate), V(response_time).
  returned: always
  type: str
  sample: error_rate
polls:
  description: How many polls were sent.
  returned: always
  type: int
  sample: 60
failures:
  description: How many polls failed.
  returned: always
  type: int
  sample: 0
error_rate:
  description: The share of failed polls, from 0 to 1.
  returned: always
  type: float
  sample: 0.0
median_ms:
  description: The median time of all polls, in milliseconds.
  returned: always
  type: float
  sample: 143.2
p95_ms:
  description: The 95th percentile (nearest rank) of the polls' times, in milliseconds.
  returned: always
  type: float
  sample: 310.4
worst_ms:
  description: The longest poll, in milliseconds.
  returned: always
  type: float
  sample: 402.7
reported_error_rate:
  description:
    - The highest value of O(error_rate_field) that any answer held.
    - Null when no answer held one, or without O(error_rate_field).
  returned: always
  type: float
  sample: 0.004
watched_s:
  description: Seconds from the start of the first poll to the end of the last.
  returned: always
  type: float
  sample: 1770.142
stopped_early:
  description: Whether a breach ended the watch while the window had time for another poll.
  returned: always
  type: bool
timeline:
  description: The last 100 polls, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    at:
      description: When the poll was sent, ISO 8601 in UTC.
      type: str
      sample: "2026-12-04T21:30:00.000Z"
    status:
      description: The answer's status, or null when there was none.
      type: int
      sample: 200
    ms:
      description: How long the poll took, in milliseconds.
      type: float
      sample: 143.2
    ok:
      description: Whether the poll was healthy.
      type: bool
    reason:
      description: Why the poll failed; empty when it did not.
      type: str
      sample: "answered 503, expected one of 200"
"""
