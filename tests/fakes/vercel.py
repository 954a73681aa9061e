"""Fake of the parts of the Vercel REST API the collection uses.

Follows /work/shared/api-contracts.md section 1: versioned paths, Bearer auth,
``teamId``/``slug`` scoping, ``{"error": {"code", "message"}}`` bodies, list
items keyed ``uid`` but single objects keyed ``id``, and ``until`` pagination.
The seed's ``health`` field on deployments belongs to the health fake and is
never sent in API bodies.
"""
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


def vercel_error(status, code, message, **extra):
    return Response(status, {"error": {"code": code, "message": message, **extra}})


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


class VercelServer(FakeServer):
    text_content_type = FakeServer.json_content_type  # Vercel labels every answer as JSON

    ROUTES = [
        ("GET", r"/v9/projects/(?P<ref>[^/]+)", "get_project"),
        ("GET", r"/v[67]/deployments", "list_deployments"),
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
    ]

    def __init__(self, seed, port=0):
        super().__init__(seed, port)
        self._window_reset, self._window_used = 0, 0

    # ----- base-class hooks ------------------------------------------------
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

    def alias_target(self, host):
        """In-process helper for the health fake: copy of the deployment ``host`` points at."""
        with self.lock:
            alias = self._alias(host)
            deployment = alias and next((d for d in self._state.get("deployments", [])
                                         if d["id"] == alias["deploymentId"]), None)
            return dict(deployment) if deployment else None

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
                "errorMessage": d.get("errorMessage", 'Command "npm run build" exited with 1')}

    def _list_item(self, d):
        return {"uid": d["id"], "name": self._project_by_id(d["projectId"]).get("name"), "url": d.get("url"),
                **self._times(d), "state": d["state"], "readyState": d["state"], "type": "LAMBDAS",
                "source": "git", "target": d.get("target"), "projectId": d["projectId"],
                "creator": d.get("creator"), "meta": d.get("meta", {}), "aliasAssigned": d["state"] == "READY",
                "aliasError": None, "inspectorUrl": self._inspector_url(d),
                "isRollbackCandidate": d["state"] == "READY" and d.get("target") == "production",
                **self._errors(d)}

    def _deployment_body(self, d):
        team_id = self._deployment_team(d)
        team = self._team(team_id)
        times = self._times(d)
        del times["created"]  # single deployments only carry createdAt
        return {"id": d["id"], "url": d.get("url"), "name": self._project_by_id(d["projectId"]).get("name"),
                "readyState": d["state"], "status": d["state"], "target": d.get("target"),
                "alias": [a["alias"] for a in self._aliases_of(d["id"])],
                "aliasAssigned": d["state"] == "READY", "aliasError": None, "projectId": d["projectId"],
                "ownerId": team_id, "team": team and {k: team[k] for k in ("id", "name", "slug")},
                **times, "meta": d.get("meta", {}), "creator": d.get("creator"), "type": "LAMBDAS",
                "source": "git", "inspectorUrl": self._inspector_url(d), **self._errors(d)}

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
                "updatedAt": project.get("updatedAt", project.get("createdAt", 0))}
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
        if request.content_type != "application/json":
            return vercel_error(400, "bad_request", "Invalid request: Content-Type must be application/json")
        try:
            body = request.json()
        except ValueError:
            return vercel_error(400, "bad_request", "Invalid request: the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("alias"), str):
            return vercel_error(400, "bad_request", "Invalid request: missing required property `alias`")
        if not HOSTNAME.match(body["alias"].lower()):
            return vercel_error(400, "invalid_alias", f"The alias {body['alias']!r} is not a valid hostname")
        return body

    def _point_alias(self, host, deployment_id, redirect):
        """Create the alias or move it in place: never delete-then-create, so it never dangles."""
        now = int(time.time() * 1000)
        alias = self._alias(host)
        answer = {}
        if alias is None:
            alias = {"alias": host, "uid": stable_id("alias_", host), "createdAt": now}
            self._state.setdefault("aliases", []).append(alias)
        elif alias["deploymentId"] != deployment_id:
            answer["oldDeploymentId"] = alias["deploymentId"]
        alias.update(deploymentId=deployment_id, updatedAt=now, redirect=redirect)
        return {"uid": alias["uid"], "alias": host, "created": iso(now), **answer}

    def rollback(self, request, identity, team_id, project_ref, ref):
        return self._repoint_production(team_id, project_ref, ref, "rollback")

    def promote(self, request, identity, team_id, project_ref, ref):
        return self._repoint_production(team_id, project_ref, ref, "promote")

    def _repoint_production(self, team_id, project_ref, ref, kind):
        """Point all the project's domains at the deployment at once; the job is done when this returns."""
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
        for domain in self._domains_of(project):
            self._point_alias(domain["name"], deployment["id"], None)
        project["lastAliasRequest"] = {"fromDeploymentId": live and live["id"], "toDeploymentId": deployment["id"],
                                       "jobStatus": "succeeded", "requestedAt": int(time.time() * 1000),
                                       "type": kind}
        return no_content(201)
