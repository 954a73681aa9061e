"""Fake of the parts of the AWX API v2 that the awx.awx collection's modules and its controller_api lookup use.

Follows AWX's own documents and code, read in ansible/awx: docs/schedules.md (RRULE limitations),
docs/credentials/custom_credential_types.md (inputs and injectors), the survey spec view
(``JobTemplateSurveySpec._validate_spec_data``), ``SurveyJobTemplateMixin`` (how a schedule's extra data meets the
survey) and the credential type fields' validation. Paths are ``/api/v2/<kind>/`` and ``/api/v2/<kind>/<id>/`` with
the trailing slash; lists take exact ``?field=value`` filters and ``__startswith``, ``__icontains``, ``__in``,
``__isnull`` lookups, ``or__`` terms, ``page`` and ``page_size``, and answer ``{count, next, previous, results}``
with ``next`` a path of the next page. Refusals are 400 with AWX's bodies: ``{"field": ["message"]}``,
``{"__all__": [...]}``, the survey view's ``{"error": "..."}``, and ``variables_needed_to_start`` for a schedule
that leaves a required question unanswered.

Where the fake chooses, it says so here:

* Sign-in is a bearer token of ``tokens`` in the state, or one minted at ``POST /api/v2/tokens/`` with the basic
  auth of a ``users`` entry (as the modules do given a user and password); ``/api/v2/ping/`` needs none.
* A project's SCM update finishes at once, successfully, when the project is made or its source changes.
  ``project_playbooks`` in the state, when present, are the playbooks every project holds, and a job template
  must name one of them.
* Secret credential inputs read back as ``$encrypted$``; sending ``$encrypted$`` keeps the stored value.
* ``next_run`` is computed with dateutil from the stored RRULE, as AWX does, after the fake's clock (``now`` in the
  state, ISO 8601; default the real time).
"""
import copy
import base64
import datetime
import re
from urllib.parse import urlencode

from dateutil import rrule as dateutil_rrule
from dateutil import tz
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ._base import FakeServer, Response

API = "/api/v2/"
VERSION = "24.6.1"
ENCRYPTED = "$encrypted$"
PAGE_SIZE, MAX_PAGE_SIZE = 25, 200
KINDS = ("organizations", "credential_types", "credentials", "projects", "project_updates", "inventories",
         "inventory_sources", "job_templates", "schedules", "execution_environments")
TYPE_OF = {"organizations": "organization", "credential_types": "credential_type", "credentials": "credential",
           "projects": "project", "project_updates": "project_update", "inventories": "inventory",
           "inventory_sources": "inventory_source", "job_templates": "job_template", "schedules": "schedule",
           "execution_environments": "execution_environment"}
# What a new object holds before the request's fields; a field not listed here is not writable (and, as in
# Django REST framework, an unknown field in a request is passed over).
FIELDS = {
    "organizations": {"name": "", "description": "", "max_hosts": 0, "custom_virtualenv": None,
                      "default_environment": None},
    "credential_types": {"name": "", "description": "", "kind": "cloud", "inputs": {}, "injectors": {},
                         "managed": False, "namespace": None},
    "credentials": {"name": "", "description": "", "organization": None, "credential_type": None, "inputs": {},
                    "managed": False},
    "projects": {"name": "", "description": "", "organization": None, "scm_type": "", "scm_url": "",
                 "scm_branch": "", "scm_refspec": "", "scm_clean": False, "scm_track_submodules": False,
                 "scm_delete_on_update": False, "credential": None, "timeout": 0, "scm_update_on_launch": False,
                 "scm_update_cache_timeout": 0, "allow_override": False, "custom_virtualenv": None,
                 "default_environment": None, "signature_validation_credential": None, "local_path": ""},
    "inventories": {"name": "", "description": "", "organization": None, "kind": "", "host_filter": None,
                    "variables": "", "prevent_instance_group_fallback": False},
    "inventory_sources": {"name": "", "description": "", "inventory": None, "source": "", "source_path": "",
                          "source_project": None, "source_vars": "", "scm_branch": "", "credential": None,
                          "enabled_var": "", "enabled_value": "", "host_filter": "", "overwrite": False,
                          "overwrite_vars": False, "custom_virtualenv": None, "timeout": 0, "verbosity": 1,
                          "limit": "", "update_on_launch": False, "update_cache_timeout": 0,
                          "execution_environment": None},
    "job_templates": {"name": "", "description": "", "job_type": "run", "inventory": None, "project": None,
                      "playbook": "", "scm_branch": "", "forks": 0, "limit": "", "verbosity": 0, "extra_vars": "",
                      "job_tags": "", "force_handlers": False, "skip_tags": "", "start_at_task": "", "timeout": 0,
                      "use_fact_cache": False, "organization": None, "execution_environment": None,
                      "host_config_key": "", "survey_enabled": False, "become_enabled": False, "diff_mode": False,
                      "allow_simultaneous": False, "custom_virtualenv": None, "job_slice_count": 1,
                      "webhook_service": "", "webhook_credential": None, "prevent_instance_group_fallback": False,
                      **{f"ask_{name}_on_launch": False for name in (
                          "scm_branch", "diff_mode", "variables", "limit", "tags", "skip_tags", "job_type",
                          "verbosity", "inventory", "credential", "execution_environment", "labels", "forks",
                          "job_slice_count", "timeout", "instance_groups")}},
    "schedules": {"name": "", "description": "", "unified_job_template": None, "enabled": True, "rrule": "",
                  "extra_data": {}, "inventory": None, "scm_branch": None, "job_type": None, "job_tags": None,
                  "skip_tags": None, "limit": None, "diff_mode": None, "verbosity": None,
                  "execution_environment": None, "forks": None, "job_slice_count": None, "timeout": None},
    "execution_environments": {"name": "", "description": "", "image": "", "organization": None, "pull": "",
                               "credential": None},
}
# (field, kind it names) of each foreign key.
FOREIGN = {"organization": "organizations", "credential_type": "credential_types", "credential": "credentials",
           "inventory": "inventories", "project": "projects", "source_project": "projects",
           "execution_environment": "execution_environments", "default_environment": "execution_environments",
           "signature_validation_credential": "credentials", "webhook_credential": "credentials"}
