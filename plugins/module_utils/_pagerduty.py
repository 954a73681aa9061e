# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PagerDuty: events through the Events API v2, and the incident listings of the REST API.

Private to this collection: the interface may change in any release.

The Events API takes its credential, the routing key, in the request body, so the
key is one of the HTTP layer's secrets and a shown body always carries it masked.
"""

from __future__ import annotations

import calendar
import datetime
import json

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError, HTTPClient, hint_for

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
DEFAULT_API_URL = "https://api.pagerduty.com"
EVENTS_SERVICE = "PagerDuty Events API"
REST_SERVICE = "PagerDuty REST API"
MASK = "********"

ALERT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
OPEN_STATUSES = ("triggered", "acknowledged")
URGENCIES = ("high", "low")
ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
REQUEST_MAX_BYTES = 512 * 1024
PAGE_SIZE_MAX = 100
# PagerDuty answers 400 once offset + limit passes this.
PAGING_END = 10000
# PagerDuty lists at most 6 months between since and until. How it counts them is not published, so a
# window must fit both 6 calendar months and 183 days; the narrower bound rules.
WINDOW_MONTHS = 6
WINDOW_DAYS_MAX = 183


def read_events_error(body):
    """The Events API answers ``{status, message, errors[]}``; the errors say what was wrong."""
    if isinstance(body, dict):
        errors = [str(error) for error in body.get("errors") or []]
        message = ": ".join(part for part in [body.get("message")] + ["; ".join(errors)] if part)
        return body.get("status"), message or None
    return None, body if isinstance(body, str) and body.strip() else None


def read_rest_error(body):
    """The REST API answers ``{"error": {"message", "code", "errors"}}``; the code is a number."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        errors = [str(item) for item in error.get("errors") or []]
        message = ": ".join(part for part in [error.get("message")] + ["; ".join(errors)] if part)
        code = error.get("code")
        return (str(code) if code is not None else None), message or None
    return None, body if isinstance(body, str) and body.strip() else None


def events_hint(status, code):
    if status == 400:
        return ("PagerDuty refused the event as invalid: check the errors above against the routing key, "
                "dedup_key and payload.")
    if status == 404:
        return "The events URL may be wrong: it is https://events.pagerduty.com unless a proxy stands in between."
    if status == 429:
        return "PagerDuty is rate limiting this routing key (about 120 events a minute); wait and run again."
    return hint_for(status)


def rest_hint(status, code):
    if status == 401:
        return "The PagerDuty API token is missing or invalid: check PAGERDUTY_API_TOKEN (or api_token)."
    if status == 403:
        return "The PagerDuty API token may not read incidents: a read-only account or user key is enough."
    return hint_for(status)


def _scrubbing(describe, secrets):
    """``describe`` whose message never quotes a secret, whatever the service echoes back."""
    def describe_error(body):
        code, message = describe(body)
        for secret in secrets:
            if isinstance(message, str) and secret:
                message = message.replace(secret, MASK)
        return code, message
    return describe_error


def now_iso():
    """The current time, ISO 8601 in UTC with its offset, as PagerDuty's timestamp wants it."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def timestamp_problem(value):
    """Why ``value`` is no usable timestamp, or None: it must be ISO 8601 and say its offset."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return f"timestamp {value!r} is not ISO 8601 (for example 2026-05-01T09:30:00+09:00)."
    if parsed.tzinfo is None:
        return f"timestamp {value!r} has no UTC offset; add Z or +HH:MM so PagerDuty does not guess the zone."
    return None


def _moment(name, value):
    """``value`` (ISO 8601 text or a datetime) as an aware datetime; ValueError naming the option when it is none."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} {value!r} is not an ISO 8601 time (for example 2026-05-01T09:30:00+09:00 "
                             "or 2026-05-01T00:30:00Z).") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no UTC offset; add Z or +HH:MM so the window does not depend on "
                         "the zone the controller runs in.")
    # Far-off years would overflow the date arithmetic below; no incident is that old or that new.
    if not 1970 <= moment.year <= 9000:
        raise ValueError(f"{name} {value!r} is not a time PagerDuty can hold incidents for.")
    return moment


def _months_later(moment, months):
    """The same day and time ``months`` calendar months later; a day the month lacks becomes its last."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def latest_until(since):
    """The latest ``until`` PagerDuty takes with this ``since``."""
    return min(_months_later(since, WINDOW_MONTHS), since + datetime.timedelta(days=WINDOW_DAYS_MAX))


def iso_utc(moment):
    """An aware datetime as ISO 8601 text in UTC, ending in Z."""
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def read_window(since, until=None, now=None):
    """``(since, until)`` as aware datetimes, ``until`` now when not given.

    Raises ValueError saying what is wrong with a window PagerDuty would refuse, so that
    nothing is sent for it.
    """
    since = _moment("since", since)
    if until is None or (isinstance(until, str) and not until.strip()):
        # Whole seconds read better in a report.
        until = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    until = _moment("until", until)
    if until <= since:
        raise ValueError(f"until ({iso_utc(until)}) must be later than since ({iso_utc(since)}).")
    latest = latest_until(since)
    if until > latest:
        days = (until - since).total_seconds() / 86400
        raise ValueError(f"The window from since ({iso_utc(since)}) to until ({iso_utc(until)}) spans {days:.1f} "
                         f"days; PagerDuty lists at most {WINDOW_MONTHS} months at a time, so until may be at most "
                         f"{iso_utc(latest)}. Read a longer time in several windows.")
    return since, until


