# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Probing an application's HTTP endpoint, within a deadline that holds even when it hangs.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

import time
import urllib.parse

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError, HTTPClient

ANY_STATUS = range(100, 600)


def probe_once(client, path, healthy_statuses, body_contains):
    """``(status, reason)`` of one GET; the reason is empty when the answer is healthy."""
    try:
        # A probe is one attempt: the caller decides when to try again.
        response = client.request("GET", path, expected=ANY_STATUS)
    except APIError as exc:
        return None, exc.message or "no answer"
    if response.status not in healthy_statuses:
        wanted = ", ".join(str(status) for status in healthy_statuses)
        return response.status, f"answered {response.status}, expected one of {wanted}"
    if body_contains and body_contains not in response.text:
        return response.status, f"answered {response.status} without the text {body_contains!r}"
    return response.status, ""


def wait_until_healthy(url, healthy_statuses, body_contains=None, wait=0.0, interval=2.0, timeout=5.0,
                       validate_certs=True, ca_path=None, clock=time.monotonic, sleep=time.sleep):
    """Probe until healthy or until ``wait`` seconds have passed; return the verdict as data."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    client = HTTPClient("Health check", f"{parts.scheme}://{parts.netloc}", timeout=timeout, deadline=0, validate_certs=validate_certs,
                        ca_path=ca_path, headers={"Cache-Control": "no-cache"},
                        # As a browser would: http:// to https://, a moved health path.
                        follow_redirects="safe")
    started = clock()
    give_up_at = started + wait
    attempts = 0
    while True:
        attempts += 1
        sent = clock()
        client.timeout = max(0.1, min(timeout, give_up_at - sent)) if wait else timeout
        status, reason = probe_once(client, path, healthy_statuses, body_contains)
        latency_ms = round((clock() - sent) * 1000, 1)
        next_probe = sent + interval
        if not reason or next_probe >= give_up_at:
            return {"healthy": not reason, "status": status, "reason": reason, "latency_ms": latency_ms,
                    "attempts": attempts, "elapsed": round(clock() - started, 3)}
        sleep(max(0.0, next_probe - clock()))