# The prompts a schedule may carry, and the template's field that allows each.
PROMPTS = {"inventory": "ask_inventory_on_launch", "scm_branch": "ask_scm_branch_on_launch",
           "job_type": "ask_job_type_on_launch", "job_tags": "ask_tags_on_launch",
           "skip_tags": "ask_skip_tags_on_launch", "limit": "ask_limit_on_launch", "diff_mode": "ask_diff_mode_on_launch",
           "verbosity": "ask_verbosity_on_launch", "execution_environment": "ask_execution_environment_on_launch",
           "forks": "ask_forks_on_launch", "job_slice_count": "ask_job_slice_count_on_launch",
           "timeout": "ask_timeout_on_launch"}
# (name of the model in AWX's messages, the fields that make one unique) of each kind.
UNIQUE = {"organizations": ("Organization", ("name",)), "credential_types": ("Credential Type", ("name", "kind")),
          "credentials": ("Credential", ("organization", "name", "credential_type")),
          "projects": ("Project", ("name", "organization")), "inventories": ("Inventory", ("name", "organization")),
          "inventory_sources": ("Inventory source", ("name", "inventory")),
          "job_templates": ("Job Template", ("name", "organization")),
          "schedules": ("Schedule", ("name", "unified_job_template")),
          "execution_environments": ("Execution Environment", ("name",))}
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": float}
CREDENTIAL_FIELD_KEYS = {"id", "label", "type", "help_text", "format", "secret", "multiline", "choices", "default",
                         "ask_at_runtime"}
INPUT_ID = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
ENV_BLOCKLIST = {"VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
                 "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES",
                 "CALLBACK_QUEUE", "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS",
                 "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH"}
UNIFIED = ("job_templates", "projects", "inventory_sources")
ROUTE = re.compile(r"^/api/v2/(?P<kind>[a-z_]+)/(?:(?P<id>\d+)/(?:(?P<sub>[a-z_]+)/)?)?$")


class Invalid(Exception):
    """A request AWX refuses: answered with ``body`` and ``status``."""

    def __init__(self, body, status=400):
        super().__init__(body)
        self.body, self.status = body, status


def field_error(field, message):
    return Invalid({field: [message]})


def awx_error(message):
    """The survey view's and the attach views' form of an error."""
    return Invalid({"error": message})


# ----- what AWX checks ----------------------------------------------------------------------------------------
def utc(moment):
    """A moment as AWX shows it, in UTC; None stays None."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def check_rrule(value):
    """AWX's limits on a schedule's RRULE (docs/schedules.md, SchedulePreviewSerializer.validate_rrule)."""
    if not isinstance(value, str) or not value.strip():
        raise field_error("rrule", "This field may not be blank.")
    errors = []
    if not re.findall(r".*?(DTSTART(;[^:]+)?\:[0-9]+T[0-9]+Z?)", value):
        errors.append("Valid DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ")
    if re.findall(r".*?(DTSTART:[0-9]+T[0-9]+) ", value):
        errors.append("DTSTART cannot be a naive datetime.  Specify ;TZINFO= or YYYYMMDDTHHMMSSZZ.")
    if len(re.findall(r".*?(DTSTART(;[^:]+)?\:[0-9]+T[0-9]+Z?)", value)) > 1:
        errors.append("Multiple DTSTART is not supported.")
    if "rrule:" not in value.lower():
        errors.append("One or more rule required in rrule.")
    if "exdate:" in value.lower():
        raise field_error("rrule", "EXDATE not allowed in rrule.")
    if "rdate:" in value.lower():
        raise field_error("rrule", "RDATE not allowed in rrule.")
    for rule in re.findall(r".*?(RULE\:[^\s]*)", value):
        if "interval" not in rule.lower():
            errors.append(f"INTERVAL required in rrule: {rule}")
        elif "secondly" in rule.lower():
            errors.append(f"SECONDLY is not supported: {rule}")
        if re.match(r".*?BYDAY[\:\=][0-9]+[a-zA-Z]{2}", rule):
            errors.append(f"BYDAY with numeric prefix not supported: {rule}")
        if "COUNT" in rule and "UNTIL" in rule:
            errors.append(f"RRULE may not contain both COUNT and UNTIL: {rule}")
        count = re.match(r".*?(COUNT\=[0-9]+)", rule)
        if count and int(count.group(1).split("=")[1]) > 999:
            errors.append(f"COUNT > 999 is unsupported: {rule}")
    try:
        rule_set(value)
    except ValueError as exc:
        errors.append(f"rrule parsing failed validation: {exc}")
    if errors:
        raise Invalid({"rrule": errors})


def rule_set(value):
    """The RRULE as AWX reads it: dateutil's rrulestr, with a start that must name its time zone."""
    rules = dateutil_rrule.rrulestr(value, forceset=True, tzinfos={"UTC": tz.tzutc()})
    for rule in rules._rrule:  # pylint: disable=protected-access
        if rule._dtstart is None or rule._dtstart.tzinfo is None:  # pylint: disable=protected-access
            raise ValueError("A valid TZID must be provided (e.g., America/New_York)")
    return rules


