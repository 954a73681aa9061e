"""Fake of PagerDuty's Events API v2 and of the REST API's incident listing.

One origin serves both, as the product's ``PAGERDUTY_EVENTS_URL`` and
``PAGERDUTY_API_URL`` may point at the same place in the sandbox:
``POST /v2/enqueue`` and ``POST /v2/change/enqueue`` (api-contracts.md
section 3a, specs/pagerduty-events-v2.openapi.json) and ``GET /incidents``
(section 3b).

Events carry their routing key in the body, so the request log shows
``routing_key`` as ``<redacted>``; the state names the integration and the
service instead of the key. The state keeps:

* ``alerts``: one per trigger that opened one, with its ``dedup_key``,
  ``status`` and the ``incident`` it belongs to;
* ``incidents``: one per alert (no grouping), numbered from 1;
* ``events``: every accepted event with its ``outcome``: ``created``,
  ``deduplicated`` (a trigger that joined an open alert), ``acknowledged``,
  ``resolved``, or ``dropped`` (acknowledge/resolve with no open alert, which
  PagerDuty answers 202 all the same; U);
* ``change_events``: every accepted change event.

Choices where the real service is unconfirmed (U): an unknown 32-character
routing key is refused with 400; a request over 512 KB is refused with 400;
the REST rate limit (state ``rest_rate_limit``, 960 a minute) counts requests
of all tokens together in fixed windows; ``user_ids[]`` matches nothing, as
no incident here is assigned to anyone; ``time_zone`` and ``include[]`` are
accepted and ignored. An incident of the state may name its ``priority``
(for example ``"P1"``); the listing renders it as a priority object with that
name, and null when it names none.
"""
import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone

from ._base import FakeServer, RateWindow, Response

EVENTS_BASE = "/v2"  # the Events spec's server URL ends in /v2; its paths start after it
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
URGENCIES = ("high", "low")
SORT_FIELDS = ("incident_number", "created_at", "resolved_at", "urgency")
ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY, MAX_SUMMARY, MAX_REQUEST = 255, 1024, 512 * 1024
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET_PLUS_LIMIT = 25, 100, 10000
DEFAULT_RANGE, MAX_RANGE = timedelta(days=30), timedelta(days=183)
ROUTING_KEY_IN_TEXT = re.compile(r'("routing_key"\s*:\s*)"[^"]*"')


def event_error(errors, status="invalid event", message="Event object is invalid"):
    return Response(400, {"status": status, "message": message, "errors": errors})


def unrecognized(reason):
    return event_error([reason], "Unrecognized object", "Event object format is unrecognized")


