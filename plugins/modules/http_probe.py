#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: http_probe
short_description: Probe an HTTP endpoint until it is healthy within a deadline; time it; read its TLS certificate
description:
  - Sends a GET to O(url) and says whether the answer is healthy, with its status and latency.
  - With O(wait), probes again every O(interval) seconds until the answer is healthy or O(wait) seconds
    have passed, whichever comes first; the deadline holds even when the endpoint hangs.
  - Redirects are followed, as a browser would (for example from http:// to https://); the final answer counts.
  - An unhealthy endpoint is not a failure of the task unless O(fail_unhealthy) says so; RV(healthy) says
    it, so the caller decides.
  - With O(samples), a healthy endpoint is probed again, one probe after the other, until that many probes
    have been timed (the one that gave the verdict is the first); RV(latency) sums them up. RV(healthy)
    stays the verdict of the wait; a sample that is not healthy is timed all the same and counted in
    RV(latency.unhealthy).
  - For an https O(url), RV(tls) tells the certificate's days left, read from a TLS handshake with the
    URL's host and port that verifies nothing, so an expired or self-signed certificate still tells them.
    A second handshake says whether chain and hostname verify against the system's certificate
    authorities, or O(ca_path). An expired or expiring certificate does not make the endpoint unhealthy;
    it is reported.
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
    description:
      - Seconds one probe may take; while waiting, never more than what is left of O(wait).
      - Each of O(samples) and each TLS handshake has it whole.
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
    description:
      - A PEM file of certificate authorities to trust, instead of the system's.
      - Used by the probes (when O(validate_certs) is true) and for RV(tls.verified).
    type: path
  samples:
    description:
      - How many probes to time in all when the endpoint is healthy, the verdict's probe included.
      - Each probe has its own O(timeout). V(1) times only the verdict's probe.
    type: int
    default: 1
  tls_warn_days:
    description: RV(tls.expiring) is true when the certificate has fewer days left than this.
    type: int
    default: 14
notes:
  - Runs on the controller (or the AWX execution node), so it sees the application from outside, as its
    users and the API calls of this collection do.
  - The certificate is read over a direct connection to the URL's host and port, not through a proxy, and
    before any redirect; each of its two handshakes may take up to O(timeout).
seealso:
  - module: ansible.builtin.uri
"""

EXAMPLES = r"""
- name: Wait up to two minutes for the application to be healthy
  runbook.ops.http_probe:
    url: "{{ health_check_url }}"
    wait: 120
    interval: 2
  register: health

- name: Give up when it is not
  ansible.builtin.fail:
    msg: "Unhealthy: {{ health.reason }}"
  when: not health.healthy

- name: Time ten probes and read the certificate
  runbook.ops.http_probe:
    url: "{{ health_check_url }}"
    samples: 10
    tls_warn_days: 21
  register: health

- name: Warn about a certificate that expires soon or does not verify
  ansible.builtin.debug:
    msg: >-
      Median {{ health.latency.median_ms }} ms, worst {{ health.latency.worst_ms }} ms;
      certificate: {{ health.tls.days_left }} days left, {{ health.tls.error or 'verified' }}
  when: health.tls.expiring or not health.tls.verified
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
  description: How long the last probe of the wait (the verdict's) took, in milliseconds.
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
latency:
  description:
    - The timed probes. When the verdict is healthy, O(samples) of them, the verdict's first; when it is
      not, only the verdict's.
    - A probe that got no answer is timed up to its giving up.
  returned: always
  type: dict
  contains:
    samples_ms:
      description: Each probe's time in milliseconds, in the order they were sent.
      type: list
      elements: float
      sample: [82.4, 75.1, 77.9]
    median_ms:
      description: The median of RV(latency.samples_ms).
      type: float
      sample: 77.9
    p95_ms:
      description: The 95th percentile of RV(latency.samples_ms) by nearest rank (one of the samples).
      type: float
      sample: 82.4
    worst_ms:
      description: The longest of RV(latency.samples_ms).
      type: float
      sample: 82.4
    count:
      description: How many probes were timed.
      type: int
      sample: 3
    unhealthy:
      description: How many of the timed probes were not healthy.
      type: int
      sample: 0
tls:
  description:
    - The certificate the server at O(url)'s host and port presents; null for an http URL.
    - When no certificate could be read, RV(tls.error) says why and the other fields are null (RV(tls.verified) false).
  returned: always
  type: dict
  contains:
    days_left:
      description: Days until the certificate expires, with decimals; negative when it has expired.
      type: float
      sample: 61.42
    expiring:
      description: Whether RV(tls.days_left) is below O(tls_warn_days).
      type: bool
    not_after:
      description: When the certificate expires, ISO 8601 in UTC.
      type: str
      sample: "2027-02-03T23:59:59Z"
    subject:
      description: The certificate's subject, by its common name (its organisation when it has none).
      type: str
      sample: shop.example.com
    issuer:
      description: The issuer's common name (its organisation when it has none).
      type: str
      sample: R11
    verified:
      description: Whether chain and hostname verify against the system's certificate authorities, or O(ca_path).
      type: bool
    error:
      description: Why the certificate does not verify or could not be read; null when it verifies.
      type: str
      sample: "certificate has expired"
"""
