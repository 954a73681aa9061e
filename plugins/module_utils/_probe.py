# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Probing an application's HTTP endpoint, within a deadline that holds even when it hangs, and
reading its TLS certificate.

Private to this collection: the interface may change in any release.

The certificate is read with the standard library alone (a small DER reader below), because this file
runs wherever ansible-core runs, and ansible-test imports it with nothing else installed.
"""

from __future__ import annotations

import collections
import datetime
import http.client
import json
import math
import socket
import ssl
import statistics
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import Request, make_context

NO_CACHE = {"Cache-Control": "no-cache"}


def probe_once(url, healthy_statuses, body_contains, timeout, tls_context):
    """``(status, reason)`` of one GET; the reason is empty when the answer is healthy.

    A probe is one attempt with the whole ``timeout``: the caller decides when to try again. That is
    why it does not go through HTTPClient.request, which retries and caps each attempt by its deadline.
    """
    try:
        # As a browser would, redirects are followed: http:// to https://, a moved health path.
        answer = Request().open("GET", url, headers=NO_CACHE, timeout=timeout, follow_redirects="safe",
                                use_proxy=True, use_netrc=False, context=tls_context)
        status, body = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read() if exc.fp else b""
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    if status not in healthy_statuses:
        wanted = ", ".join(str(healthy) for healthy in healthy_statuses)
        return status, f"answered {status}, expected one of {wanted}"
    if body_contains and body_contains not in body.decode("utf-8", errors="replace"):
        return status, f"answered {status} without the text {body_contains!r}"
    return status, ""


def latency_summary(samples_ms, unhealthy):
    """The timed probes as the result shows them: each one, their median, 95th percentile and the slowest."""
    ranked = sorted(samples_ms)
    # Nearest rank: the value that 95 % of the samples do not exceed, and always one of them.
    p95_ms = ranked[math.ceil(0.95 * len(ranked)) - 1]
    return {"samples_ms": samples_ms, "median_ms": round(statistics.median(samples_ms), 1), "p95_ms": p95_ms,
            "worst_ms": max(samples_ms), "count": len(samples_ms), "unhealthy": unhealthy}


def wait_until_healthy(url, healthy_statuses, body_contains=None, wait=0.0, interval=2.0, timeout=5.0,
                       validate_certs=True, ca_path=None, clock=time.monotonic, sleep=time.sleep, samples=1):
    """Probe until healthy or until ``wait`` seconds have passed; return the verdict as data.

    When the verdict is healthy, probe on, one probe after the other, until ``samples`` probes have
    been timed, the verdict's included, and sum them up under ``latency``.
    """
    url = urllib.parse.urldefrag(url)[0]
    # Loading the CA store takes tens of milliseconds: once, before any probe is timed. Built for http
    # too, because a redirect may lead to https.
    tls_context = make_context(cafile=ca_path, validate_certs=validate_certs)

    def timed_probe(probe_timeout):
        sent = clock()
        status, reason = probe_once(url, healthy_statuses, body_contains, probe_timeout, tls_context)
        return sent, status, reason, round((clock() - sent) * 1000, 1)

    started = clock()
    give_up_at = started + wait
    attempts = 0
    while True:
        attempts += 1
        # No probe may outlast the wait.
        probe_timeout = max(0.1, min(timeout, give_up_at - clock())) if wait else timeout
        sent, status, reason, latency_ms = timed_probe(probe_timeout)
        next_probe = sent + interval
        if not reason or next_probe >= give_up_at:
            break
        sleep(max(0.0, next_probe - clock()))
    verdict = {"healthy": not reason, "status": status, "reason": reason, "latency_ms": latency_ms,
               "attempts": attempts, "elapsed": round(clock() - started, 3)}

    timed, unhealthy = [latency_ms], int(bool(reason))
    if verdict["healthy"]:
        while len(timed) < samples:
            # The samples come after the wait: each has the whole timeout, whatever was left of the wait.
            sample_reason, sample_ms = timed_probe(timeout)[2:]
            timed.append(sample_ms)
            unhealthy += bool(sample_reason)
    verdict["latency"] = latency_summary(timed, unhealthy)
    return verdict


# ----- TLS certificate ------------------------------------------------------------------------

# The DER tags the reader meets: https://www.itu.int/rec/T-REC-X.690 and RFC 5280, section 4.1.
SEQUENCE, OID, UTC_TIME, GENERALIZED_TIME = 0x30, 0x06, 0x17, 0x18
EXPLICIT_VERSION = 0xA0
COMMON_NAME = bytes((0x55, 0x04, 0x03))  # 2.5.4.3
ORGANIZATION = bytes((0x55, 0x04, 0x0A))  # 2.5.4.10
TEXT_ENCODINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be", 0x1C: "utf-32-be"}


class CertificateError(ValueError):
    """The bytes are not a certificate this reader understands."""


def der_items(data, start=0, end=None):
    """Yield ``(tag, value_start, value_end)`` for each DER item between ``start`` and ``end``."""
    end = len(data) if end is None else end
    position = start
    while position < end:
        if position + 2 > end:
            raise CertificateError("truncated DER item")
        tag, length = data[position], data[position + 1]
        position += 2
        if length & 0x80:
            # Long form: the low bits say how many bytes the length takes.
            size = length & 0x7F
            if not 1 <= size <= 4 or position + size > end:
                raise CertificateError("bad DER length")
            length = int.from_bytes(data[position:position + size], "big")
            position += size
        if position + length > end:
            raise CertificateError("DER item longer than its container")
        yield tag, position, position + length
        position += length


def der_children(data, item):
    tag, start, end = item
    return list(der_items(data, start, end))


def der_time(data, item):
    """A UTCTime or GeneralizedTime, as an aware UTC datetime."""
    tag, start, end = item
    text = data[start:end].decode("ascii")
    if not text.endswith("Z"):
        raise CertificateError(f"time {text!r} is not in UTC")
    if tag == UTC_TIME:
        # RFC 5280: two-digit years 50-99 are 19xx, 00-49 are 20xx.
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif tag != GENERALIZED_TIME:
        raise CertificateError(f"tag {tag:#x} is not a time")
    moment = datetime.datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    return moment.replace(tzinfo=datetime.timezone.utc)


def der_name(data, item):
    """A Name's common name, or its organisation when it has none, or None."""
    found = {}
    for relative_name in der_children(data, item):
        for attribute in der_children(data, relative_name):
            kind, value = der_children(data, attribute)[:2]
            encoding = TEXT_ENCODINGS.get(value[0])
            if kind[0] == OID and encoding:
                text = data[value[1]:value[2]].decode(encoding, errors="replace")
                found.setdefault(data[kind[1]:kind[2]], text)
    return found.get(COMMON_NAME) or found.get(ORGANIZATION)


