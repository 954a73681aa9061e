"""Fake of the parts of the Vercel REST API the collection uses.

Follows /work/shared/api-contracts.md section 1: versioned paths, Bearer auth,
``teamId``/``slug`` scoping, ``{"error": {"code", "message"}}`` bodies, list
items keyed ``uid`` but single objects keyed ``id``, and ``until`` pagination.
The seed's ``health`` and ``error_rate`` fields on deployments belong to the
health fake and are never sent in API bodies.

Deployments created through ``POST /v13/deployments`` build over time: QUEUED,
then BUILDING, then READY, ERROR or CANCELED, with timings and outcome taken
from the first matching rule of the state's ``build_rules`` (defaults below).
Nothing runs in the background: every request, ``state()`` and ``alias_target``
first catch up with the fake's clock, which tests may freeze and move
(``freeze_clock``, ``advance_clock``, or ``POST /_fake/clock``). Deployments
from the seed carry no build plan and keep the state they were seeded with.

Seed shapes this module reads besides tokens, teams, projects, domains,
aliases and deployments:

* a project's ``link`` (``{"type": "github", "org", "repo", "repoId"}``; gitlab:
  ``projectId``; bitbucket: ``owner``, ``slug``, ``repoUuid``) and ``git``
  (``{"refs": {ref: sha}, "commits": {sha: {"message", "author"?}}}``): the
  linked repository, whose refs and commits a ``gitSource`` must name;
* a project's ``autoAssignCustomDomains`` (default true; false stages READY
  production builds until promoted) and ``promoteQueued`` (true, or seconds:
  promotions answer 202 and finish that much later);
* ``build_rules``: ``[{"sha"?: prefix, "ref"?, "queued_s", "build_s",
  "outcome", "error_message", "health", "error_rate"}]``, first match wins;
* ``envs``: ``[{"projectId", "id", "key", "value", "type", "target",
  "gitBranch"?, "createdAt", "updatedAt"}]``, ``env_page_size``, and
  ``env_list_decrypts`` (default true; false leaves the listing's values
  encrypted even with ``decrypt=true``, as public reports say it may).

Unconfirmed choices (api-contracts.md has nothing on them): the error code
``incorrect_git_source_info`` for a gitSource naming another repository, an
unknown ref or an unknown commit; that a redeploy carries over only the git
keys of the old deployment's ``meta``; the ``gitBranch`` filter of the env
listing (preview variables of that branch or of no branch); that env pages
run newest first and cut on ``createdAt``; and that no "similar" deployment is
ever reused (the fake is stricter than ``forceNew=0`` may be).
"""
import base64
import copy
import hashlib
import re
import time
from datetime import datetime, timezone
from urllib.parse import unquote

from ._base import FakeServer, Response

DEPLOYMENT_STATES = ("BLOCKED", "BUILDING", "CANCELED", "DELETED", "ERROR", "INITIALIZING", "QUEUED", "READY")
RATE_LIMIT = 100  # requests per window; the real numbers are per endpoint and unpublished
RATE_WINDOW_S = 60
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Documented codes, used when a status fault gives no body of its own.
ERROR_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 500: "internal_server_error"}

# A new deployment's build when no rule says otherwise: seconds in QUEUED, seconds in BUILDING, outcome.
BUILD_DEFAULTS = {"queued_s": 0.5, "build_s": 1.5, "outcome": "READY", "health": "ok",
                  "error_message": 'Command "npm run build" exited with 1'}
BUILD_OUTCOMES = ("READY", "ERROR", "CANCELED")
BUILD_RULE_KEYS = {"sha", "ref", "queued_s", "build_s", "outcome", "error_message", "health", "error_rate"}
HEALTH_STATES = ("ok", "fail")
FINISHED = ("READY", "ERROR", "CANCELED")
PROMOTE_QUEUE_S = 1.0  # how long a queued promotion (``promoteQueued: true``) stays pending
DEPLOY_TARGETS = (None, "production", "staging")  # None: a preview

# gitSource types, the provider whose meta keys they fill, and the properties each shape needs besides ref.
GIT_PROVIDERS = {"github": "github", "github-limited": "github", "gitlab": "gitlab", "bitbucket": "bitbucket"}
GIT_SOURCE_SHAPES = {"github": (("org", "repo"), ("repoId",)), "gitlab": (("projectId",),),
                     "bitbucket": (("repoUuid",), ("owner", "slug"))}
GIT_META_PREFIXES = ("github", "gitlab", "bitbucket")

ENV_TARGETS = ("production", "preview", "development")
ENV_PAGE_SIZE = 1000  # large: the real listing is seldom paged
ENCRYPTED_ENV_TYPES = ("encrypted", "secret")


def vercel_error(status, code, message, **extra):
    return Response(status, {"error": {"code": code, "message": message, **extra}})


def bad_request(message):
    return vercel_error(400, "bad_request", f"Invalid request: {message}")


def no_content(status):
    # No Content-Type, as the CLI's own test mock answers: the CLI parses any answer labelled
    # JSON, and an empty one fails.
    return Response(status, "", content_type="")


def rate_limited_body(reset=None, total=RATE_LIMIT):
    """The body Vercel sends with a 429; ``reset`` is in epoch seconds."""
    reset = int(reset if reset is not None else time.time() + RATE_WINDOW_S)
    return {"error": {"code": "rate_limited", "message": "Rate limit exceeded",
                      "limit": {"remaining": 0, "reset": reset, "resetMs": reset * 1000, "total": total}}}


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stable_id(prefix, text):
    """Deterministic id for objects the fake creates, so reruns look the same."""
    return prefix + hashlib.sha1(text.encode()).hexdigest()[:24]