def check_survey(new_spec, old_spec):
    """The survey spec view's rules, with its messages; returns the spec as AWX stores it."""
    if not isinstance(new_spec, dict):
        raise awx_error("Survey spec must be a JSON object.")
    new_spec = copy.deepcopy(new_spec)
    for name, kind, label in (("name", str, "string"), ("description", str, "string"), ("spec", list, "list of items")):
        if name not in new_spec:
            raise awx_error(f"Field '{name}' is missing from survey spec.")
        if not isinstance(new_spec[name], kind):
            raise awx_error(f"Expected {label} for field '{name}', received {type(new_spec[name]).__name__} type.")
    if not new_spec["spec"]:
        raise awx_error("'spec' doesn't contain any items.")
    old = {item.get("variable"): item for item in (old_spec or {}).get("spec", []) if isinstance(item, dict)}
    variables = set()
    for index, item in enumerate(new_spec["spec"]):
        if not isinstance(item, dict):
            raise awx_error(f"Survey question {index} is not a json object.")
        for name in ("type", "question_name", "variable", "required"):
            if name not in item:
                raise awx_error(f"'{name}' missing from survey question {index}")
            wanted, label = (bool, "boolean") if name == "required" else (str, "string")
            if not isinstance(item[name], wanted):
                raise awx_error(f"'{name}' in survey question {index} expected to be {label}.")
        if item["variable"] in variables:
            raise awx_error(f"'variable' '{item['variable']}' duplicated in survey question {index}.")
        variables.add(item["variable"])
        kind = item["type"]
        if kind not in SURVEY_TYPES:
            raise awx_error(f"'{kind}' in survey question {index} is not one of '{', '.join(SURVEY_TYPES)}' allowed "
                            "question types.")
        if "default" in item and item["default"] != "" and not isinstance(item["default"], SURVEY_TYPES[kind]):
            label = kind if kind in ("integer", "float") else "string"
            raise awx_error(f"Default value {item['default']} in survey question {index} expected to be {label}.")
        for name in ("min", "max"):
            if name in item and item[name] is not None and not isinstance(item[name], int):
                raise awx_error(f"The {name} limit in survey question {index} expected to be integer.")
        if kind in ("multiplechoice", "multiselect"):
            if "choices" not in item:
                raise awx_error(f"Survey question {index} of type {kind} must specify choices.")
            if isinstance(item["choices"], str):
                item["choices"] = "\n".join(c for c in item["choices"].splitlines() if c.strip() != "")
            if "default" in item:
                if isinstance(item["default"], str):
                    item["default"] = "\n".join(c for c in item["default"].splitlines() if c.strip() != "")
                    defaults = item["default"].splitlines()
                else:
                    defaults = item["default"]
                if kind == "multiplechoice" and len(defaults) > 1:
                    raise awx_error("Multiple Choice (Single Select) can only have one default value.")
                if any(default not in item["choices"] for default in defaults):
                    raise awx_error("Default choice must be answered from the choices listed.")
        if isinstance(item.get("default"), str) and item["default"].startswith(ENCRYPTED):
            if kind != "password":
                raise awx_error(f"$encrypted$ is a reserved keyword for password question defaults, survey question "
                                f"{index} is type {kind}.")
            if "default" not in old.get(item["variable"], {}):
                raise awx_error(f"$encrypted$ is a reserved keyword, may not be used for new default in position "
                                f"{index}.")
            item["default"] = old[item["variable"]]["default"]
    return new_spec


def survey_errors(element, data):
    """SurveyJobTemplateMixin._survey_element_validation: what is wrong with the answer to one question."""
    variable, kind = element["variable"], element["type"]
    if variable not in data:
        return [f"'{variable}' value missing"] if element["required"] else []
    value = data[variable]
    choices = element.get("choices", [])
    if isinstance(choices, str):
        choices = [choice for choice in choices.splitlines() if choice.strip() != ""]
    if kind in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return [f"Value {value} for '{variable}' expected to be a string."]
        errors = []
        if element.get("min") not in ("", None) and len(value) < int(element["min"]):
            errors.append(f"'{variable}' value {value} is too small (length is {len(value)} must be at least "
                          f"{element['min']}).")
        if element.get("max") not in ("", None) and len(value) > int(element["max"]):
            errors.append(f"'{variable}' value {value} is too large (must be no more than {element['max']}).")
        return errors
    if kind in ("integer", "float"):
        wanted = (int,) if kind == "integer" else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            label = "an integer" if kind == "integer" else "a numeric type"
            return [f"Value {value} for '{variable}' expected to be {label}."]
        errors = []
        if element.get("min") not in ("", None) and value < element["min"]:
            errors.append(f"'{variable}' value {value} is too small (must be at least {element['min']}).")
        if element.get("max") not in ("", None) and value > element["max"]:
            errors.append(f"'{variable}' value {value} is too large (must be no more than {element['max']}).")
        return errors
    if kind == "multiselect":
        if not isinstance(value, list):
            return [f"'{variable}' value is expected to be a list."]
        return [f"Value {item} for '{variable}' expected to be one of {choices}." for item in value if item not in choices]
    if kind == "multiplechoice" and value not in choices:
        return [f"Value {value} for '{variable}' expected to be one of {choices}."]
    return []


