"""Fake of the parts of the Atlassian Statuspage REST API v1 the collection uses.

Follows /work/shared/api-contracts.md section 2 and specs/statuspage-v1.openapi.yaml:
paths under ``/v1/pages/{page_id}`` with or without a ``.json`` suffix, ``OAuth``
auth (or ``?api_key=``), JSON or Rails-style form bodies, 201 on create, the
spec's ``{"message": ...}`` error bodies, newest incidents first.

Where the real service is unconfirmed (U) the fake chooses, and says so here:

* An incident with ``scheduled_for`` is a scheduled maintenance, for good: its
  kind is fixed at creation, and each kind takes only its own statuses.
* ``impact`` is ``impact_override`` when set, ``maintenance`` for a
  maintenance, else derived from the worst status of the incident's
  components (major_outage: critical, partial_outage: major,
  degraded_performance: minor), and it never goes down while the incident
  lives, so a resolved incident keeps the impact it had.
* PATCH/PUT ``metadata`` replaces the whole metadata object (no deep merge).
* ``q`` searches, case-insensitively, the name, the status, the postmortem
  body and the update bodies, as the spec's text says.
* ``unresolved`` lists realtime incidents that are not resolved;
  ``scheduled`` every maintenance; ``upcoming`` those still ``scheduled``;
  ``active_maintenance`` those ``in_progress`` or ``verifying``.
* Times are ISO 8601 in the page's ``time_zone`` (with its offset); a time
  sent without an offset is read in that zone too.
* Rate limiting is off unless the state has ``rate_limit`` (``requests``,
  ``window`` seconds, ``status`` 420 or 429, optional ``retry_after``); it
  counts authenticated requests of all keys together in fixed windows.
"""
import copy
import hashlib
import re
from datetime import date, datetime
from urllib.parse import parse_qsl, unquote
from zoneinfo import ZoneInfo

from ._base import FakeServer, RateWindow, Response

API_PREFIX = "/v1"
REALTIME_STATUSES = ("investigating", "identified", "monitoring", "resolved")
SCHEDULED_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
IMPACTS = ("none", "maintenance", "minor", "major", "critical")  # in rising order
# "" is in the spec's enum too: the fake reads it as "leave the component as it is".
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
IMPACT_OF_COMPONENT = {"major_outage": "critical", "partial_outage": "major", "degraded_performance": "minor"}
MAX_NAME, MAX_BODY, MAX_PAGE_SIZE = 255, 25000, 100
INCIDENT_FLAGS = ("scheduled_remind_prior", "scheduled_auto_in_progress", "scheduled_auto_completed",
                  "auto_transition_to_maintenance_state", "auto_transition_to_operational_state",
                  "auto_transition_deliver_notifications_at_start",
                  "auto_transition_deliver_notifications_at_end")
ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
RATE_LIMITED = "Rate limit exceeded. Please retry after the time the Retry-After header gives."


class Unprocessable(ValueError):
    """A body the API reads but refuses: answered 422 with this message."""


def statuspage_error(status, message):
    return Response(status, {"message": message})


def parse_form(text):
    """Rails-style nested form fields: ``incident[components][id]=x``, ``incident[component_ids][]=a``."""
    result = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=True):
        match = FORM_KEY.match(key)
        if not match:
            raise ValueError(f"bad form field name {key!r}")
        names = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = result
        for name, following in zip(names, names[1:] + [None]):
            if name == "" and following is not None:
                raise ValueError(f"arrays of objects are not supported: {key!r}")
            if following is None:
                if name == "":
                    node.append(value)
                else:
                    node[name] = value
                break
            child = node.setdefault(name, [] if following == "" else {})
            if not isinstance(child, list if following == "" else dict):
                raise ValueError(f"form field {key!r} mixes a list and an object")
            node = child
    return result


def parse_body(request):
    """The body as a dict, from JSON or a form; a 400 Response when it cannot be read as labelled."""
    if not request.body:
        return {}
    try:
        if request.content_type == "application/json":
            body = request.json()
        elif request.content_type == "application/x-www-form-urlencoded":
            body = parse_form(request.body.decode("utf-8"))
        else:
            return statuspage_error(400, "Content-Type must be application/json or "
                                         "application/x-www-form-urlencoded")
    except ValueError:
        return statuspage_error(400, f"The body could not be parsed as {request.content_type}")
    if not isinstance(body, dict):
        return statuspage_error(400, "The body must be an object")
    return body