def _without_empty(mapping):
    return {key: value for key, value in mapping.items() if value not in (None, "", [], {})}


def build_event(action, dedup_key=None, summary=None, source=None, severity=None, timestamp=None,
                component=None, group=None, event_class=None, custom_details=None, links=None,
                client=None, client_url=None):
    """The request body of an event, without its routing key.

    Acknowledge and resolve carry only the dedup key: PagerDuty reads no payload on them.
    A change event has a smaller payload and no dedup key at all.
    """
    links = [_without_empty(link) for link in links or []]
    if action == "change":
        payload = {"summary": summary, "source": source, "timestamp": timestamp, "custom_details": custom_details}
        return _without_empty({"payload": _without_empty(payload), "links": links})
    if action != "trigger":
        return {"event_action": action, "dedup_key": dedup_key}
    payload = {"summary": summary, "source": source, "severity": severity, "timestamp": timestamp,
               "component": component, "group": group, "class": event_class, "custom_details": custom_details}
    event = {"event_action": action, "dedup_key": dedup_key, "payload": _without_empty(payload),
             "client": client, "client_url": client_url, "links": links}
    return _without_empty(event)


def event_problems(routing_key, event):
    """What PagerDuty would refuse in this event, checked before anything is sent."""
    problems = []
    action = event.get("event_action", "change")
    if len(routing_key) != ROUTING_KEY_LENGTH:
        # Say the length, never the key.
        problems.append(f"The routing key has {len(routing_key)} characters; PagerDuty integration keys have "
                        f"{ROUTING_KEY_LENGTH}. Copy it again from the service's Events API v2 integration.")
    if action == "change" and routing_key.startswith("R"):
        problems.append("The routing key is an event ruleset key (it starts with R); change events need a "
                        "service's integration key.")
    dedup_key = event.get("dedup_key")
    if action in ("acknowledge", "resolve") and not dedup_key:
        problems.append(f"dedup_key is required to {action} an alert.")
    if dedup_key and len(dedup_key) > DEDUP_KEY_MAX:
        problems.append(f"dedup_key has {len(dedup_key)} characters; PagerDuty takes at most {DEDUP_KEY_MAX}.")
    payload = event.get("payload") or {}
    if action in ("trigger", "change") and not (payload.get("summary") or "").strip():
        problems.append(f"summary is required for a {action} event.")
    if action == "trigger":
        if not payload.get("source"):
            problems.append("source is required for a trigger event.")
        if payload.get("severity") not in SEVERITIES:
            problems.append(f"severity must be one of {', '.join(SEVERITIES)}.")
    if len(payload.get("summary") or "") > SUMMARY_MAX:
        problems.append(f"summary has more than {SUMMARY_MAX} characters.")
    if payload.get("timestamp"):
        problems.append(timestamp_problem(payload["timestamp"]))
    if any(not isinstance(link, dict) or not link.get("href") for link in event.get("links") or []):
        problems.append("Every link needs an href.")
    size = len(json.dumps({"routing_key": routing_key, **event}, ensure_ascii=False).encode("utf-8"))
    if size > REQUEST_MAX_BYTES:
        problems.append(f"The event is {size} bytes; PagerDuty takes at most {REQUEST_MAX_BYTES} (512 KB). "
                        "Shorten custom_details.")
    return [problem for problem in problems if problem]


def summarize_incident(incident):
    """The few fields of an incident a play needs."""
    return {key: incident.get(key) for key in ("id", "incident_number", "status", "html_url", "title")}


