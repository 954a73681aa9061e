# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one HTTP layer every service client stands on.

Private to this collection: the interface may change in any release.

It sends JSON over Ansible's own ``open_url`` (so proxies, ``validate_certs`` and
CA paths behave as everywhere else in Ansible), retries what is safe to retry
inside a deadline, and turns every failure into one ``APIError`` whose message
names the service, the request, the status and what the operator can do. No
secret ever reaches a message: callers pass the path as it may be shown.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import Request, make_context

# Statuspage still answers 420 where others answer 429; both mean "slow down".
RATE_LIMITED = frozenset((420, 429))
# Gateways and overload: the request most likely never reached the application.
TRANSIENT = frozenset((502, 503, 504))
REQUEST_ID_HEADERS = ("x-vercel-id", "x-request-id", "x-amzn-requestid")

DEFAULT_TIMEOUT = 10.0
DEFAULT_DEADLINE = 60.0
MAX_ATTEMPTS = 8
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


class APIError(Exception):
    """A request to a service failed; ``str()`` is the line an operator reads."""

    def __init__(self, service, method, path, status=None, message=None,
                 code=None, request_id=None, hint=None, origin=""):
        self.service = service
        self.method = method
        self.origin = origin
        self.path = path
        self.status = status
        self.message = message
        self.code = code
        self.request_id = request_id
        self.hint = hint
        super().__init__(self._sentence())

    def _sentence(self):
        answer = f"answered {self.status}" if self.status else "could not be reached"
        text = f"{self.service}: {self.method} {self.origin}{self.path} {answer}"
        detail = ": ".join(part for part in (self.code, self.message) if part)
        if detail:
            text += f" ({detail})"
        text += "."
        if self.request_id:
            text += f" Request id {self.request_id}."
        if self.hint:
            text += f" {self.hint}"
        return text

    def gave_up(self, attempts, deadline):
        """The same failure, saying that retrying did not help."""
        hint = f"Gave up after {attempts} attempt(s) within the {deadline:g}s deadline. {self.hint or ''}"
        return APIError(self.service, self.method, self.path, self.status, self.message,
                        self.code, self.request_id, hint.strip(), self.origin)

    def to_result(self):
        """The fields a module adds to its failure result."""
        return {
            "service": self.service,
            "method": self.method,
            "url": self.origin + self.path,
            "path": self.path,
            "status": self.status,
            "api_error": {"code": self.code, "message": self.message},
            "request_id": self.request_id,
        }


class Response:
    """A service's answer: ``body`` is decoded JSON where the answer is JSON, else ``text``."""

    def __init__(self, status, headers, body, text):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = text


def hint_for(status):
    """What an operator can do about a status, in a few words."""
    if status is None:
        return "Check the base URL, the network path and any proxy, then run again."
    if status == 401:
        return "The credential is missing or invalid: check the token in the environment or credential."
    if status == 403:
        return "The credential lacks access: check the token's scope and the team or page it targets."
    if status == 404:
        return "Check the identifiers (project, team, deployment, domain, page)."
    if status in RATE_LIMITED:
        return "The service is rate limiting; wait and run again, or raise the deadline."
    if status >= 500:
        return "The service is failing; check its status page and run again later."
    return "Check the request's values against the service's documentation."


def short_text(text, limit=300):
    """A service's non-JSON answer, fit for one line: an HTML page is named, not shown."""
    if not isinstance(text, str):
        return text
    if text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        return "an HTML page instead of the API's answer"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def retry_after_seconds(headers, now, rate_limited=False):
    """Seconds the service asked us to wait, or None when it did not say.

    ``Retry-After`` counts for any answer. The rate-limit reset headers count only when
    the answer is a rate limit: Vercel sends them on every answer, and a gateway error
    must not wait for the rate-limit window to end.
    """
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    if rate_limited and reset and reset.strip().isdigit():
        reset = float(reset)
        # Vercel sends an epoch second, PagerDuty the seconds left: tell them apart by size.
        return max(0.0, reset - now) if reset > 1e9 else reset
    return None


def _decode(text, content_type):
    if "json" in (content_type or "").lower():
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return text
    return text