def wrapped(body, name):
    """The object under ``name`` (``{"incident": {...}}``), or a 400 as Rails' ``params.require`` gives."""
    value = body.get(name)
    if not isinstance(value, dict) or not value:
        return statuspage_error(400, f"param is missing or the value is empty: {name}")
    return value


def text(value, name, limit=None):
    if not isinstance(value, str):
        raise Unprocessable(f"{name} must be a string")
    if limit and len(value) > limit:
        raise Unprocessable(f"{name} is too long (maximum is {limit} characters)")
    return value


def flag(value, name):
    if isinstance(value, bool):
        return value
    if value in ("true", "1"):  # form bodies carry text
        return True
    if value in ("false", "0"):
        return False
    raise Unprocessable(f"{name} must be true or false")


def moment(value, name, zone):
    """An aware datetime from ISO 8601 text (read in the page's zone when it has no offset); None clears."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(text(value, name))
    except ValueError:
        raise Unprocessable(f"{name} is not a valid ISO 8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def component_status(value, name):
    if value != "" and value not in COMPONENT_STATUSES:
        raise Unprocessable(f"{name} must be one of: {', '.join(COMPONENT_STATUSES)}")
    return value


def new_id(text_):
    """12 lowercase alphanumerics, derived from ``text_`` so that reruns give the same ids."""
    number = int(hashlib.sha1(text_.encode()).hexdigest(), 16)
    digits = []
    for _position in range(12):
        number, digit = divmod(number, len(ID_ALPHABET))
        digits.append(ID_ALPHABET[digit])
    return "".join(digits)


def check_rate_limit(config):
    """Return a normalised copy of a ``rate_limit`` setting (None turns it off), or raise ValueError."""
    if config is None:
        return None
    if not isinstance(config, dict) or not isinstance(config.get("requests"), int) or config["requests"] < 1:
        raise ValueError(f"rate_limit needs a positive integer 'requests': {config!r}")
    checked = {"requests": config["requests"], "window": float(config.get("window", 60)),
               "status": int(config.get("status", 420))}
    if checked["status"] not in (420, 429) or checked["window"] <= 0:
        raise ValueError(f"rate_limit status must be 420 or 429 and window positive: {config!r}")
    if config.get("retry_after") is not None:
        checked["retry_after"] = int(config["retry_after"])
    return checked


class StatuspageServer(FakeServer):
    ROUTES = [
        ("GET", "/pages/{page_id}/incidents", "list_incidents"),
        ("POST", "/pages/{page_id}/incidents", "create_incident"),
        ("GET", "/pages/{page_id}/incidents/unresolved", "list_unresolved"),
        ("GET", "/pages/{page_id}/incidents/scheduled", "list_scheduled"),
        ("GET", "/pages/{page_id}/incidents/upcoming", "list_upcoming"),
        ("GET", "/pages/{page_id}/incidents/active_maintenance", "list_active_maintenance"),
        ("GET", "/pages/{page_id}/incidents/{incident_id}", "get_incident"),
        ("PATCH", "/pages/{page_id}/incidents/{incident_id}", "update_incident"),
        ("PUT", "/pages/{page_id}/incidents/{incident_id}", "update_incident"),
        ("DELETE", "/pages/{page_id}/incidents/{incident_id}", "delete_incident"),
        ("GET", "/pages/{page_id}/components", "list_components"),
        ("GET", "/pages/{page_id}/components/{component_id}", "get_component"),
        ("PATCH", "/pages/{page_id}/components/{component_id}", "update_component"),
        ("PUT", "/pages/{page_id}/components/{component_id}", "update_component"),
    ]
    PATTERNS = [(method, re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)), name)
                for method, template, name in ROUTES]

    def __init__(self, seed, port=0, ssl_context=None):
        super().__init__(seed, port, ssl_context)
        self._rate = None  # (setting, RateWindow) while a rate limit is on

    # ----- control -----------------------------------------------------------
    def set_rate_limit(self, config):
        """Turn rate limiting on (``{"requests", "window", "status", "retry_after"}``) or off (None)."""
        checked = check_rate_limit(config)
        with self.lock:
            self._state["rate_limit"] = checked
            self._rate = None

    def reset(self):
        super().reset()
        with self.lock:
            self._rate = None

    def control_routes(self):
        routes = super().control_routes()
        routes[("POST", "/_fake/rate_limit")] = lambda r: self.set_rate_limit(r.json()["rate_limit"]) or {
            "rate_limit": self.state().get("rate_limit")}
        return routes

    # ----- base-class hooks ----------------------------------------------------
    def default_fault_body(self, status):
        if status in (420, 429):
            return {"message": RATE_LIMITED}
        return {"message": f"Injected {status}"} if status >= 400 else ""

    def default_fault_headers(self, status):
        return {"Retry-After": 1} if status in (420, 429) else {}

    def redact(self, entry):
        for query in (entry["query"], entry["query_lists"]):
            if "api_key" in query:
                query["api_key"] = "<redacted>"
        return entry

    def handle_request(self, request):
        path = request.path.removesuffix(".json")
        if not path.startswith(API_PREFIX + "/"):
            return statuspage_error(404, "The requested resource could not be found.")
        handler, params = self._route(request.method, path.removeprefix(API_PREFIX))
        if isinstance(handler, Response):
            return handler
        identity = self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        throttled = self._throttle()
        if throttled:
            return throttled
        page = self._page(params.pop("page_id"), identity)
        if page is None:
            return statuspage_error(404, "The requested resource could not be found.")
        try:
            return handler(request, page, **params)
        except Unprocessable as exc:
            return statuspage_error(422, str(exc))

    # ----- routing, auth, throttling ---------------------------------------------
    def _route(self, method, path):
        path_known = False
        for route_method, pattern, name in self.PATTERNS:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return getattr(self, name), {k: unquote(v) for k, v in match.groupdict().items()}
            path_known = path_known or bool(match)
        if path_known:
            return statuspage_error(405, f"Method {method} is not allowed here"), None
        return statuspage_error(404, "The requested resource could not be found."), None

    def _authenticate(self, request):
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _space, key = header.partition(" ")
            key = key.strip() if scheme.lower() == "oauth" else None
        else:
            key = request.query.get("api_key")
        identity = self._state.get("api_keys", {}).get(key) if key else None
        if identity is None:
            return statuspage_error(401, "Could not authenticate")
        return identity

    def _throttle(self):
        config = self._state.get("rate_limit")
        if not config:
            return None
        if self._rate is None or self._rate[0] != config:
            self._rate = (config, RateWindow(config["requests"], config.get("window", 60)))
        window = self._rate[1]
        if window.take():
            return None
        retry_after = config.get("retry_after", window.reset_in())
        return Response(config.get("status", 420), {"message": RATE_LIMITED}, {"Retry-After": retry_after})

    # ----- lookups and helpers (state is read under self.lock) ---------------------
    def _page(self, page_id, identity):
        if page_id not in identity.get("pages", []):
            return None
        return next((p for p in self._state.get("pages", []) if p["id"] == page_id), None)

    @staticmethod
    def _zone(page):
        return ZoneInfo(page.get("time_zone", "Etc/UTC"))

    def _now(self, page):
        return datetime.now(self._zone(page)).isoformat(timespec="milliseconds")

    def _iso(self, page, moment_):
        return moment_.astimezone(self._zone(page)).isoformat(timespec="milliseconds")

    def _next_id(self, kind):
        self._state["sequence"] = self._state.get("sequence", 0) + 1
        return new_id(f"{kind}:{self._state['sequence']}")

    @staticmethod
    def _component(page, component_id):
        return next((c for c in page.get("components", []) if c["id"] == component_id), None)

    @staticmethod
    def _incident(page, incident_id):
        return next((i for i in page.get("incidents", []) if i["id"] == incident_id), None)

    @staticmethod
    def _paging(request, size_name):
        """(page number, page size) from the query, or a 400; sizes above 100 are cut to 100."""
        try:
            number = int(request.query.get("page", 1))
            size = int(request.query.get(size_name, MAX_PAGE_SIZE))
        except ValueError:
            return statuspage_error(400, f"page and {size_name} must be integers"), None
        if number < 1 or size < 1:
            return statuspage_error(400, f"page and {size_name} must be at least 1"), None
        return number, min(size, MAX_PAGE_SIZE)

    def _render(self, page, incident):
        """The API's view of a stored incident: its components as they are now, all of it a copy."""
        body = copy.deepcopy({k: v for k, v in incident.items() if k != "component_ids"})
        body["components"] = [dict(self._component(page, cid)) for cid in incident["component_ids"]
                              if self._component(page, cid)]
        return body

    @staticmethod
    def _newest_first(incidents):
        numbered = list(enumerate(incidents))
        numbered.sort(key=lambda pair: (datetime.fromisoformat(pair[1]["created_at"]), pair[0]), reverse=True)
        return [incident for _position, incident in numbered]

    def _listing(self, request, page, keep, size_name="per_page"):
        number, size = self._paging(request, size_name)
        if isinstance(number, Response):
            return number
        chosen = [i for i in self._newest_first(page.get("incidents", [])) if keep(i)]
        return Response(200, [self._render(page, i) for i in chosen[(number - 1) * size:number * size]])

    # ----- checking a request's incident fields ---------------------------------------
    def _incident_fields(self, raw, page):
        """The incident fields of a create or update, checked and normalised; raises Unprocessable."""
        zone = self._zone(page)
        fields = {}
        if "name" in raw:
            fields["name"] = text(raw["name"], "name", MAX_NAME)
        if "status" in raw:
            status = text(raw["status"], "status")
            if status not in REALTIME_STATUSES + SCHEDULED_STATUSES:
                raise Unprocessable(f"status {status!r} is not a valid status")
            fields["status"] = status
        if raw.get("impact_override") not in (None, ""):
            if raw["impact_override"] not in IMPACTS:
                raise Unprocessable(f"impact_override must be one of: {', '.join(IMPACTS)}")
            fields["impact_override"] = raw["impact_override"]
        elif "impact_override" in raw:
            fields["impact_override"] = None
        if "body" in raw:
            fields["body"] = text(raw["body"], "body", MAX_BODY)
        for name in ("scheduled_for", "scheduled_until"):
            if name in raw:
                fields[name] = moment(raw[name], name, zone)
        for name in INCIDENT_FLAGS + ("deliver_notifications", "backfilled"):
            if name in raw:
                fields[name] = flag(raw[name], name)
        if "scheduled_auto_transition" in raw:  # the older name of scheduled_auto_in_progress
            fields.setdefault("scheduled_auto_in_progress", flag(raw["scheduled_auto_transition"],
                                                                 "scheduled_auto_transition"))
        if "metadata" in raw:
            metadata = raw["metadata"]
            if not isinstance(metadata, dict) or not all(isinstance(v, dict) for v in metadata.values()):
                raise Unprocessable("metadata must be an object whose top-level values are objects")
            fields["metadata"] = metadata
        fields.update(self._component_fields(raw, page))
        if fields.get("backfilled") and (fields.get("components") or fields.get("component_ids")):
            raise Unprocessable("components cannot be set on a backfilled incident")
        return fields

    def _component_fields(self, raw, page):
        fields = {}
        if "component_ids" in raw:
            ids = raw["component_ids"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise Unprocessable("component_ids must be a list of component ids")
            fields["component_ids"] = ids
        if "components" in raw:
            components = raw["components"]
            if not isinstance(components, dict):
                raise Unprocessable("components must be an object of component id to status")
            fields["components"] = {cid: component_status(status, f"components[{cid}]")
                                    for cid, status in components.items()}
        unknown = [cid for cid in fields.get("component_ids", []) + list(fields.get("components", {}))
                   if self._component(page, cid) is None]
        if unknown:
            raise Unprocessable(f"unknown component ids: {', '.join(sorted(set(unknown)))}")
        return fields

    @staticmethod
    def _check_status(status, maintenance):
        allowed = SCHEDULED_STATUSES if maintenance else REALTIME_STATUSES
        if status not in allowed:
            kind = "a scheduled maintenance" if maintenance else "a realtime incident"
            raise Unprocessable(f"status {status!r} is not allowed for {kind}; use one of: {', '.join(allowed)}")

    # ----- applying a change ----------------------------------------------------------
    def _apply(self, page, incident, fields, now):
        """Write checked fields into the incident and the page's components; add an update when due."""
        for name in ("name", "impact_override", "metadata") + INCIDENT_FLAGS:
            if name in fields:
                incident[name] = fields[name]
        for name in ("scheduled_for", "scheduled_until"):
            if name in fields:
                incident[name] = fields[name] and self._iso(page, fields[name])

        affected = []
        for component_id, status in fields.get("components", {}).items():
            component = self._component(page, component_id)
            old_status = component["status"]
            if status and status != old_status:
                component.update(status=status, updated_at=now)
            affected.append({"code": component_id, "name": component["name"], "old_status": old_status,
                             "new_status": status or old_status})
        ids = list(fields.get("component_ids", incident["component_ids"]))
        ids += [cid for cid in fields.get("components", {}) if cid not in ids]
        incident["component_ids"] = ids

        if "status" in fields:
            incident["status"] = fields["status"]
            if fields["status"] == "monitoring":
                incident["monitoring_at"] = now
            incident["resolved_at"] = now if fields["status"] in ("resolved", "completed") else None
        incident["impact"] = self._impact(page, incident)
        if "status" in fields or "body" in fields:
            incident["incident_updates"].insert(0, {
                "id": self._next_id("update"), "incident_id": incident["id"], "status": incident["status"],
                "body": fields.get("body", ""), "created_at": now, "updated_at": now, "display_at": now,
                "deliver_notifications": fields.get("deliver_notifications", True),
                "affected_components": affected, "custom_tweet": None, "tweet_id": None,
                "twitter_updated_at": None, "wants_twitter_update": False})
        incident["updated_at"] = now

    def _impact(self, page, incident):
        if incident.get("impact_override"):
            return incident["impact_override"]
        if incident["scheduled_for"]:
            return "maintenance"
        statuses = [self._component(page, cid)["status"] for cid in incident["component_ids"]]
        derived = [IMPACT_OF_COMPONENT.get(s, "none") for s in statuses]
        return max([incident.get("impact") or "none"] + derived, key=IMPACTS.index)

    # ----- incident endpoints ----------------------------------------------------------
    def list_incidents(self, request, page):
        words = request.query.get("q", "").lower()

        def matches(incident):
            haystack = [incident["name"], incident["status"], incident.get("postmortem_body") or ""]
            haystack += [u.get("body") or "" for u in incident["incident_updates"]]
            return words in "\n".join(haystack).lower()
        return self._listing(request, page, matches, size_name="limit")

    def list_unresolved(self, request, page):
        return self._listing(request, page, lambda i: i["status"] in REALTIME_STATUSES[:3])

    def list_scheduled(self, request, page):
        return self._listing(request, page, lambda i: bool(i["scheduled_for"]))

    def list_upcoming(self, request, page):
        return self._listing(request, page, lambda i: bool(i["scheduled_for"]) and i["status"] == "scheduled")

    def list_active_maintenance(self, request, page):
        return self._listing(request, page,
                             lambda i: bool(i["scheduled_for"]) and i["status"] in ("in_progress", "verifying"))

    def create_incident(self, request, page):
        body = parse_body(request)
        raw = body if isinstance(body, Response) else wrapped(body, "incident")
        if isinstance(raw, Response):
            return raw
        fields = self._incident_fields(raw, page)
        if not fields.get("name", "").strip():
            raise Unprocessable("name can't be blank")
        maintenance = fields.get("scheduled_for") is not None
        if fields.get("scheduled_until") and not maintenance:
            raise Unprocessable("scheduled_until needs scheduled_for")
        fields.setdefault("status", "scheduled" if maintenance else "investigating")
        self._check_status(fields["status"], maintenance)
        self._check_schedule(fields.get("scheduled_for"), fields.get("scheduled_until"))

        now = self._now(page)
        incident_id = self._next_id("incident")
        incident = {
            "id": incident_id, "page_id": page["id"], "name": fields["name"], "status": fields["status"],
            "impact": "none", "impact_override": None, "created_at": now, "updated_at": now,
            "monitoring_at": None, "resolved_at": None,
            "shortlink": f"http://stspg.io/{hashlib.sha1(incident_id.encode()).hexdigest()[:9]}",
            "scheduled_for": None, "scheduled_until": None, "scheduled_reminded_at": None,
            **{name: False for name in INCIDENT_FLAGS}, "metadata": {},
            "postmortem_body": None, "postmortem_body_last_updated_at": None, "postmortem_ignored": False,
            "postmortem_notified_subscribers": False, "postmortem_notified_twitter": False,
            "postmortem_published_at": None, "component_ids": [], "incident_updates": []}
        self._apply(page, incident, fields, now)
        page.setdefault("incidents", []).append(incident)
        return Response(201, self._render(page, incident))

    @staticmethod
    def _check_schedule(starts, ends):
        if starts and ends and ends < starts:
            raise Unprocessable("scheduled_until must be after scheduled_for")

    def get_incident(self, request, page, incident_id):
        incident = self._incident(page, incident_id)
        if incident is None:
            return statuspage_error(404, "The requested resource could not be found.")
        return Response(200, self._render(page, incident))

    def update_incident(self, request, page, incident_id):
        incident = self._incident(page, incident_id)
        if incident is None:
            return statuspage_error(404, "The requested resource could not be found.")
        body = parse_body(request)
        raw = body if isinstance(body, Response) else wrapped(body, "incident")
        if isinstance(raw, Response):
            return raw
        fields = self._incident_fields(raw, page)
        if "name" in fields and not fields["name"].strip():
            raise Unprocessable("name can't be blank")
        maintenance = bool(incident["scheduled_for"])
        if maintenance and "scheduled_for" in fields and fields["scheduled_for"] is None:
            raise Unprocessable("a scheduled maintenance keeps its scheduled_for")
        if not maintenance and (fields.get("scheduled_for") or fields.get("scheduled_until")):
            raise Unprocessable("a realtime incident cannot be scheduled")
        if "status" in fields:
            self._check_status(fields["status"], maintenance)
        if maintenance:
            starts = fields.get("scheduled_for") or datetime.fromisoformat(incident["scheduled_for"])
            ends = fields.get("scheduled_until") if "scheduled_until" in fields else (
                incident["scheduled_until"] and datetime.fromisoformat(incident["scheduled_until"]))
            self._check_schedule(starts, ends)
        self._apply(page, incident, fields, self._now(page))
        return Response(200, self._render(page, incident))

    def delete_incident(self, request, page, incident_id):
        incident = self._incident(page, incident_id)
        if incident is None:
            return statuspage_error(404, "The requested resource could not be found.")
        page["incidents"].remove(incident)
        return Response(200, self._render(page, incident))

    # ----- component endpoints ---------------------------------------------------------
    def list_components(self, request, page):
        number, size = self._paging(request, "per_page")
        if isinstance(number, Response):
            return number
        components = sorted(page.get("components", []), key=lambda c: c.get("position", 0))
        return Response(200, [dict(c) for c in components[(number - 1) * size:number * size]])

    def get_component(self, request, page, component_id):
        component = self._component(page, component_id)
        if component is None:
            return statuspage_error(404, "The requested resource could not be found.")
        return Response(200, dict(component))

    def update_component(self, request, page, component_id):
        component = self._component(page, component_id)
        if component is None:
            return statuspage_error(404, "The requested resource could not be found.")
        body = parse_body(request)
        raw = body if isinstance(body, Response) else wrapped(body, "component")
        if isinstance(raw, Response):
            return raw
        changes = {}
        if raw.get("status", "") != "":
            changes["status"] = component_status(raw["status"], "status")
        if "name" in raw:
            changes["name"] = text(raw["name"], "name", MAX_NAME)
            if not changes["name"].strip():
                raise Unprocessable("name can't be blank")
        if "description" in raw:
            changes["description"] = raw["description"] and text(raw["description"], "description")
        for name in ("only_show_if_degraded", "showcase"):
            if name in raw:
                changes[name] = flag(raw[name], name)
        if "group_id" in raw:
            changes["group_id"] = raw["group_id"] or None
        if raw.get("start_date"):
            try:
                changes["start_date"] = date.fromisoformat(text(raw["start_date"], "start_date")).isoformat()
            except ValueError:
                raise Unprocessable("start_date is not a valid date") from None
        component.update(changes, updated_at=self._now(page))
        return Response(200, dict(component))

    def component_statuses(self, page_id):
        """In-process helper for tests: ``{component name: status}`` of one page."""
        with self.lock:
            page = next(p for p in self._state.get("pages", []) if p["id"] == page_id)
            return {c["name"]: c["status"] for c in page.get("components", [])}