def check_credential_type(inputs, injectors):
    """CredentialTypeInputField and CredentialTypeInjectorField: the inputs as AWX stores them."""
    if not isinstance(inputs, dict) or not isinstance(inputs.get("fields", []), list):
        raise field_error("inputs", "inputs must be an object with a list of fields.")
    inputs = copy.deepcopy(inputs)
    unknown = sorted(set(inputs) - {"fields", "required", "metadata"})
    if unknown:
        raise field_error("inputs", f"Additional properties are not allowed ({', '.join(map(repr, unknown))} "
                                    "were unexpected)")
    seen = set()
    for field in inputs.get("fields", []):
        if not isinstance(field, dict) or "id" not in field or "label" not in field:
            raise field_error("inputs", "Each field needs an id and a label.")
        extra = sorted(set(field) - CREDENTIAL_FIELD_KEYS)
        if extra:
            raise field_error("inputs", f"Additional properties are not allowed ({', '.join(map(repr, extra))} were "
                                        "unexpected)")
        if not isinstance(field["id"], str) or not INPUT_ID.match(field["id"]):
            raise field_error("inputs", f"{field['id']} is an invalid variable name")
        if field["id"] == "tower":
            raise field_error("inputs", '"tower" is a reserved field name')
        if field["id"] in seen:
            raise field_error("inputs", f"field IDs must be unique ({field['id']})")
        seen.add(field["id"])
        field.setdefault("type", "string")
        if field["type"] not in ("string", "boolean"):
            raise field_error("inputs", f"{field['type']!r} is not one of ['string', 'boolean']")
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[field["type"]]):
            raise field_error("inputs", f"{field['default']} is not a {field['type']}")
        for key in ("choices", "multiline", "format", "secret"):
            if key in field and field["type"] != "string":
                raise field_error("inputs", f"{key} not allowed for {field['type']} type ({field['id']})")
    if not isinstance(injectors, dict) or set(injectors) - {"file", "env", "extra_vars"}:
        raise field_error("injectors", "Additional properties are not allowed: injectors take file, env and "
                                       "extra_vars.")
    namespace = {field_id: "EXAMPLE" for field_id in seen}
    for kind, injector in injectors.items():
        for key, template in (injector or {}).items():
            if kind == "env":
                if not INPUT_ID.match(key):
                    raise field_error("injectors", f"{key!r} does not match '^[a-zA-Z_]+[a-zA-Z0-9_]*$'")
                if key.startswith("ANSIBLE_"):
                    raise field_error("injectors", f"Environment variable {key} may affect Ansible configuration so "
                                                   "its use is not allowed in credentials.")
                if key in ENV_BLOCKLIST:
                    raise field_error("injectors", f"Environment variable {key} is not allowed to be used in "
                                                   "credentials.")
            if not isinstance(template, str):
                raise field_error("injectors", f"{template!r} is not of type 'string'")
            try:
                ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(template).render(namespace)
            except UndefinedError as exc:
                raise field_error("injectors", f"{key} uses an undefined field ({exc})") from None
            except SecurityError as exc:
                raise field_error("injectors", f"Encountered unsafe code execution: {exc}") from None
            except TemplateSyntaxError as exc:
                raise field_error("injectors", f"Syntax error rendering template for {key} inside of {kind} ({exc})") \
                    from None
    return inputs


def complete(seed):
    """A seed with every object's fields, as AWX would hold them."""
    seed = copy.deepcopy(seed)
    for kind, defaults in FIELDS.items():
        seed[kind] = [{**copy.deepcopy(defaults), **item} for item in seed.get(kind, [])]
    for template in seed["job_templates"]:
        template.setdefault("survey_spec", {})
        template.setdefault("credentials", [])
    return seed