def read_certificate(der):
    """``not_before``, ``not_after`` (datetimes), ``subject`` and ``issuer`` of a DER certificate."""
    try:
        certificate = list(der_items(der))
        if len(certificate) != 1 or certificate[0][0] != SEQUENCE:
            raise CertificateError("not one DER sequence")
        tbs = der_children(der, der_children(der, certificate[0])[0])
        # The version is optional (absent for v1); then serial, signature, issuer, validity, subject.
        if tbs[0][0] == EXPLICIT_VERSION:
            tbs = tbs[1:]
        issuer, validity, subject = tbs[2], tbs[3], tbs[4]
        not_before, not_after = (der_time(der, moment) for moment in der_children(der, validity)[:2])
        return {"not_before": not_before, "not_after": not_after,
                "subject": der_name(der, subject), "issuer": der_name(der, issuer)}
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise CertificateError(f"the certificate cannot be read: {exc}") from None


def _handshake(host, port, context, timeout):
    """The server's certificate (DER) after a handshake with ``context``; SNI is ``host``."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def _reason(exc):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, socket.timeout):
        return "the TLS handshake timed out"
    return f"{type(exc).__name__}: {exc}"


def tls_report(url, timeout=5.0, ca_path=None, warn_days=14, now=time.time):
    """What the certificate of an https URL says, or None for http.

    The certificate is read by a handshake that verifies nothing, so an expired or self-signed one
    still tells its days left; a second handshake verifies chain and hostname as the probe would.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        return None
    report = {"days_left": None, "expiring": None, "not_after": None, "subject": None, "issuer": None,
              "verified": False, "error": None}
    try:
        host, port = parts.hostname, parts.port or 443
    except ValueError:  # a port that is not a number
        host = None
    if not host:
        report["error"] = "the URL names no host and port to connect to"
        return report

    reading = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    reading.check_hostname = False
    reading.verify_mode = ssl.CERT_NONE
    try:
        certificate = read_certificate(_handshake(host, port, reading, timeout))
    except (OSError, CertificateError) as exc:
        # No certificate, so nothing to verify: one failed handshake is enough to say why.
        report["error"] = _reason(exc)
        return report
    not_after = certificate["not_after"]
    days_left = round((not_after.timestamp() - now()) / 86400, 2)
    report.update(days_left=days_left, expiring=days_left < warn_days, subject=certificate["subject"],
                  issuer=certificate["issuer"], not_after=not_after.isoformat().replace("+00:00", "Z"))

    try:
        _handshake(host, port, make_context(cafile=ca_path), timeout)
        report["verified"] = True
    except OSError as exc:
        report["error"] = _reason(exc)
    return report


