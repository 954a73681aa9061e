"""Fake of the parts of Semaphore UI's API that playbooks/semaphore_configure.yml uses.

Follows semaphoreui/semaphore's ``api-docs.yml`` (Swagger 2.0, ``basePath: /api``) and, where that document is
silent, the server's own code (``api/router.go``, ``api/auth.go``, ``api/projects/*.go``, ``db/*.go``):

* every path but ``/api/ping`` needs ``Authorization: Bearer <API token>``; a missing or unknown token is a 401
  with an empty body;
* ``/api/projects`` lists the projects the token's user belongs to; every ``/api/project/{id}/...`` path answers
  404 for a project that does not exist and 403 to a user who is not in it, or whose role (``task_runner``,
  ``guest``) may not manage the project's resources;
* lists (``keys``, ``repositories``, ``inventory``, ``environment``, ``templates``) take ``sort`` and ``order``;
* POST answers 201 with the object, PUT and DELETE 204 with no body; a PUT whose body's ``id`` or ``project_id``
  differs from the path's is a 400; an unknown object is a 404 with an empty body;
* refusals are 400 with ``{"error": "..."}``: an environment without a name, extra variables or environment
  variables that are not a JSON object (environment variables must be scalars), a secret of another type than
  ``env`` or ``var``; a template without a name or playbook, an ansible template without an inventory, an unknown
  app, arguments that are not JSON, a repository, inventory, environment or vault key of another project; a
  schedule whose ``cron_format`` robfig/cron's ``ParseStandard`` (what Semaphore uses) cannot parse
  (``{"error": "Cron: ..."}``);
* environment secrets are write-only: the API shows their ``id``, ``name`` and ``type``, never the value; the
  fake keeps the values in its state (``secrets``) so that tests can check what was sent;
* deleting a template deletes its schedules, as the database's foreign key does.

Tests read everything through ``state()``; ``next_id`` numbers every new object.
"""
import copy
import json
import re
import zoneinfo

from ._base import JSON_TYPE, FakeServer, Response

API = "/api"
APPS = ("ansible", "terraform", "tofu", "terragrunt", "bash", "powershell", "python", "pulumi")
MANAGERS = ("owner", "manager")
SECRET_TYPES = ("env", "var")
LISTS = {"keys": "keys", "repositories": "repositories", "inventory": "inventories",
         "environment": "environments", "templates": "templates"}
TEMPLATE_DEFAULTS = {"inventory_id": None, "repository_id": None, "environment_id": None, "view_id": None,
                     "name": "", "playbook": "", "arguments": None, "description": "", "app": "ansible", "type": "",
                     "allow_override_args_in_task": False, "allow_override_branch_in_task": False,
                     "allow_parallel_tasks": False, "suppress_success_alerts": False, "autorun": False,
                     "git_branch": None, "start_version": None, "build_template_id": None, "survey_vars": [],
                     "vaults": [], "task_params": {}, "runner_tag": None}

# robfig/cron v3: the bounds of each field of a standard (five-field) line, and the names it reads.
CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
               ("month", 1, 12, {name: number + 1 for number, name in enumerate(
                   "jan feb mar apr may jun jul aug sep oct nov dec".split())}),
               ("day of week", 0, 6, {name: number for number, name in enumerate(
                   "sun mon tue wed thu fri sat".split())}))
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
EVERY = re.compile("^@every (\\d+(\\.\\d+)?(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$")


def semaphore_error(status, message=None):
    """Semaphore's refusals: ``{"error": ...}``, or an empty body (still labelled JSON, as the server does)."""
    return Response(status, {"error": message}) if message is not None else no_content(status)


def no_content(status=204):
    return Response(status, "", content_type=JSON_TYPE)


