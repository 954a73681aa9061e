# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The runbook as AWX/AAP objects: credential types, credentials, job templates with surveys, and schedules.

Pure functions: they say what AWX should hold, and the schedule role's awx entry point makes it so with the awx.awx
modules. A survey question is derived from the argument spec of the playbook's roles (its type, choices, default
and whether it is required), so the surveys cannot drift from what the plays accept. Everything AWX would refuse
(a schedule without an answer to a required question, a variable the survey does not ask, a choice that is not one)
is refused here first, before anything in AWX changes.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.module_utils._pagerduty import (
    DEFAULT_API_URL as PAGERDUTY_API_URL,
    DEFAULT_EVENTS_URL as PAGERDUTY_EVENTS_URL,
)
from ansible_collections.runbook.ops.plugins.module_utils._statuspage import DEFAULT_API_URL as STATUSPAGE_API_URL
from ansible_collections.runbook.ops.plugins.module_utils._vercel import DEFAULT_API_URL as VERCEL_API_URL

COLLECTION = Path(__file__).resolve().parents[2]
PLAYBOOKS = COLLECTION / "playbooks"
ROLES = COLLECTION / "roles"
# Playbooks that set up a scheduler are not jobs of it.
NOT_JOBS = re.compile(r"_configure$")
ROLE_NAME = re.compile(r"^(?:runbook\.ops\.)?(?P<role>[a-z0-9_]+)$")
VARIABLE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MARKUP = re.compile(r"\b[A-Z]\(([^)]*)\)")
QUESTION_KEYS = {"variable", "question", "description", "type", "required", "default", "choices", "choices_of",
                 "min", "max"}
SURVEY_TYPES = ("text", "textarea", "password", "multiplechoice", "multiselect", "integer", "float")
BOOLEAN_CHOICES = ["false", "true"]
# AWX's own form keeps text answers within these lengths unless told otherwise; a long incident message is the
# Statuspage's limit.
TEXT_MAX = {"text": 1024, "textarea": 25000, "password": 1024}

# One credential type per service: its inputs are the service's settings, and its injectors give them to the
# plays under the names the modules read (env_fallback) and the Slack notices look up. (input id, variable,
# label, secret, required, default).
SERVICES = {
    "Vercel": [
        ("token", "VERCEL_TOKEN", "Access token", True, True, None),
        ("team", "VERCEL_ORG_ID", "Team id or slug", False, False, None),
        ("api_url", "VERCEL_API_URL", "API base URL", False, False, VERCEL_API_URL),
    ],
    "Slack": [
        ("deployment_webhook", "SLACK_DEPLOYMENT_WEBHOOK", "Deployment channel webhook", True, False, None),
        ("incident_webhook", "SLACK_INCIDENT_WEBHOOK", "Incident channel webhook", True, False, None),
        ("maintenance_webhook", "SLACK_MAINTENANCE_WEBHOOK", "Maintenance channel webhook", True, False, None),
    ],
    "Statuspage": [
        ("api_key", "STATUS_PAGE_API_KEY", "API key", True, True, None),
        ("page_id", "STATUS_PAGE_ID", "Page id", False, True, None),
        ("api_url", "STATUSPAGE_API_URL", "API base URL", False, False, STATUSPAGE_API_URL),
    ],
    "PagerDuty": [
        ("routing_key", "PAGERDUTY_ROUTING_KEY", "Events API routing key", True, False, None),
        ("api_token", "PAGERDUTY_API_TOKEN", "REST API token", True, False, None),
        ("events_url", "PAGERDUTY_EVENTS_URL", "Events API base URL", False, False, PAGERDUTY_EVENTS_URL),
        ("api_url", "PAGERDUTY_API_URL", "REST API base URL", False, False, PAGERDUTY_API_URL),
    ],
    "PostgreSQL": [
        ("database_url", "DATABASE_URL", "Database URL (postgresql://user:password@host:port/database)", True, True,
         None),
    ],
}