class PagerDutyEvents:
    """Sends events to one integration, named by its routing key."""

    def __init__(self, routing_key, base_url=DEFAULT_EVENTS_URL, **http_options):
        # Keys pasted from files or secrets often end in a line break.
        self.routing_key = routing_key.strip()
        self.http = HTTPClient(EVENTS_SERVICE, base_url or DEFAULT_EVENTS_URL, headers={"Accept": "application/json"},
                               describe_error=_scrubbing(read_events_error, [self.routing_key]), hint=events_hint,
                               secrets=[self.routing_key], **http_options)

    def body(self, event):
        return {"routing_key": self.routing_key, **event}

    @staticmethod
    def shown(event):
        """The body as it may be shown: the routing key masked."""
        return {"routing_key": MASK, **event}

    def problems(self, event):
        return event_problems(self.routing_key, event)

    def send(self, event):
        """Send one event; return PagerDuty's ``{status, message, dedup_key}``.

        An alert event with a dedup key may be repeated after an ambiguous failure: PagerDuty
        folds the repeat into the same alert. A change event, or a trigger without a key, is
        repeated only when PagerDuty refused it before doing anything (rate limit, refused
        connection), so a flaky network never pages twice.
        """
        action = event.get("event_action", "change")
        path = "/v2/change/enqueue" if action == "change" else "/v2/enqueue"
        keyed = action in ALERT_ACTIONS and bool(event.get("dedup_key"))
        try:
            response = self.http.request("POST", path, body=self.body(event), expected=(202,), idempotent=keyed)
        except APIError as exc:
            if exc.status is None or exc.status >= 500:
                raise self._unsure(exc, keyed) from None
            raise
        answer = response.body if isinstance(response.body, dict) else {}
        return {"status": answer.get("status"), "message": answer.get("message"),
                "dedup_key": answer.get("dedup_key") or event.get("dedup_key")}

    @staticmethod
    def _unsure(exc, keyed):
        """The failure, saying whether running again is safe when PagerDuty may have the event."""
        if keyed:
            advice = "Running again is safe: PagerDuty folds a repeat with the same dedup_key into one alert."
        else:
            advice = ("PagerDuty may have received the event; it was not sent again so as not to send it twice. "
                      "Look at the service before running again.")
        return APIError(exc.service, exc.method, exc.path, exc.status, exc.message, exc.code, exc.request_id,
                        f"{exc.hint} {advice}" if exc.hint else advice, exc.origin)


class PagerDutyREST:
    """The part of PagerDuty's REST API v2 that finds incidents."""

    def __init__(self, token, base_url=DEFAULT_API_URL, **http_options):
        token = token.strip()
        self.http = HTTPClient(REST_SERVICE, base_url or DEFAULT_API_URL,
                               headers={"Authorization": f"Token token={token}",
                                        "Accept": "application/vnd.pagerduty+json;version=2"},
                               describe_error=_scrubbing(read_rest_error, [token]), hint=rest_hint,
                               secrets=[token], **http_options)

    def incidents(self, incident_key=None, statuses=None, date_range="all", page_size=PAGE_SIZE_MAX):
        """Every incident that matches, following ``more`` page after page (at most 10000, see ``listing``)."""
        query = {}
        if date_range:
            query["date_range"] = date_range
        if incident_key:
            query["incident_key"] = incident_key
        if statuses:
            query["statuses[]"] = list(statuses)
        return self.listing(query, page_size)["incidents"]

    def incidents_between(self, since, until=None, statuses=None, urgencies=None, service_ids=None,
                          page_size=PAGE_SIZE_MAX):
        """The incidents created from ``since`` until ``until`` (now when None), oldest first.

        ``since`` and ``until`` are ISO 8601 texts with an offset, or aware datetimes. A window PagerDuty
        would refuse raises ValueError before any request. Returns the ``listing``, with the window
        as it was asked for, in UTC.
        """
        since, until = read_window(since, until)
        unknown = sorted(set(statuses or ()) - set(INCIDENT_STATUSES)) + sorted(set(urgencies or ()) - set(URGENCIES))
        if unknown:
            raise ValueError(f"Unknown statuses or urgencies: {', '.join(unknown)}. Statuses are "
                             f"{', '.join(INCIDENT_STATUSES)}; urgencies are {', '.join(URGENCIES)}.")
        # Times come back in UTC whatever the account's zone, and the oldest first keeps the pages in a stable order.
        query = {"since": iso_utc(since), "until": iso_utc(until), "time_zone": "UTC", "sort_by": "created_at:asc"}
        if statuses:
            query["statuses[]"] = list(statuses)
        if urgencies:
            query["urgencies[]"] = list(urgencies)
        if service_ids:
            query["service_ids[]"] = list(service_ids)
        return {**self.listing(query, page_size), "since": query["since"], "until": query["until"]}

    def listing(self, query, page_size=PAGE_SIZE_MAX):
        """``{"incidents": [...], "truncated": bool}`` for a ``GET /incidents`` query, page after page.

        PagerDuty refuses a page whose offset and limit pass 10000, so the listing stops there and says
        ``truncated`` when PagerDuty still had more.
        """
        limit = max(1, min(page_size, PAGE_SIZE_MAX))
        query = {**query, "limit": limit, "offset": 0}
        found = []
        while True:
            response = self.http.request("GET", "/incidents", query=query)
            page = response.body if isinstance(response.body, dict) else None
            if page is None or not isinstance(page.get("incidents"), list):
                raise APIError(REST_SERVICE, "GET", "/incidents", response.status, "the answer has no incidents list",
                               hint="The API URL may not point at PagerDuty's REST API.", origin=self.http.base_url)
            found.extend(page["incidents"])
            # An empty page that claims more would loop for ever.
            if not page.get("more") or not page["incidents"]:
                return {"incidents": found, "truncated": False}
            if query["offset"] + 2 * limit > PAGING_END:
                return {"incidents": found, "truncated": True}
            query["offset"] += limit