def cron_problem(line):
    """Why robfig/cron's ParseStandard refuses a line, in its words, or None when it parses."""
    line = str(line)
    if line.startswith(("TZ=", "CRON_TZ=")):
        zone, line = line.split(" ", 1) if " " in line else (line, "")
        zone = zone.split("=", 1)[1]
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"provided bad location {zone}: unknown time zone {zone}"
    if not line.strip():
        return "empty spec string"
    if line.startswith("@"):
        return None if line in CRON_DESCRIPTORS or EVERY.match(line) else f"unrecognized descriptor: {line}"
    fields = line.split()
    if len(fields) != len(CRON_FIELDS):
        return f"expected exactly 5 fields, found {len(fields)}: {fields}"
    for text, (_field, low, high, names) in zip(fields, CRON_FIELDS):
        for part in text.split(","):
            problem = _range_problem(part, low, high, names)
            if problem:
                return problem
    return None


def _range_problem(part, low, high, names):
    range_and_step = part.split("/")
    if len(range_and_step) > 2 or not range_and_step[0]:
        return f"too many slashes: {part}" if len(range_and_step) > 2 else f"failed to parse int from {part}"
    bounds = range_and_step[0].split("-")
    if len(bounds) > 2:
        return f"too many hyphens: {part}"
    if bounds[0] in ("*", "?"):
        if len(bounds) > 1:
            return f"failed to parse int from {part}"
        start, end = low, high
    else:
        try:
            start = _cron_number(bounds[0], names)
            end = _cron_number(bounds[1], names) if len(bounds) > 1 else start
        except ValueError as exc:
            return str(exc)
    if len(range_and_step) == 2:
        try:
            step = int(range_and_step[1])
        except ValueError:
            return f"failed to parse int from {range_and_step[1]}"
        if step <= 0:
            return "step of range should be a positive number"
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {part}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {part}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {part}"
    return None


def _cron_number(text, names):
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"failed to parse int from {text}")
    return int(text)


def _json_object(text, scalars):
    """None when ``text`` is empty or a JSON object (of scalar values when ``scalars``), else why not."""
    if text in (None, ""):
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return "must be valid JSON"
    if not isinstance(value, dict):
        return "must be valid JSON"
    if "" in value:
        return "key can not be empty"
    if scalars and any(isinstance(item, (dict, list)) for item in value.values()):
        return "values must be scalar"
    return None