def _load(path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AnsibleFilterError(f"Cannot read {path.relative_to(COLLECTION)}: {exc}") from exc


def _text(description):
    """An argument spec description as plain text: its first paragraph, without Ansible's markup."""
    if isinstance(description, list):
        description = description[0] if description else ""
    return " ".join(MARKUP.sub(r"\1", str(description or "")).split())


def job_playbooks():
    """The playbooks that are jobs: every playbook of the collection but the schedulers' own."""
    return [path.stem for path in sorted(PLAYBOOKS.glob("*.yml")) if not NOT_JOBS.search(path.stem)]


def _playbook_roles(playbook):
    """(role, entry point) of every role the playbook runs, in order."""
    found = []
    for play in _load(PLAYBOOKS / f"{playbook}.yml") or []:
        for role in play.get("roles") or []:
            name = role.get("role") or role.get("name") if isinstance(role, dict) else role
            found.append((name, "main"))
        for task in play.get("tasks") or []:
            for action in ("ansible.builtin.import_role", "ansible.builtin.include_role", "import_role",
                           "include_role"):
                if isinstance(task.get(action), dict):
                    found.append((task[action]["name"], task[action].get("tasks_from", "main")))
    roles = []
    for name, entry in found:
        match = ROLE_NAME.match(str(name))
        if match and (match["role"], entry) not in roles:
            roles.append((match["role"], entry))
    return roles


def playbook_options(playbook):
    """The options the playbook's roles take, from their argument specs: {variable: option}."""
    options = {}
    for role, entry in _playbook_roles(playbook):
        spec = ROLES / role / "meta" / "argument_specs.yml"
        if spec.is_file():
            for name, option in ((_load(spec).get("argument_specs") or {}).get(entry, {}).get("options") or {}).items():
                options.setdefault(name, option)
    return options


def playbook_defaults(playbook):
    """The defaults of the playbook's roles: {variable: value}."""
    defaults = {}
    for role, _entry in _playbook_roles(playbook):
        folder = ROLES / role / "defaults"
        for path in [folder / "main.yml", *sorted((folder / "main").glob("*.yml"))]:
            if path.is_file():
                for name, value in (_load(path) or {}).items():
                    defaults.setdefault(name, value)
    return defaults


def _description(playbook):
    """The playbook's first comment line, which says what it does."""
    for line in (PLAYBOOKS / f"{playbook}.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return re.sub(r"[:.]?$", ".", line[2:].strip(), count=1)
    return playbook


def _survey_default(value, kind):
    """An argument spec default as the survey's default, or None when there is nothing to offer."""
    if value is None or value == "" or isinstance(value, (list, dict)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)


def _question(playbook, question, options, defaults):
    """One survey question in AWX's form, and the problems with its definition."""
    label = f"The survey question {question.get('variable')!r} of playbook {playbook}"
    unknown = sorted(set(question) - QUESTION_KEYS)
    if unknown:
        return None, [f"{label} has unknown keys {', '.join(unknown)}; the keys are {', '.join(sorted(QUESTION_KEYS))}."]
    variable = question.get("variable")
    if not isinstance(variable, str) or not VARIABLE.match(variable):
        return None, [f"{label} needs a variable name of letters, digits and underscores."]
    option = options.get(variable)
    if option is None and "type" not in question:
        return None, [f"{label} asks a variable none of the playbook's roles takes: fix its name, or give its type."]
    option = option or {}

    kind = question.get("type")
    if kind is None:
        kind = {"bool": "multiplechoice", "int": "integer", "float": "float", "list": "textarea",
                "dict": "textarea"}.get(option.get("type"), "text")
        if option.get("choices") or question.get("choices") or question.get("choices_of"):
            kind = "multiplechoice"
    if kind not in SURVEY_TYPES:
        return None, [f"{label} has type {kind!r}; AWX's types are {', '.join(SURVEY_TYPES)}."]

    spec = {
        "question_name": str(question.get("question") or variable),
        "question_description": str(question.get("description") or _text(option.get("description"))),
        "variable": variable,
        "type": kind,
        "required": bool(question.get("required", option.get("required", False))),
    }
    if kind in ("multiplechoice", "multiselect"):
        if "choices" in question:
            choices = question["choices"]
        elif option.get("choices"):
            choices = option["choices"]
        elif question.get("choices_of"):
            choices = list(defaults.get(question["choices_of"]) or {})
        else:
            choices = BOOLEAN_CHOICES if option.get("type") == "bool" else []
        spec["choices"] = [str(choice) for choice in choices]
        if not spec["choices"]:
            return None, [f"{label} is a multiple choice with no choices."]
        # Choices of one's own may leave some of the play's out, never add one the play refuses.
        allowed = [str(choice) for choice in option.get("choices") or []]
        if allowed and not set(spec["choices"]) <= set(allowed):
            return None, [f"{label} offers {', '.join(sorted(set(spec['choices']) - set(allowed)))}, which the play "
                          f"does not take; its choices are {', '.join(allowed)}."]
        # A yes/no question is always answered, the safe answer offered first.
        if option.get("type") == "bool":
            spec["required"] = bool(question.get("required", True))

    default = question["default"] if "default" in question else option.get("default")
    default = _survey_default(default, kind)
    if default is not None:
        spec["default"] = default
    if kind in TEXT_MAX:
        spec["min"] = int(question.get("min", 1 if spec["required"] else 0))
        spec["max"] = int(question.get("max", TEXT_MAX[kind]))
    if "choices" in spec and "default" in spec and spec["default"] not in spec["choices"]:
        return None, [f"{label} offers default {spec['default']!r}, which is not one of {spec['choices']}."]
    return spec, []


def awx_survey_spec(questions, playbook):
    """The survey spec of a playbook's job template, in AWX's form; {} when it asks nothing."""
    questions = questions or []
    if not questions:
        return {}
    if not isinstance(questions, list) or not all(isinstance(q, dict) for q in questions):
        raise AnsibleFilterError(f"The survey of playbook {playbook} must be a list of questions (mappings).")
    options, defaults = playbook_options(playbook), playbook_defaults(playbook)
    spec, problems, seen = [], [], set()
    for question in questions:
        element, found = _question(playbook, question, options, defaults)
        problems += found
        if element and element["variable"] in seen:
            problems.append(f"The survey of playbook {playbook} asks {element['variable']!r} twice.")
        if element:
            seen.add(element["variable"])
            spec.append(element)
    if problems:
        raise AnsibleFilterError(" ".join(problems))
    return {"name": playbook, "description": f"The choices of playbooks/{playbook}.yml.", "spec": spec}


def awx_job_templates(surveys, plans=(), prefix="runbook.ops", timeout_minutes=0, ask_variables_on_launch=False):
    """One job template per playbook that is a job, with its survey, timeout and launch prompts."""
    surveys = surveys or {}
    unknown = sorted(set(surveys) - set(job_playbooks()))
    if unknown:
        raise AnsibleFilterError(f"There are surveys for {', '.join(unknown)}, which are not playbooks of the "
                                 f"collection; the playbooks are {', '.join(job_playbooks())}.")
    templates = []
    for playbook in job_playbooks():
        survey = awx_survey_spec(surveys.get(playbook), playbook)
        timeouts = sorted({int(plan["timeout_minutes"]) for plan in plans if plan["playbook"] == playbook})
        templates.append({
            "name": f"{prefix} {playbook}",
            "playbook": f"playbooks/{playbook}.yml",
            "playbook_name": playbook,
            "description": _description(playbook),
            "survey_enabled": bool(survey),
            "survey_spec": survey,
            # Without a survey nothing could be chosen at launch; with one, only its answers are taken.
            "ask_variables_on_launch": bool(ask_variables_on_launch) or not survey,
            # The schedules of one playbook may need different timeouts; AWX takes a schedule's own only when the
            # template prompts for it.
            "ask_timeout_on_launch": len(timeouts) > 1,
            "timeout": (timeouts[0] if len(timeouts) == 1 else int(timeout_minutes)) * 60,
        })
    return templates


def _answer(value, element):
    """A schedule's value as the survey question takes it, or None when it cannot be one."""
    kind = element["type"]
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "float":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "multiselect":
        return [str(v) for v in value] if isinstance(value, list) else None
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value) if isinstance(value, (str, int, float)) or hasattr(value, "isoformat") else None


def _problems_of_answer(label, variable, answer, element):
    if answer is None:
        return [f"{label} gives {variable} a value its survey question ({element['type']}) cannot take."]
    if element["type"] == "multiplechoice" and answer not in element["choices"]:
        return [f"{label} gives {variable} {answer!r}; the survey's choices are {', '.join(element['choices'])}."]
    if element["type"] == "multiselect" and any(choice not in element["choices"] for choice in answer):
        return [f"{label} gives {variable} {answer!r}; the survey's choices are {', '.join(element['choices'])}."]
    if element["type"] in TEXT_MAX and not element.get("min", 0) <= len(answer) <= element.get("max", len(answer)):
        return [f"{label} gives {variable} a text of {len(answer)} characters; the survey takes "
                f"{element.get('min', 0)} to {element.get('max')}."]
    return []


def awx_schedules(plans, templates, marker="[runbook.ops]"):
    """One schedule per plan, on its playbook's job template, with an answer to every survey question that has
    one, so that a run never depends on what the survey offers by default."""
    by_playbook = {template["playbook_name"]: template for template in templates}
    schedules, problems = [], []
    for plan in plans:
        label = f"Schedule {plan['name']!r} (playbook {plan['playbook']})"
        template = by_playbook.get(plan["playbook"])
        if template is None:
            problems.append(f"{label} names a playbook that has no job template.")
            continue
        questions = (template["survey_spec"] or {}).get("spec", [])
        extra_data = {}
        for element in questions:
            variable = element["variable"]
            if variable in plan["vars"]:
                answer = _answer(plan["vars"][variable], element)
                problems += _problems_of_answer(label, variable, answer, element)
                extra_data[variable] = answer
            elif "default" in element:
                extra_data[variable] = element["default"]
            elif element["required"]:
                problems.append(f"{label} must give {variable}: the job template's survey requires an answer.")
        asked = {element["variable"] for element in questions}
        others = sorted(set(plan["vars"]) - asked)
        if others and not template["ask_variables_on_launch"]:
            problems.append(f"{label} gives {', '.join(others)}, which the survey does not ask, and AWX refuses "
                            "variables a template does not prompt for: add them to schedule_awx_surveys, or set "
                            "schedule_awx_ask_variables_on_launch.")
        extra_data.update({name: plan["vars"][name] for name in others})
        schedules.append({
            "name": plan["name"],
            "template": template["name"],
            "description": f"{marker} {plan['description']}",
            "rrule": plan["rrule"],
            "enabled": bool(plan["enabled"]),
            "extra_data": extra_data,
            "timeout": int(plan["timeout_minutes"]) * 60 if template["ask_timeout_on_launch"] else None,
        })
    if problems:
        raise AnsibleFilterError(" ".join(problems))
    return schedules


def awx_stale_schedules(made, schedules):
    """The schedules AWX holds (made by the role) that no schedule of the definition is any more, as
    ``{id, name, template}``; a schedule is the same one when its name and its template are."""
    wanted = {(schedule["template"], schedule["name"]) for schedule in schedules}
    stale = []
    for schedule in made:
        template = ((schedule.get("summary_fields") or {}).get("unified_job_template") or {}).get("name")
        if (template, schedule["name"]) not in wanted:
            stale.append({"id": schedule["id"], "name": schedule["name"], "template": template})
    return stale


def awx_credential_types(prefix="runbook.ops"):
    """One custom credential type per service, whose injectors set the runbook's environment variables."""
    types = []
    for service, fields in SERVICES.items():
        inputs = []
        for field_id, variable, label, secret, _required, default in fields:
            field = {"id": field_id, "label": label, "type": "string", "help_text": f"Given to the plays as {variable}."}
            if secret:
                field["secret"] = True
            if default is not None:
                field["default"] = default
            inputs.append(field)
        types.append({
            "name": f"{prefix} {service}",
            "service": service,
            "description": f"The runbook's {service} settings, given to the plays as environment variables.",
            "kind": "cloud",
            "inputs": {"fields": inputs, "required": [field[0] for field in fields if field[4]]},
            "injectors": {"env": {field[1]: "{{ " + field[0] + " }}" for field in fields}},
            "variables": {field[1]: field[0] for field in fields},
        })
    return types


def awx_credentials(types, environment):
    """A credential of each type whose settings the environment gives, and the required ones it lacks.

    ``environment`` maps variable names to values (empty when unset); a service none of whose variables is set
    gets no credential.
    """
    credentials = []
    for credential_type in types:
        variables = credential_type["variables"]
        inputs = {variables[name]: environment[name] for name in variables if environment.get(name)}
        if not inputs:
            continue
        required = credential_type["inputs"]["required"]
        credentials.append({
            "name": credential_type["name"],
            "credential_type": credential_type["name"],
            "inputs": inputs,
            "missing": [name for name in variables if variables[name] in required and variables[name] not in inputs],
        })
    return credentials


class FilterModule:
    def filters(self):
        return {
            "awx_credential_types": awx_credential_types,
            "awx_credentials": awx_credentials,
            "awx_survey_spec": awx_survey_spec,
            "awx_job_templates": awx_job_templates,
            "awx_schedules": awx_schedules,
            "awx_stale_schedules": awx_stale_schedules,
        }