class AwxServer(FakeServer):
    """AWX's API v2 on 127.0.0.1. ``objects(kind)`` and ``find(kind, name)`` read what it holds."""

    def __init__(self, seed, port=0, ssl_context=None):
        super().__init__(complete(seed), port, ssl_context)

    def load(self, seed):
        super().load(complete(seed))

    def common_headers(self, request):
        return {"X-API-Product-Name": "AWX", "X-API-Product-Version": self._state.get("version", VERSION)}

    def default_fault_body(self, status):
        return {"detail": f"Injected {status}"} if status >= 400 else ""

    def redact(self, entry):
        # The request log keeps no credential input: their values are the services' secrets.
        if entry["path"].startswith(API + "credentials/") and isinstance(entry["body"], dict):
            if isinstance(entry["body"].get("inputs"), dict):
                entry["body"]["inputs"] = {key: "<redacted>" for key in entry["body"]["inputs"]}
        return entry

    # ----- reading the state (for tests) ---------------------------------------------------------------------------
    def objects(self, kind):
        """Every object of a kind, as the API shows it."""
        with self.lock:
            return [self._show(kind, item) for item in self._state.get(kind, [])]

    def find(self, kind, name, **fields):
        """The object of a kind with this name (and these fields), as the API shows it, or None."""
        found = [item for item in self.objects(kind)
                 if item["name"] == name and all(item.get(k) == v for k, v in fields.items())]
        assert len(found) <= 1, found
        return found[0] if found else None

    def stored(self, kind, object_id):
        """An object as stored: secrets in clear, a template's survey and credentials included."""
        with self.lock:
            return copy.deepcopy(self._get(kind, object_id))

    def writes(self):
        """The requests that could have changed something."""
        return [r for r in self.requests() if r["method"] not in ("GET", "HEAD", "OPTIONS")]

    # ----- requests ------------------------------------------------------------------------------------------------
    def handle_request(self, request):
        if request.method == "GET" and request.path == API + "ping/":
            return Response(200, {"ha": False, "version": self._state.get("version", VERSION),
                                  "active_node": "awx-fake", "install_uuid": "00000000-fake", "instances": [],
                                  "instance_groups": []})
        if request.path == API + "tokens/" or request.path.startswith(API + "tokens/"):
            return self._tokens(request)
        if not self._signed_in(request):
            return Response(401, {"detail": "Authentication credentials were not provided. To establish a login "
                                            "session, visit /api/login/."})
        if request.method == "GET" and request.path == API + "me/":
            return Response(200, {"count": 1, "next": None, "previous": None,
                                  "results": [{"id": 1, "type": "user", "username": "admin", "is_superuser": True}]})
        match = ROUTE.match(request.path)
        if not match or (match["kind"] not in KINDS and match["kind"] != "unified_job_templates"):
            return Response(404, {"detail": "Not found."})
        kind, object_id, sub = match["kind"], match["id"] and int(match["id"]), match["sub"]
        try:
            body = self._body(request)
            return self._dispatch(request, kind, object_id, sub, body)
        except Invalid as exc:
            return Response(exc.status, exc.body)

    def _dispatch(self, request, kind, object_id, sub, body):
        method = request.method
        if kind == "unified_job_templates" and object_id is None and method == "GET":
            return self._list(request, self._unified_job_templates())
        if object_id is None:
            if method == "GET":
                return self._list(request, [self._show(kind, item) for item in self._state.get(kind, [])])
            if method == "POST" and kind not in ("project_updates",):
                return Response(201, self._shown_once(kind, self._create(kind, body)))
            return self._not_allowed(method)
        item = self._get(kind, object_id)
        if sub is None:
            if method == "GET":
                return Response(200, self._show(kind, item))
            if method in ("PATCH", "PUT") and kind != "project_updates":
                return Response(200, self._shown_once(kind, self._update(kind, item, body)))
            if method == "DELETE" and kind != "project_updates":
                self._delete(kind, item)
                return Response(204, "", content_type="")
            return self._not_allowed(method)
        return self._sub(request, kind, item, sub, body)

    def _sub(self, request, kind, item, sub, body):
        method = request.method
        if kind == "job_templates" and sub == "survey_spec":
            if method == "GET":
                return Response(200, self._display_survey(item.get("survey_spec") or {}))
            if method == "POST":
                item["survey_spec"] = check_survey(body, item.get("survey_spec"))
                return Response(200, "", content_type="")
            if method == "DELETE":
                item["survey_spec"] = {}
                return Response(200, "", content_type="")
        if kind == "job_templates" and sub == "credentials":
            if method == "GET":
                return self._list(request, [self._show("credentials", self._get("credentials", c))
                                            for c in item.get("credentials", [])])
            if method == "POST":
                return self._attach(item, body)
        if kind in ("job_templates", "projects", "inventory_sources") and sub == "schedules":
            if method == "GET":
                return self._list(request, [self._show("schedules", s) for s in self._state.get("schedules", [])
                                            if s["unified_job_template"] == item["id"]])
            if method == "POST":
                return Response(201, self._show("schedules", self._create("schedules", {
                    **body, "unified_job_template": item["id"]})))
        if kind == "projects" and sub == "playbooks" and method == "GET":
            return Response(200, self._project_playbooks())
        if kind == "projects" and sub == "update" and method == "POST":
            update = self._start_update(item)
            return Response(202, {"project_update": update["id"], "id": update["id"],
                                  "url": f"{API}project_updates/{update['id']}/"})
        return Response(404, {"detail": "Not found."})

    def _shown_once(self, kind, item):
        """The answer to a create or change: a project's update it started shows as running this once."""
        shown = self._show(kind, item)
        item.pop("_started_update", None)
        return shown

    @staticmethod
    def _not_allowed(method):
        return Response(405, {"detail": f'Method "{method}" not allowed.'})

    @staticmethod
    def _body(request):
        if request.method not in ("POST", "PATCH", "PUT"):
            return {}
        if not request.body:
            return {}
        try:
            body = request.json()
        except ValueError:
            raise Invalid({"detail": "JSON parse error - Expecting value"}) from None
        if not isinstance(body, dict):
            raise Invalid({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        return body

    # ----- sign-in ---------------------------------------------------------------------------------------------------
    def _signed_in(self, request):
        scheme, _space, token = (request.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() in {t["token"] for t in self._state.get("tokens", [])}

    def _basic_user(self, request):
        scheme, _space, value = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _colon, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return next((u for u in self._state.get("users", [])
                     if u["username"] == username and u["password"] == password), None)

    def _tokens(self, request):
        user = self._basic_user(request)
        if user is None and not self._signed_in(request):
            return Response(401, {"detail": "Invalid username/password."})
        tokens = self._state.setdefault("tokens", [])
        if request.method == "POST" and request.path == API + "tokens/":
            token_id = self._next_id("tokens")
            token = {"id": token_id, "token": f"faketoken{token_id:04d}", "user": user["username"] if user else None}
            tokens.append(token)
            return Response(201, {**token, "type": "o_auth2_access_token", "url": f"{API}tokens/{token['id']}/"})
        match = re.match(r"^/api/v2/tokens/(\d+)/$", request.path)
        if request.method == "DELETE" and match:
            self._state["tokens"] = [t for t in tokens if t["id"] != int(match.group(1))]
            return Response(204, "", content_type="")
        return Response(404, {"detail": "Not found."})

    # ----- lists -----------------------------------------------------------------------------------------------------
    def _list(self, request, items):
        query = dict(request.query)
        try:
            page = int(query.pop("page", 1))
            size = min(int(query.pop("page_size", PAGE_SIZE)), MAX_PAGE_SIZE)
        except ValueError:
            raise Invalid({"detail": "Invalid page."}, 404) from None
        order = query.pop("order_by", "id")
        items = [item for item in items if self._matches(item, query)]
        reverse = order.startswith("-")
        items.sort(key=lambda item: (item.get(order.lstrip("-")) is None, item.get(order.lstrip("-"))),
                   reverse=reverse)
        pages = max(1, -(-len(items) // size))
        if page < 1 or page > pages:
            raise Invalid({"detail": "Invalid page."}, 404)

        def link(number):
            return f"{request.path}?{urlencode({**request.query, 'page': number})}"

        return Response(200, {"count": len(items), "next": link(page + 1) if page < pages else None,
                              "previous": link(page - 1) if page > 1 else None,
                              "results": items[(page - 1) * size:page * size]})

    def _matches(self, item, query):
        either = [(key[4:], value) for key, value in query.items() if key.startswith("or__")]
        every = [(key, value) for key, value in query.items() if not key.startswith("or__")]
        if either and not any(self._term(item, key, value) for key, value in either):
            return False
        return all(self._term(item, key, value) for key, value in every)

    @staticmethod
    def _term(item, key, value):
        name, _sep, lookup = key.partition("__")
        if name not in item:
            raise Invalid({"detail": f"Cannot resolve keyword '{name}' into field."})
        actual = item[name]
        text = ("true" if actual else "false") if isinstance(actual, bool) else ("" if actual is None else str(actual))
        wanted = value.lower() if isinstance(actual, bool) else value
        if lookup in ("", "exact"):
            return text == wanted if actual is not None else value in ("", "null", "None")
        if lookup == "iexact":
            return text.lower() == value.lower()
        if lookup == "startswith":
            return text.startswith(value)
        if lookup == "istartswith":
            return text.lower().startswith(value.lower())
        if lookup == "contains":
            return value in text
        if lookup == "icontains":
            return value.lower() in text.lower()
        if lookup == "in":
            return text in value.split(",")
        if lookup == "isnull":
            return (actual is None) == (value.lower() in ("true", "1"))
        raise Invalid({"detail": f"Unsupported lookup '{lookup}' for field '{name}'."})

    # ----- objects ---------------------------------------------------------------------------------------------------
    def _next_id(self, kind):
        # Templates, projects and inventory sources are all unified job templates, numbered in one sequence.
        kinds = UNIFIED if kind in UNIFIED else (kind,)
        sequence = "unified_job_templates" if kind in UNIFIED else kind
        counters = self._state.setdefault("next_ids", {})
        existing = [item["id"] for other in kinds for item in self._state.get(other, [])]
        counters[sequence] = max([counters.get(sequence, 0), *existing]) + 1
        return counters[sequence]

    def _get(self, kind, object_id):
        found = next((item for item in self._state.get(kind, []) if item["id"] == object_id), None)
        if found is None:
            raise Invalid({"detail": "Not found."}, 404)
        return found

    def _now(self):
        now = self._state.get("now")
        return datetime.datetime.fromisoformat(now) if now else datetime.datetime.now(datetime.timezone.utc)

    def _stamp(self):
        return self._now().astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _create(self, kind, body):
        item = copy.deepcopy(FIELDS[kind])
        item.update(self._writable(kind, body))
        item = self._validate(kind, item, None)
        item["id"] = self._next_id(kind)
        item["created"] = item["modified"] = self._stamp()
        self._state.setdefault(kind, []).append(item)
        if kind == "projects" and item["scm_type"]:
            self._start_update(item)
        return item

    def _update(self, kind, item, body):
        changes = self._writable(kind, body)
        if kind == "schedules" and changes == {"enabled": False}:
            item["enabled"] = False
            return item
        merged = {**copy.deepcopy(item), **changes}
        merged = self._validate(kind, merged, item)
        source = ("scm_type", "scm_url", "scm_branch")
        source_changed = kind == "projects" and any(merged[f] != item[f] for f in source)
        item.update(merged)
        item["modified"] = self._stamp()
        if source_changed and item["scm_type"]:
            self._start_update(item)
        return item

    def _delete(self, kind, item):
        self._state[kind] = [other for other in self._state[kind] if other["id"] != item["id"]]
        # A template takes its schedules with it, as AWX does.
        if kind in ("job_templates", "projects", "inventory_sources"):
            self._state["schedules"] = [s for s in self._state.get("schedules", [])
                                        if s["unified_job_template"] != item["id"]]

    @staticmethod
    def _writable(kind, body):
        return {key: copy.deepcopy(value) for key, value in body.items() if key in FIELDS[kind] and key != "managed"}

    def _validate(self, kind, item, before):
        if not isinstance(item.get("name"), str) or not item["name"].strip():
            raise field_error("name", "This field may not be blank.")
        for field, target in FOREIGN.items():
            if field in item and item[field] not in (None, ""):
                if not any(other["id"] == item[field] for other in self._state.get(target, [])):
                    raise field_error(field, f'Invalid pk "{item[field]}" - object does not exist.')
            elif field in item and item[field] == "":
                item[field] = None
        for field, default in FIELDS[kind].items():
            if isinstance(default, bool) and not isinstance(item.get(field), bool) and item.get(field) is not None:
                raise field_error(field, "Must be a valid boolean.")
        item = getattr(self, f"_validate_{kind}", lambda item, before: item)(item, before)
        model, fields = UNIQUE[kind]
        for other in self._state.get(kind, []):
            if other is not before and all(other.get(f) == item.get(f) for f in fields):
                # Django's words for a unique_together clash.
                labels = [f.replace("_", " ").capitalize() for f in fields]
                listed = f"{', '.join(labels[:-1])} and {labels[-1]}" if len(labels) > 1 else labels[0]
                raise Invalid({"__all__": [f"{model} with this {listed} already exists."]})
        return item

    def _validate_credential_types(self, item, before):
        if item["kind"] not in ("cloud", "net"):
            raise field_error("kind", f"Must be 'cloud' or 'net', not {item['kind']}")
        item["inputs"] = check_credential_type(item["inputs"], item["injectors"])
        in_use = before is not None and any(c["credential_type"] == before["id"]
                                            for c in self._state.get("credentials", []))
        if in_use and item["inputs"] != before["inputs"]:
            raise Invalid({"detail": "Modifications to inputs are not allowed for credential types that are in use"},
                          403)
        return item

    def _validate_credentials(self, item, before):
        if item["credential_type"] is None:
            raise field_error("credential_type", "This field is required.")
        credential_type = self._get("credential_types", item["credential_type"])
        fields = {field["id"]: field for field in credential_type["inputs"].get("fields", [])}
        if not isinstance(item["inputs"], dict):
            raise field_error("inputs", "inputs must be an object.")
        inputs = {}
        for key, value in item["inputs"].items():
            if key not in fields:
                raise field_error("inputs", f"Additional properties are not allowed ('{key}' was unexpected)")
            if value == ENCRYPTED and before is not None and fields[key].get("secret"):
                value = before["inputs"].get(key, "")
            wanted = bool if fields[key].get("type") == "boolean" else str
            if not isinstance(value, wanted):
                raise Invalid({"inputs": {key: [f"{value!r} is not of type '{fields[key].get('type', 'string')}'"]}})
            inputs[key] = value
        missing = [key for key in credential_type["inputs"].get("required", []) if not inputs.get(key)]
        if missing:
            raise Invalid({"inputs": {key: [f"required for {credential_type['name']}"] for key in missing}})
        item["inputs"] = inputs
        return item

    def _validate_projects(self, item, before):
        if item["scm_type"] not in ("", "git", "svn", "insights", "archive"):
            raise field_error("scm_type", f'"{item["scm_type"]}" is not a valid choice.')
        if item["scm_type"] and not item["scm_url"]:
            raise field_error("scm_url", "SCM URL is required.")
        if item["organization"] is None:
            raise field_error("organization", "This field is required.")
        return item

    def _validate_inventories(self, item, before):
        if item["organization"] is None:
            raise field_error("organization", "This field is required.")
        if item["kind"] not in ("", "smart", "constructed"):
            raise field_error("kind", f'"{item["kind"]}" is not a valid choice.')
        return item

    def _validate_inventory_sources(self, item, before):
        if item["inventory"] is None:
            raise field_error("inventory", "This field is required.")
        if item["source"] not in ("scm", "ec2", "gce", "azure_rm", "vmware", "satellite6", "openstack", "rhv",
                                  "controller", "insights", "terraform", "openshift_virtualization"):
            raise field_error("source", f'"{item["source"]}" is not a valid choice.')
        if item["source"] == "scm" and item["source_project"] is None:
            raise field_error("source_project", "Project required for scm type sources.")
        return item

    def _validate_job_templates(self, item, before):
        if item["job_type"] not in ("run", "check"):
            raise field_error("job_type", f'"{item["job_type"]}" is not a valid choice.')
        if item["project"] is None:
            raise field_error("project", "This field is required.")
        # A template's organization is its project's, whatever the request says.
        item["organization"] = self._get("projects", item["project"])["organization"]
        if item["inventory"] is None and not item["ask_inventory_on_launch"]:
            raise field_error("inventory", "Job Template must provide 'inventory' or allow prompting for it.")
        if not item["playbook"]:
            raise field_error("playbook", "This field is required.")
        playbooks = self._state.get("project_playbooks")
        if playbooks is not None and item["playbook"] not in playbooks:
            raise field_error("playbook", "Playbook not found for project.")
        if not isinstance(item["timeout"], int) or isinstance(item["timeout"], bool):
            raise field_error("timeout", "A valid integer is required.")
        item.setdefault("survey_spec", {})
        item.setdefault("credentials", [])
        return item

    def _validate_schedules(self, item, before):
        template = next((t for t in self._unified_job_templates() if t["id"] == item["unified_job_template"]), None)
        if template is None:
            raise field_error("unified_job_template", "This field is required." if item["unified_job_template"] is None
                              else f'Invalid pk "{item["unified_job_template"]}" - object does not exist.')
        check_rrule(item["rrule"])
        if not isinstance(item["extra_data"], dict):
            raise field_error("extra_data", "extra_data must be a mapping.")
        if template["type"] == "job_template":
            self._check_prompts(item, self._get("job_templates", template["id"]))
        rules = rule_set(item["rrule"])
        first, upcoming = next(iter(rules), None), rules.after(self._now())
        finite = "COUNT=" in item["rrule"].upper() or "UNTIL=" in item["rrule"].upper()
        item["dtstart"] = utc(first)
        item["dtend"] = utc(list(rules)[-1]) if finite else None
        item["next_run"] = utc(upcoming)
        match = re.search(r"TZID=([^:;]+)", item["rrule"])
        item["timezone"] = match.group(1) if match else "UTC"
        item["until"] = ""
        return item

    def _check_prompts(self, schedule, template):
        """LaunchConfigurationBaseSerializer.validate: what a schedule may give its job template."""
        errors = {}
        for field, ask in PROMPTS.items():
            if schedule.get(field) is not None and not template[ask]:
                errors[field] = ["Field is not configured to prompt on launch."]
        data = schedule["extra_data"]
        spec = template.get("survey_spec") or {}
        left = dict(data)
        if template["survey_enabled"] and spec:
            problems = []
            for element in spec.get("spec", []):
                found = survey_errors(element, data)
                problems += found
                left.pop(element["variable"], None)
            if problems:
                errors["variables_needed_to_start"] = problems
        if left and not template["ask_variables_on_launch"]:
            errors["extra_data"] = [f"Variables {', '.join(left)} are not allowed on launch. Check the Prompt on "
                                    "Launch setting on the Job Template to include Extra Variables."]
        if errors:
            raise Invalid(errors)

    def _attach(self, template, body):
        if not isinstance(body.get("id"), int):
            raise field_error("id", "A valid integer is required.")
        credential = next((c for c in self._state.get("credentials", []) if c["id"] == body["id"]), None)
        if credential is None:
            raise Invalid({"msg": "Related object not found."})
        if body.get("disassociate"):
            template["credentials"] = [c for c in template["credentials"] if c != credential["id"]]
            return Response(204, "", content_type="")
        if credential["id"] in template["credentials"]:
            return Response(204, "", content_type="")
        credential_type = self._get("credential_types", credential["credential_type"])
        if credential_type["kind"] not in ("ssh", "vault", "cloud", "net", "kubernetes"):
            raise awx_error(f"Cannot assign a Credential of kind `{credential_type['kind']}`.")
        for other in template["credentials"]:
            if self._get("credentials", other)["credential_type"] == credential["credential_type"]:
                raise awx_error(f"Cannot assign multiple {credential_type['name']} credentials.")
        template["credentials"].append(credential["id"])
        return Response(204, "", content_type="")

    def _start_update(self, project):
        update = {"id": self._next_id("project_updates"), "project": project["id"], "status": "successful",
                  "failed": False, "finished": self._stamp(), "scm_revision": "0123456789abcdef0123456789abcdef01234567",
                  "name": project["name"], "created": self._stamp(), "modified": self._stamp()}
        self._state.setdefault("project_updates", []).append(update)
        project["scm_revision"] = update["scm_revision"]
        project["_last_update"] = project["_started_update"] = update["id"]
        return update

    def _project_playbooks(self):
        return list(self._state.get("project_playbooks") or [])

    # ----- how the API shows an object -----------------------------------------------------------------------------
    def _show(self, kind, item):
        shown = {key: copy.deepcopy(value) for key, value in item.items()
                 if not key.startswith("_") and key not in ("survey_spec", "credentials")}
        shown["type"] = TYPE_OF[kind]
        shown["url"] = f"{API}{kind}/{item['id']}/"
        shown["related"] = {}
        shown["summary_fields"] = {}
        for field, target in FOREIGN.items():
            if item.get(field) is not None and field in FIELDS.get(kind, {}):
                other = next((o for o in self._state.get(target, []) if o["id"] == item[field]), None)
                if other:
                    shown["related"][field] = f"{API}{target}/{other['id']}/"
                    shown["summary_fields"][field] = {"id": other["id"], "name": other["name"]}
        getattr(self, f"_show_{kind}", lambda shown, item: None)(shown, item)
        return shown

    def _show_credentials(self, shown, item):
        credential_type = self._get("credential_types", item["credential_type"])
        secret = {f["id"] for f in credential_type["inputs"].get("fields", []) if f.get("secret")}
        shown["inputs"] = {key: ENCRYPTED if key in secret and value else value for key, value in item["inputs"].items()}
        shown["kind"] = credential_type["kind"]
        shown["cloud"] = credential_type["kind"] == "cloud"

    def _show_projects(self, shown, item):
        shown.setdefault("scm_revision", "")
        shown["status"] = "successful" if item.get("_last_update") else "never updated"
        shown["related"].update(update=f"{API}projects/{item['id']}/update/",
                                playbooks=f"{API}projects/{item['id']}/playbooks/",
                                schedules=f"{API}projects/{item['id']}/schedules/")
        if item.get("_last_update"):
            shown["summary_fields"]["last_update"] = {"id": item["_last_update"], "status": "successful",
                                                      "failed": False}
        if item.get("_started_update"):
            shown["summary_fields"]["current_update"] = {"id": item["_started_update"], "status": "running",
                                                         "failed": False}

    def _show_job_templates(self, shown, item):
        shown["related"].update(survey_spec=f"{API}job_templates/{item['id']}/survey_spec/",
                                credentials=f"{API}job_templates/{item['id']}/credentials/",
                                schedules=f"{API}job_templates/{item['id']}/schedules/",
                                launch=f"{API}job_templates/{item['id']}/launch/")
        credentials = [self._get("credentials", c) for c in item.get("credentials", [])]
        shown["summary_fields"]["credentials"] = [
            {"id": c["id"], "name": c["name"], "kind": self._get("credential_types", c["credential_type"])["kind"]}
            for c in credentials]

    def _show_schedules(self, shown, item):
        template = next((t for t in self._unified_job_templates() if t["id"] == item["unified_job_template"]), None)
        if template:
            shown["related"]["unified_job_template"] = template["url"]
            shown["summary_fields"]["unified_job_template"] = {
                "id": template["id"], "name": template["name"], "description": template["description"],
                "unified_job_type": {"job_template": "job", "project": "project_update",
                                     "inventory_source": "inventory_update"}[template["type"]]}

    def _unified_job_templates(self):
        """Job templates, projects and inventory sources: the things a schedule can run."""
        found = []
        for kind in ("job_templates", "projects", "inventory_sources"):
            for item in self._state.get(kind, []):
                organization = item.get("organization")
                if kind == "inventory_sources" and item.get("inventory") is not None:
                    inventory = next((i for i in self._state.get("inventories", []) if i["id"] == item["inventory"]),
                                     {})
                    organization = inventory.get("organization")
                found.append({"id": item["id"], "type": TYPE_OF[kind], "name": item["name"],
                              "description": item["description"], "organization": organization,
                              "url": f"{API}{kind}/{item['id']}/"})
        return found

    def _display_survey(self, spec):
        shown = copy.deepcopy(spec)
        for element in shown.get("spec", []):
            if element.get("type") == "password" and element.get("default"):
                element["default"] = ENCRYPTED
        return shown