# ----- Watch window ---------------------------------------------------------------------------

# A health answer is small; reading at most this much keeps a long watch of a misbehaving endpoint cheap.
WATCH_BODY_LIMIT = 1024 * 1024
TIMELINE_LENGTH = 100


def fetch_once(url, timeout, tls_context):
    """``(status, body, error)`` of one GET sent as probe_once sends it; ``error`` is empty when an answer came.

    The watch needs the body as well as the verdict (for the application's own error rate), which
    probe_once does not return.
    """
    try:
        try:
            answer = Request().open("GET", url, headers=NO_CACHE, timeout=timeout, follow_redirects="safe",
                                    use_proxy=True, use_netrc=False, context=tls_context)
            # Closed at once: a body longer than the limit is left unread, and a watch polls for a long time.
            with answer:
                return answer.status, answer.read(WATCH_BODY_LIMIT), ""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(WATCH_BODY_LIMIT) if exc.fp else b"", ""
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, b"", reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"


def answer_reason(status, body, healthy_statuses, body_contains):
    """Why an answer is not healthy, in probe_once's words; empty when it is."""
    if status not in healthy_statuses:
        wanted = ", ".join(str(healthy) for healthy in healthy_statuses)
        return f"answered {status}, expected one of {wanted}"
    if body_contains and body_contains not in body.decode("utf-8", errors="replace"):
        return f"answered {status} without the text {body_contains!r}"
    return ""


def reported_value(body, field):
    """The number in the top-level ``field`` of a JSON object body, or None when the body holds none."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    value = document.get(field) if isinstance(document, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def expected_polls(duration, interval):
    """How many polls a window holds when each answer comes at once (the rounding forgives float sums)."""
    return max(1, math.ceil(round(duration / interval, 6)))


def percentile(values, share):
    """The nearest-rank percentile: the smallest value that ``share`` of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(round(share * len(ordered), 6)) - 1)]


def watch_breach(tally, limits):
    """``(breach, reason)`` for the polls so far, or ``(None, "")``.

    The order is the order of evidence: a site that is down, then what the application says of
    itself, then the share of failed polls, then slowness.
    """
    polls, failures = len(tally["timings"]), tally["failures"]
    if tally["in_a_row"] >= limits["max_consecutive_failures"]:
        return "consecutive_failures", f"{tally['in_a_row']} failed polls in a row, the last: {tally['last_reason']}"
    reported = tally["last_reported"]
    if reported is not None and reported > limits["max_reported_error_rate"]:
        return "reported_error_rate", (f"the application reported {limits['error_rate_field']} {reported:g}, "
                                       f"above {limits['max_reported_error_rate']:g}")
    if polls < limits["min_polls"]:
        return None, ""
    if failures / polls > limits["max_error_rate"]:
        return "error_rate", (f"error rate {failures / polls * 100:.1f} % ({failures} of {polls} polls failed), "
                              f"above {limits['max_error_rate'] * 100:g} %")
    median_ms = statistics.median(tally["timings"])
    if limits["max_response_ms"] is not None and median_ms > limits["max_response_ms"]:
        return "response_time", (f"median response time {median_ms:g} ms over {polls} polls, "
                                 f"above {limits['max_response_ms']:g} ms")
    return None, ""