class HTTPClient:
    """JSON over HTTP to one service, with retries inside a deadline.

    ``describe_error(body)`` is the service's own way of reading an error body;
    it returns ``(code, message)``. ``hint(status, code)`` says what to do about
    an error. ``secrets`` are values that must never appear in a message.
    """

    def __init__(self, service, base_url, headers=None, timeout=DEFAULT_TIMEOUT,
                 deadline=DEFAULT_DEADLINE, validate_certs=True, ca_path=None,
                 describe_error=None, hint=None, secrets=(), follow_redirects="none",
                 sleep=time.sleep, clock=time.monotonic):
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.deadline = deadline
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.describe_error = describe_error or (lambda body: (None, body if isinstance(body, str) else None))
        self.hint = hint or (lambda status, code: hint_for(status))
        self.secrets = sorted((secret for secret in secrets if secret and len(secret) >= 4), key=len, reverse=True)
        self.sleep = sleep
        self.clock = clock
        # An API answers where it is asked; redirects are followed only where a caller says so.
        self.follow_redirects = follow_redirects
        self._tls_context = None

    def request(self, method, path, query=None, body=None, expected=(200,), idempotent=None, shown_path=None):
        """Send one request and return a ``Response`` with an expected status.

        ``idempotent`` says whether a repeat is harmless; by default GET, PUT,
        PATCH and DELETE are, POST is not. A non-idempotent request is repeated
        only when the service refused it before doing anything (rate limit,
        connection refused). ``shown_path`` replaces the path in messages where
        the path itself is a secret.
        """
        if idempotent is None:
            idempotent = method != "POST"
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(sorted(query.items()), doseq=True)
        shown = shown_path or path
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"

        give_up_at = self.clock() + self.deadline
        attempt = 0
        while True:
            attempt += 1
            # No single attempt may outlast the deadline.
            timeout = max(0.1, min(self.timeout, give_up_at - self.clock()))
            response, failure, retryable = self._send_once(method, url, headers, data, path, shown, timeout)
            if response is not None and response.status in expected:
                return response
            wait = None
            if response is not None:
                failure = self._error_from(method, shown, response)
                rate_limited = response.status in RATE_LIMITED
                retryable = rate_limited or (idempotent and response.status in TRANSIENT)
                wait = retry_after_seconds(response.headers, time.time(), rate_limited)
            elif retryable == "if idempotent":
                retryable = idempotent
            if not retryable:
                raise failure
            if wait is None:
                wait = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))
            if attempt >= MAX_ATTEMPTS or wait > give_up_at - self.clock():
                raise failure.gave_up(attempt, self.deadline)
            self.sleep(wait)

    def _send_once(self, method, url, headers, data, path, shown, timeout):
        """One attempt: ``(response, None, None)`` when the service answered, else
        ``(None, error, retryable)`` where retryable is True, False or "if idempotent"."""
        if self._tls_context is None and url.startswith("https:"):
            # Loading the CA store costs tens of milliseconds; do it once per client, and only for TLS.
            self._tls_context = make_context(cafile=self.ca_path, validate_certs=self.validate_certs)
        try:
            raw = Request().open(method, url, data=data, headers=headers, timeout=timeout,
                                 follow_redirects=self.follow_redirects, use_proxy=True, use_netrc=False, context=self._tls_context)
            return self._response(raw.status, raw.headers, raw.read()), None, None
        except urllib.error.HTTPError as exc:
            return self._response(exc.code, exc.headers, exc.read() if exc.fp else b""), None, None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            message = self._scrub(f"{type(reason).__name__}: {reason}", path, shown)
            if isinstance(reason, ValueError) and not isinstance(reason, http.client.HTTPException):
                # The request could not even be built (a bad URL, a line break in a credential). Its text
                # may quote the credential in a form no scrubbing recognises, and trying again cannot help.
                message = f"{type(reason).__name__}: the request could not be built"
                retryable, hint = False, "Check the URL and the credential for stray characters or line breaks."
            elif isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
                # Nothing reached the service, so even a request that creates something may be repeated.
                retryable, hint = True, hint_for(None)
            else:
                retryable, hint = "if idempotent", hint_for(None)
            return None, APIError(self.service, method, shown, message=message, hint=hint,
                                  origin=self.base_url), retryable

    def _scrub(self, text, path, shown):
        """The text without the secrets it may quote: the credentials, and a secret path."""
        if path != shown:
            text = text.replace(path, shown)
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text

    @staticmethod
    def _response(status, headers, raw):
        headers = {key.lower(): value for key, value in (headers or {}).items()}
        text = raw.decode("utf-8", errors="replace")
        return Response(status, headers, _decode(text, headers.get("content-type")), text)

    def _error_from(self, method, shown, response):
        code, message = self.describe_error(response.body)
        request_id = next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None)
        return APIError(self.service, method, shown, response.status, short_text(message), code, request_id,
                        self.hint(response.status, code), self.base_url)