def parse_ms(query, name):
    value = query.get(name)
    return int(value) if value not in (None, "") else None


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_build_rule(rule):
    """Return a copy of one build rule, or raise ValueError naming what is wrong with it."""
    if not isinstance(rule, dict) or set(rule) - BUILD_RULE_KEYS:
        raise ValueError(f"a build rule is an object with keys among {sorted(BUILD_RULE_KEYS)}: {rule!r}")
    for key in ("sha", "ref", "error_message"):
        if key in rule and not isinstance(rule[key], str):
            raise ValueError(f"build rule {key} must be a string: {rule!r}")
    for key in ("queued_s", "build_s"):
        if key in rule and not (is_number(rule[key]) and rule[key] >= 0):
            raise ValueError(f"build rule {key} must be a number of seconds >= 0: {rule!r}")
    if rule.get("outcome", "READY") not in BUILD_OUTCOMES:
        raise ValueError(f"build rule outcome must be one of {BUILD_OUTCOMES}: {rule!r}")
    if rule.get("health", "ok") not in HEALTH_STATES:
        raise ValueError(f"build rule health must be one of {HEALTH_STATES}: {rule!r}")
    if "error_rate" in rule and not (is_number(rule["error_rate"]) and 0 <= rule["error_rate"] <= 1):
        raise ValueError(f"build rule error_rate must be a number from 0 to 1: {rule!r}")
    return copy.deepcopy(rule)


def rule_matches(rule, sha, ref):
    return ((rule.get("sha") is None or (sha or "").lower().startswith(rule["sha"].lower()))
            and (rule.get("ref") is None or rule["ref"] == ref))


def ciphertext(env):
    """What an encrypted value looks like without ``decrypt``: opaque, and never made from the value."""
    seed = f"{env['projectId']}:{env['id']}:{env.get('updatedAt')}".encode()
    return base64.b64encode(hashlib.sha256(seed).digest() + hashlib.sha256(seed[::-1]).digest()).decode()