def watch_window(url, healthy_statuses, body_contains=None, duration=1800.0, interval=30.0, timeout=5.0,
                 max_error_rate=0.05, min_polls=5, max_consecutive_failures=3, max_response_ms=None,
                 error_rate_field=None, max_reported_error_rate=None, validate_certs=True, ca_path=None,
                 clock=time.monotonic, sleep=time.sleep, on_poll=None):
    """Poll ``url`` every ``interval`` seconds for ``duration`` seconds, or until a breach; return the verdict as data.

    A poll fails when it gets no answer or an unhealthy one, as probe_once judges. Each poll has its
    whole ``timeout``, and polls start only inside the window; the watch never sleeps past its end.
    With ``error_rate_field``, an answer without that number in a JSON object body is a poll the
    application did not report on: its health stands on its status alone, and a warning counts them.
    ``on_poll`` is called after each poll with the progress so far, for a line in the job log.
    """
    url = urllib.parse.urldefrag(url)[0]
    # Built once, before any poll is timed, and for http too, because a redirect may lead to https.
    tls_context = make_context(cafile=ca_path, validate_certs=validate_certs)
    if max_reported_error_rate is None:
        max_reported_error_rate = max_error_rate
    limits = {"max_error_rate": max_error_rate, "min_polls": min_polls, "max_response_ms": max_response_ms,
              "max_consecutive_failures": max_consecutive_failures, "error_rate_field": error_rate_field,
              "max_reported_error_rate": max_reported_error_rate}
    tally = {"timings": [], "failures": 0, "in_a_row": 0, "last_reason": "", "last_reported": None,
             "highest_reported": None, "unreported": 0}
    timeline = collections.deque(maxlen=TIMELINE_LENGTH)
    expected = expected_polls(duration, interval)

    # The timeline's times follow the monotonic clock from one wall-clock reading: a clock step cannot reorder them.
    wall_start, started = time.time(), clock()
    window_end = started + duration
    while True:
        sent = clock()
        status, body, error = fetch_once(url, timeout, tls_context)
        ms = round((clock() - sent) * 1000, 1)
        reason = error or answer_reason(status, body, healthy_statuses, body_contains)

        tally["timings"].append(ms)
        tally["failures"] += bool(reason)
        tally["in_a_row"] = tally["in_a_row"] + 1 if reason else 0
        tally["last_reason"] = reason
        if error_rate_field:
            tally["last_reported"] = reported_value(body, error_rate_field)
            if tally["last_reported"] is None:
                tally["unreported"] += status is not None
            elif tally["highest_reported"] is None or tally["last_reported"] > tally["highest_reported"]:
                tally["highest_reported"] = tally["last_reported"]
        at = datetime.datetime.fromtimestamp(wall_start + sent - started, datetime.timezone.utc)
        timeline.append({"at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "status": status,
                         "ms": ms, "ok": not reason, "reason": reason})

        polls = len(tally["timings"])
        if on_poll:
            on_poll({"polls": polls, "expected": expected, "elapsed": clock() - started, "status": status, "ms": ms,
                     "ok": not reason, "reason": reason, "failures": tally["failures"],
                     "error_rate": tally["failures"] / polls})
        breach, breach_reason = watch_breach(tally, limits)
        # A poll slower than the interval is followed at once, and only while the window lasts.
        next_poll = max(sent + interval, clock())
        if breach or next_poll >= window_end:
            break
        sleep(max(0.0, next_poll - clock()))

    timings = tally["timings"]
    warnings = []
    if tally["unreported"]:
        warnings.append(f"{tally['unreported']} of {polls} polls got an answer without a number in a top-level "
                        f"{error_rate_field!r} of a JSON object body; they were judged by their status alone.")
    if not breach and polls < min_polls:
        warnings.append(f"Only {polls} polls in the window, fewer than min_polls {min_polls}: the error rate and the "
                        "response time were not judged.")
    return {"healthy": not breach, "reason": breach_reason, "breach": breach, "polls": polls,
            "failures": tally["failures"], "error_rate": round(tally["failures"] / polls, 4),
            "median_ms": round(statistics.median(timings), 1), "p95_ms": percentile(timings, 0.95),
            "worst_ms": max(timings), "reported_error_rate": tally["highest_reported"],
            "watched_s": round(clock() - started, 3), "stopped_early": bool(breach) and next_poll < window_end,
            "timeline": list(timeline), "warnings": warnings}