def rest_error(status, message, code, errors=None):
    error = {"message": message, "code": code}
    if errors:
        error["errors"] = errors
    return Response(status, {"error": error})


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value):
    """An aware datetime from ISO 8601 text (UTC when it has no offset), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def pd_id(prefix, text):
    """A PagerDuty-looking id (capitals and digits), derived from ``text`` so that reruns match."""
    number = int(hashlib.sha1(text.encode()).hexdigest(), 16)
    digits = []
    for _position in range(13):
        number, digit = divmod(number, 36)
        digits.append("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit])
    return prefix + "".join(digits)


def check_links_and_images(event, errors):
    links, images = event.get("links", []), event.get("images", [])
    if not isinstance(links, list) or not all(isinstance(link, dict) and isinstance(link.get("href"), str)
                                              for link in links):
        errors.append("'links' must be a list of objects, each with an 'href' string")
    if not isinstance(images, list) or not all(isinstance(image, dict) and isinstance(image.get("src"), str)
                                               for image in images):
        errors.append("'images' must be a list of objects, each with a 'src' string")
    elif not all(image["src"].startswith("https://") for image in images):
        errors.append("'images[].src' must be an https:// URL")


def check_payload(payload, errors, change=False):
    """Collect what is wrong with an event's payload (trigger) or a change event's payload."""
    if not isinstance(payload, dict) or not payload:
        errors.append("'payload' is missing or blank")
        return
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"Length of 'payload.summary' is too long (maximum is {MAX_SUMMARY} characters)")
    source = payload.get("source")
    if not change and (not isinstance(source, str) or not source.strip()):
        errors.append("'payload.source' is missing or blank")
    elif change and source is not None and not isinstance(source, str):
        errors.append("'payload.source' must be a string")
    if not change and payload.get("severity") not in SEVERITIES:
        errors.append(f"'payload.severity' is invalid (must be one of: {', '.join(SEVERITIES)})")
    if "timestamp" in payload and parse_time(payload["timestamp"]) is None:
        errors.append("'payload.timestamp' is not a valid ISO 8601 date-time")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")


class PagerDutyServer(FakeServer):
    ROUTES = [
        ("POST", EVENTS_BASE + "/enqueue", "enqueue"),
        ("POST", EVENTS_BASE + "/change/enqueue", "change_enqueue"),
        ("GET", "/incidents", "list_incidents"),
    ]

    def __init__(self, seed, port=0, ssl_context=None):
        super().__init__(seed, port, ssl_context)
        self._rest_window = None

    # ----- base-class hooks ----------------------------------------------------
    @staticmethod
    def _is_rest(request):
        return not request.path.startswith(EVENTS_BASE + "/")

    def _window(self):
        """The REST API's rate window, made anew whenever the state's ``rest_rate_limit`` changes."""
        setting = self._state.get("rest_rate_limit") or {"requests": 960, "window": 60}
        limit, seconds = setting["requests"], setting.get("window", 60)
        if self._rest_window is None or (self._rest_window.limit, self._rest_window.window) != (limit, seconds):
            self._rest_window = RateWindow(limit, seconds)
        return self._rest_window

    def reset(self):
        super().reset()
        with self.lock:
            self._rest_window = None

    def common_headers(self, request):
        if not self._is_rest(request):
            return {}
        with self.lock:
            window = self._window()
            return {"ratelimit-limit": window.limit, "ratelimit-remaining": window.remaining(),
                    "ratelimit-reset": window.reset_in()}

    def fault_response(self, fault, request):
        status, headers = fault["status"], {}
        if self._is_rest(request) and status == 429:
            default = {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
            headers["ratelimit-remaining"] = 0
        elif self._is_rest(request):
            default = {"error": {"message": f"Injected {status}", "code": 2000 if status >= 500 else 2001}}
        elif status == 429:
            default = ""  # the Events API's 429 body is empty or plain text (api-contracts.md 3a)
        else:
            default = {"status": "error", "message": f"Injected {status}", "errors": []}
        return Response(status, fault.get("body", default), {**headers, **fault.get("headers", {})})

    def redact(self, entry):
        for name in ("query", "query_lists"):
            if "routing_key" in entry[name]:
                entry[name]["routing_key"] = "<redacted>"
        if isinstance(entry["body"], dict) and "routing_key" in entry["body"]:
            entry["body"]["routing_key"] = "<redacted>"
        elif isinstance(entry["body"], str):
            entry["body"] = ROUTING_KEY_IN_TEXT.sub(r'\1"<redacted>"', entry["body"])
        return entry

    def handle_request(self, request):
        route = next((r for r in self.ROUTES if r[1] == request.path), None)
        if route is None:
            if self._is_rest(request):
                return rest_error(404, "Not Found", 2100)
            return Response(404, {"status": "Not found", "message": "Not found", "errors": []})
        if route[0] != request.method:
            if self._is_rest(request):
                return rest_error(405, "Method Not Allowed", 2001)
            return Response(405, {"status": "Method not allowed", "message": "Use POST", "errors": []})
        return getattr(self, route[2])(request)

    # ----- lookups (state is read under self.lock) ------------------------------
    def _integration(self, routing_key):
        return next((i for i in self._state.get("integrations", []) if i["routing_key"] == routing_key), None)

    def _service(self, service_id):
        return next((s for s in self._state.get("services", []) if s["id"] == service_id), None)

    def _next(self, counter):
        self._state[counter] = self._state.get(counter, 0) + 1
        return self._state[counter]

    @staticmethod
    def _read_event(request):
        """The event dict, or a 400 Response: empty, unparseable or oversized bodies are refused."""
        if not request.body:
            return unrecognized("The request body is empty")
        if len(request.body) > MAX_REQUEST:
            return event_error([f"The request is larger than {MAX_REQUEST // 1024} KB"])
        try:
            event = request.json()
        except ValueError:
            return unrecognized("JSON parse error")
        return event if isinstance(event, dict) else unrecognized("The event is not a JSON object")

    def _check_routing_key(self, routing_key, errors):
        if not isinstance(routing_key, str) or not routing_key:
            errors.append("'routing_key' is missing or blank")
        elif len(routing_key) != ROUTING_KEY_LENGTH:
            errors.append(f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)")
        elif self._integration(routing_key) is None:
            errors.append("Invalid routing key")

    # ----- Events API v2 ----------------------------------------------------------
    def enqueue(self, request):
        event = self._read_event(request)
        if isinstance(event, Response):
            return event
        errors = []
        self._check_routing_key(event.get("routing_key"), errors)
        action = event.get("event_action")
        if action in (None, ""):
            errors.append("'event_action' is missing or blank")
        elif action not in EVENT_ACTIONS:
            errors.append(f"'event_action' is invalid (must be one of: {', '.join(EVENT_ACTIONS)})")
        dedup_key = event.get("dedup_key")
        if dedup_key is not None and not isinstance(dedup_key, str):
            errors.append("'dedup_key' must be a string")
        elif dedup_key and len(dedup_key) > MAX_DEDUP_KEY:
            errors.append(f"Length of 'dedup_key' is too long (maximum is {MAX_DEDUP_KEY} characters)")
        elif not dedup_key and action in ("acknowledge", "resolve"):
            errors.append("'dedup_key' is missing or blank")
        if action == "trigger":
            check_payload(event.get("payload"), errors)
        for name in ("client", "client_url"):
            if name in event and not isinstance(event[name], str):
                errors.append(f"'{name}' must be a string")
        check_links_and_images(event, errors)
        if errors:
            return event_error(errors)

        dedup_key = dedup_key or uuid.uuid4().hex  # a trigger without one always opens a new alert
        integration = self._integration(event["routing_key"])
        outcome, alert = self._apply_event(action, dedup_key, integration, event)
        self._state.setdefault("events", []).append({
            "number": self._next("event_count"), "received_at": iso(datetime.now(timezone.utc)),
            "event_action": action, "dedup_key": dedup_key, "integration": integration["id"],
            "service": integration["service"], "outcome": outcome, "alert": alert and alert["id"],
            **{name: event[name] for name in ("payload", "client", "client_url", "links", "images")
               if name in event}})
        return Response(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})

    def _open_alert(self, integration, dedup_key):
        return next((a for a in self._state.get("alerts", []) if a["integration"] == integration["id"]
                     and a["dedup_key"] == dedup_key and a["status"] != "resolved"), None)

    def _apply_event(self, action, dedup_key, integration, event):
        """Change the alert the event is for; returns (outcome, alert or None)."""
        now = iso(datetime.now(timezone.utc))
        alert = self._open_alert(integration, dedup_key)
        if action == "trigger" and alert is None:
            return "created", self._open_new_alert(dedup_key, integration, event, now)
        if alert is None:
            return "dropped", None
        incident = next(i for i in self._state["incidents"] if i["id"] == alert["incident"])
        alert["updated_at"] = incident["updated_at"] = now
        if action == "trigger":
            alert["event_count"] += 1
            return "deduplicated", alert
        new_status = "acknowledged" if action == "acknowledge" else "resolved"
        if alert["status"] != new_status:
            alert["status"] = incident["status"] = new_status
            incident["last_status_change_at"] = now
        if new_status == "resolved":
            alert["resolved_at"] = incident["resolved_at"] = now
        return new_status, alert

    def _open_new_alert(self, dedup_key, integration, event, now):
        number = self._next("incident_count")
        payload = event["payload"]
        incident = {"id": pd_id("Q", f"incident:{number}"), "incident_number": number,
                    "title": payload["summary"], "status": "triggered",
                    "urgency": "high" if payload["severity"] in ("critical", "error") else "low",
                    "service": integration["service"], "incident_key": dedup_key, "created_at": now,
                    "updated_at": now, "last_status_change_at": now, "resolved_at": None}
        alert = {"id": pd_id("A", f"alert:{number}"), "incident": incident["id"], "dedup_key": dedup_key,
                 "integration": integration["id"], "service": integration["service"], "status": "triggered",
                 "severity": payload["severity"], "summary": payload["summary"], "source": payload["source"],
                 "payload": payload, "event_count": 1, "created_at": now, "updated_at": now, "resolved_at": None}
        self._state.setdefault("incidents", []).append(incident)
        self._state.setdefault("alerts", []).append(alert)
        return alert

    def change_enqueue(self, request):
        event = self._read_event(request)
        if isinstance(event, Response):
            return event
        errors = []
        routing_key = event.get("routing_key")
        self._check_routing_key(routing_key, errors)
        if isinstance(routing_key, str) and routing_key.startswith("R"):
            errors.append("Change events cannot be sent to a ruleset routing key")
        check_payload(event.get("payload"), errors, change=True)
        check_links_and_images(event, errors)
        if errors:
            return event_error(errors)
        integration = self._integration(routing_key)
        payload = event["payload"]
        self._state.setdefault("change_events", []).append({
            "number": self._next("change_event_count"), "received_at": iso(datetime.now(timezone.utc)),
            "integration": integration["id"], "service": integration["service"],
            "summary": payload["summary"], "source": payload.get("source"),
            "timestamp": payload.get("timestamp"), "custom_details": payload.get("custom_details"),
            "links": event.get("links", []), "images": event.get("images", [])})
        # Change events are never deduplicated, so there is no dedup_key to give back.
        return Response(202, {"status": "success", "message": "Change event processed"})

    # ----- REST API: GET /incidents ---------------------------------------------------
    def _authenticate(self, request):
        header = request.headers.get("Authorization") or ""
        match = re.fullmatch(r"Token token=(\S+)", header.strip())
        if not match or match.group(1) not in self._state.get("api_tokens", {}):
            return rest_error(401, "Authentication failed", 2006)
        return None

    def list_incidents(self, request):
        refused = self._authenticate(request)
        if refused:
            return refused
        if not self._window().take():
            return rest_error(429, "Rate Limit Exceeded", 2020)
        query = self._incident_query(request)
        if isinstance(query, Response):
            return query
        chosen = [i for i in self._state.get("incidents", []) if self._incident_matches(i, query)]
        for field, descending in reversed(query["sort"]):  # stable sorts: the first key sorts last
            chosen.sort(key=lambda i, f=field: (i.get(f) is None, i.get(f) or ""), reverse=descending)
        page = chosen[query["offset"]:query["offset"] + query["limit"]]
        return Response(200, {"incidents": [self._render_incident(i) for i in page], "limit": query["limit"],
                              "offset": query["offset"], "more": query["offset"] + len(page) < len(chosen),
                              "total": len(chosen) if query["total"] else None})

    def _incident_query(self, request):
        """The checked filters of a listing, or a 400 Response in PagerDuty's error shape."""
        invalid = []
        statuses, urgencies = request.values("statuses[]"), request.values("urgencies[]")
        if not set(statuses) <= set(INCIDENT_STATUSES):
            invalid.append(f"Statuses must be one of {', '.join(INCIDENT_STATUSES)}")
        if not set(urgencies) <= set(URGENCIES):
            invalid.append(f"Urgencies must be one of {', '.join(URGENCIES)}")
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            return rest_error(400, "Invalid Input Provided", 2001, ["limit and offset must be integers"])
        if limit < 1 or offset < 0:
            invalid.append("limit must be positive and offset not negative")
        limit = min(limit, MAX_LIMIT)
        if offset + limit > MAX_OFFSET_PLUS_LIMIT:
            invalid.append(f"Offset plus limit must not exceed {MAX_OFFSET_PLUS_LIMIT}")
        sort = self._sort_order(request.query.get("sort_by", "incident_number:asc"), invalid)
        if request.query.get("date_range") not in (None, "all"):
            invalid.append("date_range must be 'all'")
        if invalid:
            return rest_error(400, "Invalid Input Provided", 2001, invalid)
        window = self._date_window(request)
        if isinstance(window, Response):
            return window
        return {"statuses": statuses, "urgencies": urgencies, "service_ids": request.values("service_ids[]"),
                "team_ids": request.values("team_ids[]"), "user_ids": request.values("user_ids[]"),
                "incident_key": request.query.get("incident_key"), "window": window, "sort": sort,
                "limit": limit, "offset": offset, "total": request.query.get("total") == "true"}

    @staticmethod
    def _sort_order(sort_by, invalid):
        order = []
        for item in [s for s in sort_by.split(",") if s][:2]:
            field, _colon, direction = item.partition(":")
            if field not in SORT_FIELDS or direction not in ("", "asc", "desc"):
                invalid.append(f"sort_by must name one or two of {', '.join(SORT_FIELDS)} with :asc or :desc")
            order.append((field, direction == "desc"))
        return order

    @staticmethod
    def _date_window(request):
        """(since, until) as datetimes (None: unbounded), or a 400 with code 2004."""
        if request.query.get("date_range") == "all":
            return None, None
        since, until = request.query.get("since"), request.query.get("until")
        parsed = {name: parse_time(value) for name, value in (("since", since), ("until", until)) if value}
        if any(value is None for value in parsed.values()):
            return rest_error(400, "Invalid Input Provided", 2004, ["since and until must be ISO 8601 times"])
        until_at = parsed.get("until")
        since_at = parsed.get("since") or (until_at or datetime.now(timezone.utc)) - DEFAULT_RANGE
        if until_at and (until_at < since_at or until_at - since_at > MAX_RANGE):
            return rest_error(400, "Invalid Input Provided", 2004,
                              ["until must follow since, by at most 6 months"])
        return since_at, until_at

    def _incident_matches(self, incident, query):
        since, until = query["window"]
        created = parse_time(incident["created_at"])
        service = self._service(incident["service"]) or {}
        return ((not query["statuses"] or incident["status"] in query["statuses"])
                and (not query["urgencies"] or incident["urgency"] in query["urgencies"])
                and (not query["service_ids"] or incident["service"] in query["service_ids"])
                and (not query["team_ids"] or bool(set(service.get("teams", [])) & set(query["team_ids"])))
                and not query["user_ids"]  # nothing here is ever assigned to anyone
                and (query["incident_key"] is None or incident["incident_key"] == query["incident_key"])
                and (since is None or created >= since) and (until is None or created < until))

    def _reference(self, kind, collection, object_id, summary):
        # ``self`` points back at this fake, so a client that follows it never reaches the real API.
        return {"id": object_id, "type": f"{kind}_reference", "summary": summary,
                "self": f"{self.url}/{collection}/{object_id}",
                "html_url": f"https://{self._state.get('subdomain', 'sandbox')}.pagerduty.com/{collection}/{object_id}"}

    def _priority(self, name):
        if not name:
            return None
        reference = self._reference("priority", "priorities", pd_id("P", f"priority:{name}"), name)
        return {**reference, "type": "priority", "name": name}

    def _render_incident(self, incident):
        service = self._service(incident["service"]) or {"id": incident["service"], "name": incident["service"]}
        alerts = [a for a in self._state.get("alerts", []) if a["incident"] == incident["id"]]
        policy = service.get("escalation_policy") or {"id": "PSBXEP1", "name": "Default"}
        own = self._reference("incident", "incidents", incident["id"],
                              f"[#{incident['incident_number']}] {incident['title']}")
        return {"id": incident["id"], "type": "incident", "summary": own["summary"], "self": own["self"],
                "html_url": own["html_url"], "incident_number": incident["incident_number"],
                "title": incident["title"], "description": incident["title"], "status": incident["status"],
                "urgency": incident["urgency"], "incident_key": incident["incident_key"],
                "created_at": incident["created_at"], "updated_at": incident["updated_at"],
                "last_status_change_at": incident["last_status_change_at"],
                "resolved_at": incident["resolved_at"],
                "service": self._reference("service", "services", service["id"], service["name"]),
                "assignments": [], "acknowledgements": [], "last_status_change_by": None,
                "escalation_policy": self._reference("escalation_policy", "escalation_policies", policy["id"],
                                                     policy["name"]),
                "teams": [self._reference("team", "teams", team, team) for team in service.get("teams", [])],
                "priority": self._priority(incident.get("priority")), "incident_type": {"name": "incident_default"},
                "alert_counts": {"all": len(alerts),
                                 "triggered": sum(a["status"] != "resolved" for a in alerts),
                                 "resolved": sum(a["status"] == "resolved" for a in alerts)}}

    # ----- in-process helpers for tests ------------------------------------------------
    def events(self, outcome=None):
        """Copies of the accepted events, optionally only those with this outcome."""
        with self.lock:
            return [dict(e) for e in self._state.get("events", []) if outcome in (None, e["outcome"])]