class VercelServer(FakeServer):
    text_content_type = FakeServer.json_content_type  # Vercel labels every answer as JSON

    ROUTES = [
        ("GET", r"/v9/projects/(?P<ref>[^/]+)", "get_project"),
        ("GET", r"/v[67]/deployments", "list_deployments"),
        ("POST", r"/v13/deployments", "create_deployment"),
        ("GET", r"/v13/deployments/(?P<ref>[^/]+)", "get_deployment"),
        ("GET", r"/v4/aliases/(?P<ref>[^/]+)", "get_alias"),
        ("GET", r"/v2/deployments/(?P<ref>[^/]+)/aliases", "list_deployment_aliases"),
        ("POST", r"/v2/deployments/(?P<ref>[^/]+)/aliases", "assign_alias"),
        ("POST", r"/now/deployments/(?P<ref>[^/]+)/aliases", "assign_alias"),
        ("GET", r"/v2/user", "get_user"),
        ("GET", r"/v1/teams", "list_teams"),
        ("GET", r"/v5/domains/(?P<ref>[^/]+)", "get_domain"),
        # v9 is the CLI's path, v1 the SDK's; both answer alike.
        ("POST", r"/v(?:1|9)/projects/(?P<project_ref>[^/]+)/rollback/(?P<ref>[^/]+)", "rollback"),
        ("POST", r"/v10/projects/(?P<project_ref>[^/]+)/promote/(?P<ref>[^/]+)", "promote"),
        # v10 is the SDK's and the CLI's path, v8 terraform's; both answer alike.
        ("GET", r"/v(?:8|10)/projects/(?P<ref>[^/]+)/env", "list_envs"),
        ("GET", r"/v1/projects/(?P<ref>[^/]+)/env/(?P<env_id>[^/]+)", "get_env"),
    ]

    def __init__(self, seed, port=0):
        super().__init__(seed, port)
        self._window_reset, self._window_used = 0, 0
        self._frozen_at, self._clock_offset = None, 0.0

    # ----- the fake's clock (Python control API) ---------------------------
    def now(self):
        """The fake's time in epoch seconds: real time, unless a test froze or moved it."""
        with self.lock:
            return self._frozen_at if self._frozen_at is not None else time.time() + self._clock_offset

    def _now_ms(self):
        return int(self.now() * 1000)

    def freeze_clock(self, at=None):
        """Stop the clock, at ``at`` (epoch seconds) or at the present moment."""
        with self.lock:
            self._frozen_at = self.now() if at is None else float(at)

    def unfreeze_clock(self):
        """Let the clock run again from where it stands."""
        with self.lock:
            if self._frozen_at is not None:
                self._clock_offset, self._frozen_at = self._frozen_at - time.time(), None

    def advance_clock(self, seconds):
        """Move the clock forward, and let every build and queued promotion that is due by then happen."""
        if not is_number(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
        with self.lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._clock_offset += seconds
            self._catch_up()

    def _clock_view(self):
        return {"now": self.now(), "frozen": self._frozen_at is not None}

    def _control_clock(self, body):
        if not isinstance(body, dict) or not body or set(body) - {"freeze", "at", "advance"}:
            raise ValueError('give any of {"freeze": bool, "at": epoch seconds, "advance": seconds}')
        if body.get("freeze") is False:
            self.unfreeze_clock()
        elif body.get("freeze") or "at" in body:
            self.freeze_clock(body.get("at"))
        if "advance" in body:
            self.advance_clock(body["advance"])
        return self._clock_view()

    # ----- build rules (Python control API) --------------------------------
    def build_rules(self):
        with self.lock:
            return copy.deepcopy(self._state.get("build_rules", []))

    def add_build_rules(self, rules):
        """Put rules before the present ones, in their order: a test's rule wins over the seed's."""
        checked = [validate_build_rule(rule) for rule in rules]
        with self.lock:
            self._state["build_rules"] = checked + self._state.get("build_rules", [])

    def clear_build_rules(self):
        with self.lock:
            self._state["build_rules"] = []

    # ----- base-class hooks ------------------------------------------------
    def state(self):
        with self.lock:
            self._catch_up()
            return super().state()

    def reset(self):
        with self.lock:
            super().reset()
            self._frozen_at, self._clock_offset = None, 0.0

    def control_routes(self):
        routes = super().control_routes()
        routes.update({
            ("GET", "/_fake/clock"): lambda r: self._clock_view(),
            ("POST", "/_fake/clock"): lambda r: self._control_clock(r.json()),
            ("GET", "/_fake/build_rules"): lambda r: {"build_rules": self.build_rules()},
            ("POST", "/_fake/build_rules"): lambda r: (self.add_build_rules(r.json()["rules"])
                                                       or {"build_rules": self.build_rules()}),
            ("DELETE", "/_fake/build_rules"): lambda r: self.clear_build_rules() or {"build_rules": []},
        })
        return routes

    def common_headers(self, request):
        with self.lock:
            now = time.time()
            if now >= self._window_reset:
                self._window_reset, self._window_used = int(now) + RATE_WINDOW_S, 0
            self._window_used += 1
            remaining = max(0, RATE_LIMIT - self._window_used)
            return {"X-RateLimit-Limit": RATE_LIMIT, "X-RateLimit-Remaining": remaining,
                    "X-RateLimit-Reset": self._window_reset}

    def default_fault_body(self, status):
        if status == 429:
            return rate_limited_body(self._window_reset or None)
        if status in ERROR_CODES:
            return {"error": {"code": ERROR_CODES[status], "message": f"Injected {status}"}}
        return ""

    def default_fault_headers(self, status):
        return {"X-RateLimit-Remaining": 0} if status == 429 else {}

    def handle_request(self, request):
        self._catch_up()
        handler, params = self._route(request)
        if isinstance(handler, Response):
            return handler
        identity = self._authenticate(request)
        if isinstance(identity, Response):
            return identity
        team_id = self._scope(request, identity)
        if isinstance(team_id, Response):
            return team_id
        return handler(request, identity, team_id, **params)

    # ----- routing, auth, scope --------------------------------------------
    def _route(self, request):
        path_known = False
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                return getattr(self, name), {k: unquote(v) for k, v in match.groupdict().items()}
            path_known = path_known or bool(match)
        if path_known:
            return vercel_error(405, "method_unknown", f"Method {request.method} is not allowed"), None
        return vercel_error(404, "not_found", "The requested path was not found"), None

    def _authenticate(self, request):
        header = request.headers.get("Authorization")
        if not header:
            return vercel_error(403, "forbidden", "The request is missing an authentication token")
        scheme, _space, token = header.partition(" ")
        identity = self._state.get("tokens", {}).get(token.strip()) if scheme.lower() == "bearer" else None
        if identity is None:
            return vercel_error(403, "forbidden", "Not authorized", invalidToken=True)
        return identity

    def _scope(self, request, identity):
        """Team id the request is scoped to, None for the personal account, or a 403."""
        team_id, slug = request.query.get("teamId"), request.query.get("slug")
        if not team_id and not slug:
            return None
        team = next((t for t in self._state.get("teams", [])
                     if (team_id and t["id"] == team_id) or (not team_id and t["slug"] == slug)), None)
        if team is None or team["id"] not in identity.get("teams", []):
            return vercel_error(403, "forbidden", "Not authorized")
        return team["id"]

    # ----- lookups (state is read under self.lock) -------------------------
    def _team(self, team_id):
        return next((t for t in self._state.get("teams", []) if t["id"] == team_id), None)

    def _project(self, ref, team_id):
        return next((p for p in self._state.get("projects", [])
                     if ref in (p["id"], p["name"]) and p.get("teamId") == team_id), None)

    def _project_by_id(self, project_id):
        return next((p for p in self._state.get("projects", []) if p["id"] == project_id), {})

    def _deployment_team(self, deployment):
        return self._project_by_id(deployment["projectId"]).get("teamId")

    def _domains_of(self, project):
        return [d for d in self._state.get("domains", []) if d.get("projectId") == project["id"]]

    def _live(self, project, team_id):
        """The production deployment the project's first domain points at, if any."""
        alias = next((self._alias(d["name"]) for d in self._domains_of(project)), None)
        return alias and self._deployment(alias["deploymentId"], team_id)

    def _alias(self, host):
        return next((a for a in self._state.get("aliases", []) if a["alias"] == host), None)

    def _aliases_of(self, deployment_id):
        return [a for a in self._state.get("aliases", []) if a["deploymentId"] == deployment_id]

    def _deployment(self, ref, team_id):
        """Find by id, by deployment hostname, or by an alias hostname pointing at it."""
        host = re.sub(r"^https?://", "", ref).split("/")[0].lower()
        alias = self._alias(host)
        for d in self._state.get("deployments", []):
            if ref == d["id"] or host == d.get("url") or (alias and alias["deploymentId"] == d["id"]):
                return d if self._deployment_team(d) == team_id else None
        return None

    def _deployment_by_id(self, deployment_id):
        return next((d for d in self._state.get("deployments", []) if d["id"] == deployment_id), None)

    def alias_target(self, host):
        """In-process helper for the health fake: copy of the deployment ``host`` points at."""
        with self.lock:
            self._catch_up()
            alias = self._alias(host)
            deployment = alias and self._deployment_by_id(alias["deploymentId"])
            return copy.deepcopy(deployment) if deployment else None

    # ----- builds and queued promotions over time ---------------------------
    def _catch_up(self):
        """Apply every build step and queued promotion that is due by the fake's clock, oldest first."""
        now = self._now_ms()
        due = []
        for d in self._state.get("deployments", []):
            plan = d.get("build")
            if not plan or d["state"] in FINISHED:
                continue
            if d["state"] == "QUEUED" and plan["buildingAt"] <= now:
                due.append((plan["buildingAt"], 0, self._start_build, d))
            if plan["finishAt"] <= now:
                due.append((plan["finishAt"], 1, self._finish_build, d))
        for project in self._state.get("projects", []):
            pending = project.get("pendingPromote")
            if pending and pending["dueAt"] <= now:
                due.append((pending["dueAt"], 2, self._finish_promote, project))
        for _at, _order, step, subject in sorted(due, key=lambda event: event[:2]):
            step(subject)

    @staticmethod
    def _start_build(d):
        d["state"], d["buildingAt"] = "BUILDING", d["build"]["buildingAt"]

    def _finish_build(self, d):
        plan = d["build"]
        d["state"] = plan["outcome"]
        if d["state"] == "ERROR":
            d["errorCode"], d["errorMessage"] = "BUILD_FAILED", plan["errorMessage"]
        if d["state"] != "READY":
            return  # a failed or canceled build never touches the domains
        d["ready"] = plan["finishAt"]
        if d.get("target") != "production":
            return
        project = self._project_by_id(d["projectId"])
        if project.get("autoAssignCustomDomains", True) is False:
            d["readySubstate"] = "STAGED"  # built for production, serving nothing until promoted
            return
        for domain in self._domains_of(project):
            self._point_alias(domain["name"], d["id"], None, plan["finishAt"])
        d["readySubstate"] = "PROMOTED"

    def _finish_promote(self, project):
        pending = project.pop("pendingPromote")
        deployment = self._deployment_by_id(pending["deploymentId"])
        request = project.get("lastAliasRequest") or {}
        if deployment is None:
            request["jobStatus"] = "failed"
            return
        for domain in self._domains_of(project):
            self._point_alias(domain["name"], deployment["id"], None, pending["dueAt"])
        deployment["readySubstate"] = "PROMOTED"
        request["jobStatus"] = "succeeded"

    # ----- rendering -------------------------------------------------------
    def _times(self, d):
        created = d["created"]
        times = {"created": created, "createdAt": created, "buildingAt": d.get("buildingAt", created + 2000)}
        if d["state"] == "READY":
            times["ready"] = d.get("ready", created + 60000)
        return times

    def _inspector_url(self, d):
        project = self._project_by_id(d["projectId"])
        team = self._team(project.get("teamId")) or {"slug": "personal"}
        return f"https://vercel.com/{team['slug']}/{project.get('name')}/{d['id'].removeprefix('dpl_')}"

    def _errors(self, d):
        if d["state"] != "ERROR":
            return {}
        return {"errorCode": d.get("errorCode", "BUILD_FAILED"),
                "errorMessage": d.get("errorMessage", BUILD_DEFAULTS["error_message"])}

    @staticmethod
    def _substate(d):
        """STAGED or PROMOTED, on READY production deployments only; the seed's were all promoted once."""
        if d["state"] == "READY" and d.get("target") == "production":
            return {"readySubstate": d.get("readySubstate", "PROMOTED")}
        return {}

    def _list_item(self, d):
        return {"uid": d["id"], "name": self._project_by_id(d["projectId"]).get("name"), "url": d.get("url"),
                **self._times(d), "state": d["state"], "readyState": d["state"], **self._substate(d),
                "type": "LAMBDAS", "source": "git", "target": d.get("target"), "projectId": d["projectId"],
                "creator": d.get("creator"), "meta": d.get("meta", {}), "aliasAssigned": d["state"] == "READY",
                "aliasError": None, "inspectorUrl": self._inspector_url(d),
                "isRollbackCandidate": d["state"] == "READY" and d.get("target") == "production",
                **self._errors(d)}

    def _deployment_body(self, d):
        team_id = self._deployment_team(d)
        team = self._team(team_id)
        times = self._times(d)
        del times["created"]  # single deployments only carry createdAt
        body = {"id": d["id"], "url": d.get("url"), "name": self._project_by_id(d["projectId"]).get("name"),
                "readyState": d["state"], "status": d["state"], **self._substate(d), "target": d.get("target"),
                "alias": [a["alias"] for a in self._aliases_of(d["id"])],
                "aliasAssigned": d["state"] == "READY", "aliasError": None, "projectId": d["projectId"],
                "ownerId": team_id, "team": team and {k: team[k] for k in ("id", "name", "slug")},
                **times, "meta": d.get("meta", {}), "creator": d.get("creator"), "type": "LAMBDAS",
                "source": "git", "inspectorUrl": self._inspector_url(d), **self._errors(d)}
        if d.get("gitSource"):
            body["gitSource"] = d["gitSource"]
        return body

    def _alias_created(self, alias, deployment):
        # Seeded aliases carry no time: use the moment their deployment became ready.
        return alias.get("createdAt") or self._times(deployment).get("ready", deployment["created"])

    # ----- endpoints -------------------------------------------------------
    def get_user(self, request, identity, team_id):
        return Response(200, {"user": identity["user"]})

    def list_teams(self, request, identity, team_id):
        teams = [t for t in self._state.get("teams", []) if t["id"] in identity.get("teams", [])]
        return Response(200, {"teams": teams, "pagination": {"count": len(teams), "next": None, "prev": None}})

    def get_domain(self, request, identity, team_id, ref):
        domain = next((d for d in self._state.get("domains", [])
                       if d["name"] == ref.lower() and d.get("teamId") == team_id), None)
        if domain is None:
            return vercel_error(404, "not_found", "Domain not found")
        return Response(200, {"domain": {"id": stable_id("dom_", domain["name"]), "name": domain["name"],
                                         "verified": True, "serviceType": "external", "teamId": team_id,
                                         "createdAt": domain.get("createdAt", 0)}})

    def get_project(self, request, identity, team_id, ref):
        project = self._project(ref, team_id)
        if project is None:
            return vercel_error(404, "not_found", "Project not found")
        body = {"id": project["id"], "name": project["name"], "accountId": team_id,
                "framework": project.get("framework"), "createdAt": project.get("createdAt", 0),
                "updatedAt": project.get("updatedAt", project.get("createdAt", 0)),
                "autoAssignCustomDomains": project.get("autoAssignCustomDomains", True)}
        if project.get("link"):
            body["link"] = project["link"]
        live = self._live(project, team_id)
        if live:
            body["targets"] = {"production": {"id": live["id"], "url": live.get("url"), "target": "production",
                                              "readyState": live["state"], "createdAt": live["created"],
                                              "alias": [a["alias"] for a in self._aliases_of(live["id"])],
                                              "meta": live.get("meta", {})}}
        if request.query.get("rollbackInfo") == "true" and "lastAliasRequest" in project:
            body["lastAliasRequest"] = project["lastAliasRequest"]
        return Response(200, body)

    def list_deployments(self, request, identity, team_id):
        query = request.query
        try:
            limit = int(query.get("limit", 20))
            bounds = {name: parse_ms(query, name) for name in ("until", "since", "from", "to")}
        except ValueError:
            return vercel_error(400, "bad_request", "Invalid request: `limit`, `since`, `until`, `from` "
                                                    "and `to` must be numbers")
        if not 1 <= limit <= 100:
            return vercel_error(400, "bad_request", "Invalid request: `limit` should be >= 1 and <= 100")
        states = [s for s in query.get("state", "").split(",") if s]
        if any(s not in DEPLOYMENT_STATES for s in states):
            return vercel_error(400, "bad_request", "Invalid request: `state` should be a comma separated "
                                                    f"list of: {', '.join(DEPLOYMENT_STATES)}")
        matches = [d for d in self._state.get("deployments", [])
                   if self._deployment_team(d) == team_id and self._list_filter(d, query, states, bounds)]
        if query.get("projectId"):
            project = self._project(query["projectId"], team_id)
            matches = [d for d in matches if project and d["projectId"] == project["id"]]
        matches.sort(key=lambda d: d["created"], reverse=True)
        page = matches[:limit]
        return Response(200, {"pagination": {"count": len(page),
                                             "next": page[-1]["created"] if len(matches) > limit else None,
                                             "prev": page[0]["created"] if page else None},
                              "deployments": [self._list_item(d) for d in page]})

    @staticmethod
    def _list_filter(d, query, states, bounds):
        created = d["created"]
        return ((not states or d["state"] in states)
                # Preview deployments carry no target at all.
                and ("target" not in query or (d.get("target") or "preview") == query["target"])
                and (bounds["until"] is None or created < bounds["until"])
                and (bounds["to"] is None or created < bounds["to"])
                and (bounds["since"] is None or created > bounds["since"])
                and (bounds["from"] is None or created > bounds["from"])
                and (query.get("rollbackCandidate") != "true"
                     or (d["state"] == "READY" and d.get("target") == "production")))

    def get_deployment(self, request, identity, team_id, ref):
        deployment = self._deployment(ref, team_id)
        if deployment is None:
            return vercel_error(404, "not_found", "Deployment not found")
        return Response(200, self._deployment_body(deployment))

    # ----- creating a deployment -------------------------------------------
    def create_deployment(self, request, identity, team_id):
        for flag in ("forceNew", "skipAutoDetectionConfirmation"):
            if request.query.get(flag, "0") not in ("0", "1"):
                return bad_request(f"`{flag}` should be 0 or 1")
        body = self._json_object(request)
        if isinstance(body, Response):
            return body
        problem = self._check_deployment_request(body)
        if problem:
            return problem
        project = self._project(body.get("project") or body["name"], team_id)
        if project is None:
            return vercel_error(404, "not_found", "Project not found")
        if "deploymentId" in body:
            commit = self._redeployed_commit(body["deploymentId"], project, team_id)
        else:
            commit = self._git_commit(body["gitSource"], project)
        if isinstance(commit, Response):
            return commit
        deployment = self._new_deployment(project, identity, body, commit)
        return Response(200, self._deployment_body(deployment))

    @staticmethod
    def _json_object(request):
        if request.content_type != "application/json":
            return bad_request("Content-Type must be application/json")
        try:
            body = request.json()
        except ValueError:
            return bad_request("the body is not valid JSON")
        return body if isinstance(body, dict) else bad_request("the body must be a JSON object")

    @staticmethod
    def _check_deployment_request(body):
        """A 400 for what is wrong in the body regardless of the state, or None."""
        if not isinstance(body.get("name"), str) or not body["name"]:
            return bad_request("missing required property `name`")
        if "project" in body and not (isinstance(body["project"], str) and body["project"]):
            return bad_request("`project` should be a project id or name")
        if "files" in body:
            return bad_request("file uploads are not supported by the fake: deploy with `gitSource` "
                               "or `deploymentId`")
        if body.get("target") not in DEPLOY_TARGETS:
            return bad_request("`target` should be `production`, `staging` or left out for a preview "
                               "(the fake knows no custom environments)")
        meta = body.get("meta", {})
        if not isinstance(meta, dict):
            return bad_request("`meta` should be an object of strings")
        wrong = next((key for key, value in meta.items() if not isinstance(value, str)), None)
        if wrong is not None:
            return bad_request(f"`meta.{wrong}` should be a string")
        if ("gitSource" in body) == ("deploymentId" in body):
            return bad_request("give exactly one of `gitSource` or `deploymentId`")
        if "deploymentId" in body and not (isinstance(body["deploymentId"], str) and body["deploymentId"]):
            return bad_request("`deploymentId` should be a deployment id")
        return None

    def _redeployed_commit(self, deployment_id, project, team_id):
        # An id only: unlike the GET, the redeploy takes no hostname.
        source = self._deployment_by_id(deployment_id)
        if source is None or self._deployment_team(source) != team_id:
            return vercel_error(404, "not_found", "Deployment not found")
        if source["projectId"] != project["id"]:
            return bad_request(f"the deployment {source['id']} belongs to another project than {project['name']}")
        meta = {k: v for k, v in source.get("meta", {}).items() if k.startswith(GIT_META_PREFIXES)}
        sha = next((meta[f"{p}CommitSha"] for p in GIT_META_PREFIXES if meta.get(f"{p}CommitSha")), None)
        ref = next((meta[f"{p}CommitRef"] for p in GIT_META_PREFIXES if meta.get(f"{p}CommitRef")), None)
        return {"sha": sha, "ref": ref, "meta": meta, "gitSource": source.get("gitSource")}

    def _git_commit(self, source, project):
        """The commit a gitSource names, with the meta keys Vercel adds for it, or a 400."""
        if not isinstance(source, dict):
            return bad_request("`gitSource` should be an object")
        provider = GIT_PROVIDERS.get(source.get("type"))
        if provider is None:
            return bad_request(f"`gitSource.type` should be one of {', '.join(GIT_PROVIDERS)}")
        if not isinstance(source.get("ref"), str) or not source["ref"]:
            return bad_request("missing required property `gitSource.ref`")
        shapes = GIT_SOURCE_SHAPES[provider]
        if not any(all(source.get(key) not in (None, "") for key in shape) for shape in shapes):
            needed = " or ".join(" and ".join(f"`gitSource.{key}`" for key in shape) for shape in shapes)
            return bad_request(f"a `gitSource` of type {source['type']} needs {needed}")
        if source.get("sha") is not None and not isinstance(source["sha"], str):
            return bad_request("`gitSource.sha` should be a string")
        link = project.get("link") or {}
        if link and not self._same_repository(link, provider, source):
            return vercel_error(400, "incorrect_git_source_info",
                                f"The gitSource names another repository than the one linked to {project['name']}")

        git, ref = project.get("git") or {}, source["ref"]
        commits = git.get("commits", {})
        sha = (source.get("sha") or "").lower() or git.get("refs", {}).get(ref)
        if source.get("sha") and sha not in commits:
            return vercel_error(400, "incorrect_git_source_info", f"The commit {source['sha']} was not found")
        if not sha:
            return vercel_error(400, "incorrect_git_source_info", f"The ref {ref!r} was not found")

        org = source.get("org") or source.get("owner") or link.get("org") or link.get("owner")
        repo = source.get("repo") or source.get("slug") or link.get("repo") or link.get("slug")
        commit = commits.get(sha, {})
        meta = {f"{provider}CommitSha": sha, f"{provider}CommitRef": ref,
                f"{provider}CommitMessage": commit.get("message", "")}
        if org and repo:
            meta.update({f"{provider}CommitOrg": org, f"{provider}CommitRepo": repo})
        if commit.get("author"):
            meta[f"{provider}CommitAuthorLogin"] = commit["author"]
        return {"sha": sha, "ref": ref, "meta": meta, "gitSource": {**source, "sha": sha}}

    @staticmethod
    def _same_repository(link, provider, source):
        """Whether every repository identifier the gitSource gives matches the project's link."""
        if GIT_PROVIDERS.get(link.get("type")) != provider:
            return False
        pairs = {"github": (("org", "org"), ("repo", "repo"), ("repoId", "repoId")),
                 "gitlab": (("projectId", "projectId"),),
                 "bitbucket": (("owner", "owner"), ("slug", "slug"), ("repoUuid", "repoUuid"))}[provider]
        return all(str(source[key]).lower() == str(link.get(linked)).lower()
                   for key, linked in pairs if source.get(key) not in (None, ""))

    def _new_deployment(self, project, identity, body, commit):
        now = self._now_ms()
        deployments = self._state.setdefault("deployments", [])
        deployment_id = stable_id("dpl_", f"{project['id']}:{commit['sha']}:{now}:{len(deployments)}")
        team = self._team(project.get("teamId")) or {"slug": "personal"}
        rule = {**BUILD_DEFAULTS, **next((r for r in self._state.get("build_rules", [])
                                          if rule_matches(r, commit["sha"], commit["ref"])), {})}
        building_at = now + round(rule["queued_s"] * 1000)
        user = identity["user"]
        deployment = {
            "id": deployment_id, "projectId": project["id"],
            "url": f"{project['name']}-{deployment_id[4:13]}-{team['slug']}.vercel.app",
            "created": now, "buildingAt": now, "state": "QUEUED", "target": body.get("target"),
            # Vercel's own git keys win over the caller's.
            "meta": {**body.get("meta", {}), **commit["meta"]},
            "creator": {"uid": user["id"], "username": user.get("username"), "email": user.get("email")},
            "health": rule["health"],
            "build": {"buildingAt": building_at, "finishAt": building_at + round(rule["build_s"] * 1000),
                      "outcome": rule["outcome"], "errorMessage": rule["error_message"]},
        }
        if commit.get("gitSource"):
            deployment["gitSource"] = commit["gitSource"]
        if "error_rate" in rule:
            deployment["error_rate"] = rule["error_rate"]
        deployments.append(deployment)
        return deployment

    # ----- aliases ---------------------------------------------------------
    def get_alias(self, request, identity, team_id, ref):
        alias = next((a for a in self._state.get("aliases", []) if ref in (a["uid"], a["alias"])), None)
        deployment = alias and self._deployment(alias["deploymentId"], team_id)
        if not deployment:
            return vercel_error(404, "not_found", "Alias not found")
        created = self._alias_created(alias, deployment)
        return Response(200, {"uid": alias["uid"], "alias": alias["alias"], "created": iso(created),
                              "createdAt": created, "deploymentId": deployment["id"],
                              "projectId": deployment["projectId"],
                              "deployment": {"id": deployment["id"], "url": deployment.get("url"),
                                             "meta": deployment.get("meta", {})},
                              "creator": deployment.get("creator"), "redirect": alias.get("redirect"),
                              "redirectStatusCode": None, "updatedAt": alias.get("updatedAt", created),
                              "deletedAt": None})

    def list_deployment_aliases(self, request, identity, team_id, ref):
        deployment = self._deployment(ref, team_id)
        if deployment is None:
            return vercel_error(404, "not_found", "Deployment not found")
        return Response(200, {"aliases": [
            {"uid": a["uid"], "alias": a["alias"], "created": iso(self._alias_created(a, deployment))}
            for a in self._aliases_of(deployment["id"])]})

    def assign_alias(self, request, identity, team_id, ref):
        body = self._alias_request_body(request)
        if isinstance(body, Response):
            return body
        host = body["alias"].lower()
        deployment = self._deployment(ref, team_id)
        if deployment is None:
            return vercel_error(404, "not_found", "Deployment not found")
        if deployment["state"] != "READY":
            return vercel_error(400, "deployment_not_ready",
                                f"The deployment {deployment['id']} is not READY and can not be aliased")
        owner = self._deployment_team(deployment)
        if not any(d["name"] == host and d.get("teamId") == owner for d in self._state.get("domains", [])):
            return vercel_error(404, "not_found", "Domain not found")
        return Response(200, self._point_alias(host, deployment["id"], body.get("redirect")))

    def _alias_request_body(self, request):
        body = self._json_object(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body.get("alias"), str):
            return bad_request("missing required property `alias`")
        if not HOSTNAME.match(body["alias"].lower()):
            return vercel_error(400, "invalid_alias", f"The alias {body['alias']!r} is not a valid hostname")
        return body

    def _point_alias(self, host, deployment_id, redirect, now=None):
        """Create the alias or move it in place: never delete-then-create, so it never dangles."""
        now = self._now_ms() if now is None else now
        alias = self._alias(host)
        answer = {}
        if alias is None:
            alias = {"alias": host, "uid": stable_id("alias_", host), "createdAt": now}
            self._state.setdefault("aliases", []).append(alias)
        elif alias["deploymentId"] != deployment_id:
            answer["oldDeploymentId"] = alias["deploymentId"]
        alias.update(deploymentId=deployment_id, updatedAt=now, redirect=redirect)
        return {"uid": alias["uid"], "alias": host, "created": iso(now), **answer}

    # ----- promote and rollback --------------------------------------------
    def rollback(self, request, identity, team_id, project_ref, ref):
        found = self._production_change(team_id, project_ref, ref)
        if isinstance(found, Response):
            return found
        self._move_production(*found, "rollback")
        return no_content(201)

    def promote(self, request, identity, team_id, project_ref, ref):
        found = self._production_change(team_id, project_ref, ref)
        if isinstance(found, Response):
            return found
        project, deployment, live = found
        queued = project.get("promoteQueued")
        if not queued:
            self._move_production(project, deployment, live, "promote")
            return no_content(201)
        # Queued behind a rolling release: pending now, done a little later (see _catch_up).
        delay_s = PROMOTE_QUEUE_S if queued is True else float(queued)
        now = self._now_ms()
        project["lastAliasRequest"] = {"fromDeploymentId": live and live["id"], "toDeploymentId": deployment["id"],
                                       "jobStatus": "pending", "requestedAt": now, "type": "promote"}
        project["pendingPromote"] = {"deploymentId": deployment["id"], "dueAt": now + round(delay_s * 1000)}
        return no_content(202)

    def _production_change(self, team_id, project_ref, ref):
        """(project, deployment, live deployment) for a promote or rollback, or the error answer."""
        project = self._project(project_ref, team_id)
        if project is None:
            return vercel_error(404, "not_found", "Project not found")
        deployment = self._deployment(ref, team_id)
        if deployment is None or deployment["projectId"] != project["id"]:
            return vercel_error(404, "not_found", "Deployment not found")
        if deployment["state"] != "READY" or deployment.get("target") != "production":
            return vercel_error(400, "bad_request",
                                f"Deployment {deployment['id']} is not a READY production deployment")
        live = self._live(project, team_id)
        if live and live["id"] == deployment["id"]:
            return vercel_error(409, "conflict", f"Deployment {deployment['id']} is already live")
        return project, deployment, live

    def _move_production(self, project, deployment, live, kind):
        """Point all the project's domains at the deployment at once; the job is done when this returns."""
        now = self._now_ms()
        for domain in self._domains_of(project):
            self._point_alias(domain["name"], deployment["id"], None, now)
        deployment["readySubstate"] = "PROMOTED"
        project.pop("pendingPromote", None)  # a later move wins over a promotion still queued
        project["lastAliasRequest"] = {"fromDeploymentId": live and live["id"], "toDeploymentId": deployment["id"],
                                       "jobStatus": "succeeded", "requestedAt": now, "type": kind}

    # ----- environment variables -------------------------------------------
    def list_envs(self, request, identity, team_id, ref):
        project = self._project(ref, team_id)
        if project is None:
            return vercel_error(404, "not_found", "Project not found")
        query = request.query
        if query.get("decrypt", "false") not in ("true", "false"):
            return bad_request('`decrypt` should be "true" or "false"')
        # The CLI sends `target` although the contract does not list it.
        if query.get("target") not in (None, *ENV_TARGETS):
            return bad_request(f"`target` should be one of {', '.join(ENV_TARGETS)}")
        try:
            until = parse_ms(query, "until")
        except ValueError:
            return bad_request("`until` must be a number")

        envs = [e for e in self._state.get("envs", [])
                if e["projectId"] == project["id"] and self._env_filter(e, query)]
        envs.sort(key=lambda e: (-e["createdAt"], e["id"]))  # newest first, as the deployments listing
        page_size = int(self._state.get("env_page_size", ENV_PAGE_SIZE))
        paged = len(envs) > page_size or until is not None
        if until is not None:
            envs = [e for e in envs if e["createdAt"] < until]
        page = envs[:page_size]
        # A page never ends inside a run of equal createdAt: the next one starts strictly before it.
        while page and len(page) < len(envs) and envs[len(page)]["createdAt"] == page[-1]["createdAt"]:
            page.append(envs[len(page)])

        # Public reports (vercel/vercel#9072, vercel/sdk#118) say the listing may leave values encrypted even
        # with decrypt=true; ``env_list_decrypts: false`` in the state plays that.
        decrypt = query.get("decrypt") == "true" and self._state.get("env_list_decrypts", True)
        body = {"envs": [self._env_item(e, decrypt) for e in page]}
        if paged:
            body["pagination"] = {"count": len(page),
                                  "next": page[-1]["createdAt"] if len(page) < len(envs) else None,
                                  "prev": page[0]["createdAt"] if page else None}
        return Response(200, body)

    def get_env(self, request, identity, team_id, ref, env_id):
        """One variable, decrypted (the SDK's getProjectEnv), where support sends those the listing leaves encrypted."""
        project = self._project(ref, team_id)
        env = project and next((e for e in self._state.get("envs", [])
                                if e["projectId"] == project["id"] and e["id"] == env_id), None)
        if env is None:
            return vercel_error(404, "not_found", "Environment variable not found")
        return Response(200, self._env_item(env, True))

    @staticmethod
    def _env_filter(env, query):
        targets = env["target"] if isinstance(env["target"], list) else [env["target"]]
        if query.get("target") and query["target"] not in targets:
            return False
        if query.get("gitBranch") and ("preview" not in targets
                                       or env.get("gitBranch") not in (None, query["gitBranch"])):
            return False
        custom = query.get("customEnvironmentId") or query.get("customEnvironmentSlug")
        return not custom or custom in env.get("customEnvironmentIds", [])

    @staticmethod
    def _env_item(env, decrypt):
        """One variable as the listing shows it: sensitive values never, encrypted ones only decrypted."""
        if env["type"] == "sensitive":
            value, decrypted = "", False
        elif env["type"] in ENCRYPTED_ENV_TYPES:
            value, decrypted = (env["value"], True) if decrypt else (ciphertext(env), False)
        else:
            value, decrypted = env.get("value", ""), False
        item = {"id": env["id"], "key": env["key"], "value": value, "type": env["type"], "target": env["target"],
                "configurationId": None, "createdAt": env["createdAt"], "updatedAt": env["updatedAt"],
                "decrypted": decrypted}
        if env.get("gitBranch"):
            item["gitBranch"] = env["gitBranch"]
        return item