class SemaphoreServer(FakeServer):
    """Seed: ``tokens`` ({token: user id}), ``users`` ([{id, name, admin}]), ``projects`` ([{id, name, users:
    {user id: role}}]), ``keys``, ``repositories``, ``inventories``, ``environments``, ``secrets``, ``templates``,
    ``schedules`` (lists of objects with ``id`` and ``project_id``) and ``next_id``."""

    def __init__(self, seed, port=0, ssl_context=None):
        super().__init__(self._complete(seed), port, ssl_context)

    def load(self, seed):
        super().load(self._complete(seed))

    @staticmethod
    def _complete(seed):
        seed = copy.deepcopy(seed)
        for name in ("tokens", "users", "projects", "keys", "repositories", "inventories", "environments",
                     "secrets", "templates", "schedules"):
            seed.setdefault(name, {} if name == "tokens" else [])
        seed.setdefault("next_id", 1000)
        return seed

    # ----- helpers ---------------------------------------------------------
    def _new_id(self):
        self._state["next_id"] += 1
        return self._state["next_id"]

    def _user(self, request):
        scheme, _space, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        user_id = self._state["tokens"].get(token.strip())
        return next((user for user in self._state["users"] if user["id"] == user_id), None)

    def _find(self, kind, project_id, object_id):
        return next((item for item in self._state[kind]
                     if item["id"] == object_id and item["project_id"] == project_id), None)

    def _in_project(self, kind, project_id, object_id):
        return object_id is None or self._find(kind, project_id, object_id) is not None

    @staticmethod
    def _sorted(items, request):
        key = request.query.get("sort") or "name"
        ordered = sorted(items, key=lambda item: (str(item.get(key, "")).lower(), item["id"]))
        return ordered[::-1] if request.query.get("order") == "desc" else ordered

    def _environment_view(self, environment, with_secrets):
        view = copy.deepcopy(environment)
        if with_secrets:
            view["secrets"] = [{"id": secret["id"], "name": secret["name"], "type": secret["type"], "secret": ""}
                               for secret in self._state["secrets"]
                               if secret["environment_id"] == environment["id"]]
        return view

    def _template_view(self, template):
        return {**TEMPLATE_DEFAULTS, **copy.deepcopy(template),
                "tasks": 0, "last_task": None}

    # ----- routing ---------------------------------------------------------
    def handle_request(self, request):
        path = request.path.rstrip("/")
        if not path.startswith(API):
            return semaphore_error(404)
        path = path[len(API):]
        if path == "/ping":
            return Response(200, "pong")
        user = self._user(request)
        if user is None:
            return semaphore_error(401)
        if path == "/info" and request.method == "GET":
            return Response(200, {"version": "2.16.14-fake", "ansible": "", "web_host": "",
                                  "use_remote_runner": False, "schedule_timezone": "UTC"})
        if path == "/projects" and request.method == "GET":
            return Response(200, [self._project_view(project) for project in self._state["projects"]
                                  if user.get("admin") or str(user["id"]) in project.get("users", {})])
        match = re.match(r"^/project/(\d+)(/.*)?$", path)
        if not match:
            return semaphore_error(404)
        project = next((p for p in self._state["projects"] if p["id"] == int(match.group(1))), None)
        if project is None:
            return semaphore_error(404)
        role = "owner" if user.get("admin") else project.get("users", {}).get(str(user["id"]))
        if role is None:
            return semaphore_error(403)
        rest = match.group(2) or ""
        if rest == "" and request.method == "GET":
            return Response(200, self._project_view(project))
        if role not in MANAGERS:
            return semaphore_error(403)
        try:
            body = request.json() if request.method in ("POST", "PUT") else None
        except ValueError:
            return semaphore_error(400)
        if request.method in ("POST", "PUT") and not isinstance(body, dict):
            return semaphore_error(400)
        return self._project_route(project["id"], request.method, rest, body, request)

    @staticmethod
    def _project_view(project):
        return {key: value for key, value in project.items() if key != "users"}

    def _project_route(self, project_id, method, rest, body, request):
        parts = rest.strip("/").split("/")
        kind = parts[0]
        if len(parts) == 1 and kind in LISTS and method == "GET":
            items = [item for item in self._state[LISTS[kind]] if item["project_id"] == project_id]
            if kind == "templates":
                items = [self._template_view(item) for item in items]
            return Response(200, self._sorted(items, request))
        if kind == "environment":
            return self._environment_route(project_id, method, parts[1:], body)
        if kind == "templates":
            return self._template_route(project_id, method, parts[1:], body)
        if kind == "schedules":
            return self._schedule_route(project_id, method, parts[1:], body)
        return semaphore_error(404)

    # ----- environments ------------------------------------------------------
    def _environment_route(self, project_id, method, parts, body):
        if not parts:
            if method != "POST":
                return semaphore_error(405)
            if body.get("project_id") != project_id:
                return semaphore_error(400, "Project ID in body and URL must be the same")
            problem = self._environment_problem(body)
            if problem:
                return semaphore_error(400, problem)
            environment = self._environment_fields(body, self._new_id(), project_id)
            self._state["environments"].append(environment)
            problem = self._apply_secrets(environment, body.get("secrets") or [])
            if problem:
                return semaphore_error(400, problem)
            return Response(201, {**copy.deepcopy(environment), "secrets": []})
        if len(parts) != 1 or not parts[0].isdigit():
            return semaphore_error(404)
        environment = self._find("environments", project_id, int(parts[0]))
        if environment is None:
            return semaphore_error(404)
        if method == "GET":
            return Response(200, self._environment_view(environment, with_secrets=True))
        if method == "DELETE":
            if any(t.get("environment_id") == environment["id"] for t in self._state["templates"]):
                return Response(400, {"error": "Environment is in use by one or more templates", "inUse": True})
            self._state["environments"].remove(environment)
            self._state["secrets"] = [s for s in self._state["secrets"] if s["environment_id"] != environment["id"]]
            return no_content()
        if method != "PUT":
            return semaphore_error(405)
        if body.get("id") != environment["id"]:
            return semaphore_error(400, "Environment ID in body and URL must be the same")
        if body.get("project_id") != project_id:
            return semaphore_error(400, "Project ID in body and URL must be the same")
        problem = self._environment_problem(body)
        if problem:
            return semaphore_error(400, problem)
        environment.update(self._environment_fields(body, environment["id"], project_id))
        problem = self._apply_secrets(environment, body.get("secrets") or [])
        if problem:
            return semaphore_error(400, problem)
        return no_content()

    @staticmethod
    def _environment_problem(body):
        if not body.get("name"):
            return "Environment name can not be empty"
        problem = _json_object(body.get("json"), scalars=False)
        if problem:
            return "Extra variables " + problem
        problem = _json_object(body.get("env"), scalars=True)
        if problem:
            return "Environment variables " + problem
        return None

    @staticmethod
    def _environment_fields(body, environment_id, project_id):
        return {"id": environment_id, "project_id": project_id, "name": body["name"],
                "json": body.get("json") or "", "env": body.get("env"), "password": body.get("password")}

    def _apply_secrets(self, environment, secrets):
        """Semaphore's updateEnvironmentSecrets: create, update (a new value only when one is given) or delete."""
        for secret in secrets:
            if not isinstance(secret, dict) or secret.get("type") not in SECRET_TYPES:
                return "invalid environment secret type"
            operation = secret.get("operation")
            if operation == "create":
                self._state["secrets"].append({
                    "id": self._new_id(), "project_id": environment["project_id"],
                    "environment_id": environment["id"], "name": secret.get("name", ""), "type": secret["type"],
                    "secret": secret.get("secret", "")})
                continue
            if operation not in ("update", "delete"):
                continue  # Semaphore passes over a secret without an operation
            stored = next((s for s in self._state["secrets"] if s["id"] == secret.get("id")), None)
            if stored is None or stored["environment_id"] != environment["id"]:
                return "secret does not belong to this environment"
            if operation == "delete":
                self._state["secrets"].remove(stored)
            else:
                stored["name"] = secret.get("name", stored["name"])
                if secret.get("secret"):
                    stored["secret"] = secret["secret"]
        return None

    # ----- templates -----------------------------------------------------------
    def _template_route(self, project_id, method, parts, body):
        if not parts:
            if method != "POST":
                return semaphore_error(405)
            body = {**body, "project_id": project_id}  # AddTemplate takes the project from the path
            problem = self._template_problem(project_id, body)
            if problem:
                return semaphore_error(400, problem)
            template = self._template_fields(body, self._new_id(), project_id)
            self._state["templates"].append(template)
            return Response(201, self._template_view(template))
        if not parts[0].isdigit():
            return semaphore_error(404)
        template = self._find("templates", project_id, int(parts[0]))
        if template is None:
            return semaphore_error(404)
        if parts[1:] == ["schedules"] and method == "GET":
            return Response(200, [copy.deepcopy(s) for s in self._state["schedules"]
                                  if s["template_id"] == template["id"] and s["project_id"] == project_id])
        if len(parts) != 1:
            return semaphore_error(404)
        if method == "GET":
            return Response(200, self._template_view(template))
        if method == "DELETE":
            self._state["templates"].remove(template)
            self._state["schedules"] = [s for s in self._state["schedules"] if s["template_id"] != template["id"]]
            return no_content()
        if method != "PUT":
            return semaphore_error(405)
        if body.get("id") != template["id"]:
            return semaphore_error(400, "template id in URL and in body must be the same")
        if body.get("project_id") != project_id:
            return semaphore_error(400, "You can not move template to other project")
        problem = self._template_problem(project_id, body)
        if problem:
            return semaphore_error(400, problem)
        template.clear()
        template.update(self._template_fields(body, int(parts[0]), project_id))
        return no_content()

    def _template_problem(self, project_id, body):
        app = body.get("app") or "ansible"
        if app not in APPS:
            return "Invalid app id: " + app
        if app == "ansible" and body.get("inventory_id") is None:
            return "template inventory can not be empty"
        if not body.get("name"):
            return "template name can not be empty"
        if not body.get("playbook"):
            return "template playbook can not be empty"
        arguments = body.get("arguments")
        if arguments not in (None, ""):
            try:
                json.loads(arguments)
            except (TypeError, ValueError):
                return "template arguments must be valid JSON"
        for kind, field in (("inventories", "inventory_id"), ("repositories", "repository_id"),
                            ("environments", "environment_id")):
            if not self._in_project(kind, project_id, body.get(field)):
                return f"{field} {body.get(field)} is not an object of this project"
        for vault in body.get("vaults") or []:
            if vault.get("type", "password") == "password" and \
                    self._find("keys", project_id, vault.get("vault_key_id")) is None:
                return f"vault key {vault.get('vault_key_id')} is not a key of this project"
        return None

    def _template_fields(self, body, template_id, project_id):
        fields = {key: copy.deepcopy(body.get(key, default)) for key, default in TEMPLATE_DEFAULTS.items()}
        fields["app"] = fields["app"] or "ansible"
        fields["arguments"] = fields["arguments"] or None
        fields["description"] = fields["description"] or ""
        fields["vaults"] = [{"id": self._new_id(), "template_id": template_id, "name": vault.get("name"),
                             "type": vault.get("type", "password"), "vault_key_id": vault.get("vault_key_id"),
                             "script": vault.get("script")} for vault in body.get("vaults") or []]
        return {"id": template_id, "project_id": project_id, **fields}

    # ----- schedules -----------------------------------------------------------
    def _schedule_route(self, project_id, method, parts, body):
        if not parts:
            if method == "GET":
                return Response(200, [copy.deepcopy(s) for s in self._state["schedules"]
                                      if s["project_id"] == project_id])
            if method != "POST":
                return semaphore_error(405)
            problem = self._schedule_problem(project_id, body)
            if problem:
                return semaphore_error(400, problem)
            schedule = self._schedule_fields(body, self._new_id(), project_id)
            self._state["schedules"].append(schedule)
            return Response(201, copy.deepcopy(schedule))
        if parts == ["validate"] and method == "POST":
            problem = cron_problem(body.get("cron_format", ""))
            return semaphore_error(400, "Cron: " + problem) if problem else no_content(200)
        if not parts[0].isdigit():
            return semaphore_error(404)
        schedule = self._find("schedules", project_id, int(parts[0]))
        if schedule is None:
            return semaphore_error(404)
        if parts[1:] == ["active"] and method == "PUT":
            schedule["active"] = bool(body.get("active"))
            return no_content()
        if len(parts) != 1:
            return semaphore_error(404)
        if method == "GET":
            return Response(200, copy.deepcopy(schedule))
        if method == "DELETE":
            self._state["schedules"].remove(schedule)
            return no_content()
        if method != "PUT":
            return semaphore_error(405)
        if body.get("id") != schedule["id"]:
            return semaphore_error(400, "schedule id in URL and in body must be the same")
        if body.get("project_id") != project_id:
            return semaphore_error(400, "You can not move schedule to other project")
        problem = self._schedule_problem(project_id, body)
        if problem:
            return semaphore_error(400, problem)
        schedule.update(self._schedule_fields(body, schedule["id"], project_id))
        return no_content()

    def _schedule_problem(self, project_id, body):
        if body.get("type", "") not in ("", "run_at"):
            return f"unknown schedule type {body.get('type')}"
        if body.get("type", "") == "":
            problem = cron_problem(body.get("cron_format", ""))
            if problem:
                return "Cron: " + problem
        if self._find("templates", project_id, body.get("template_id")) is None:
            return f"template {body.get('template_id')} is not a template of this project"
        return None

    @staticmethod
    def _schedule_fields(body, schedule_id, project_id):
        return {"id": schedule_id, "project_id": project_id, "template_id": body.get("template_id"),
                "cron_format": body.get("cron_format", ""), "name": body.get("name", ""),
                "active": bool(body.get("active", False)), "type": body.get("type", ""),
                "repository_id": body.get("repository_id"), "delete_after_run": bool(body.get("delete_after_run")),
                "run_at": body.get("run_at"), "task_params": copy.deepcopy(body.get("task_params") or {})}
