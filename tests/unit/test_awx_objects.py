"""The AWX objects the schedule role's awx entry point makes (plugins/filter/awx.py), rendered without AWX and checked
against AWX's documented formats: the credential types' inputs and injectors, the surveys, the job templates and
the schedules. The rules AWX applies are those of the fake (tests/fakes/awx.py), read from AWX's code; the
surveys are checked against the roles' argument specs, read here on their own, so the two cannot drift apart."""
import ast
import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.filter.awx import (
    awx_credential_types,
    awx_credentials,
    awx_job_templates,
    awx_schedules,
    awx_stale_schedules,
    awx_survey_spec,
)
from ansible_collections.runbook.ops.plugins.filter.schedules import schedule_plans
from ansible_collections.runbook.ops.plugins.plugin_utils._redact import SECRET_VARIABLES
from tests.fakes.awx import Invalid, check_credential_type, check_rrule, check_survey, survey_errors

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE = REPO_ROOT / "roles/schedule"
AWX_DEFAULTS = yaml.safe_load((ROLE / "defaults/main/awx.yml").read_text(encoding="utf-8"))
SCHEDULE_DEFAULTS = yaml.safe_load((ROLE / "defaults/main/schedule.yml").read_text(encoding="utf-8"))
SURVEYS = AWX_DEFAULTS["schedule_awx_surveys"]
PLANS = schedule_plans(SCHEDULE_DEFAULTS["schedule_entries"], SCHEDULE_DEFAULTS["schedule_time_zone"])
TEMPLATES = awx_job_templates(SURVEYS, PLANS)
TYPES = awx_credential_types("runbook.ops")
# Settings of the inventory, not choices of a run: no survey asks them.
INVENTORY_SETTINGS = {"vercel_project", "vercel_production_domains", "health_check_url"}


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def roles_of(playbook):
    """(role, entry point) of every role a playbook runs, read from the playbook on its own."""
    found = []
    for play in load(REPO_ROOT / "playbooks" / f"{playbook}.yml"):
        found += [(role["role"].split(".")[-1], "main") for role in play.get("roles") or []]
        found += [(task["ansible.builtin.import_role"]["name"].split(".")[-1],
                   task["ansible.builtin.import_role"].get("tasks_from", "main"))
                  for task in play.get("tasks") or [] if "ansible.builtin.import_role" in task]
    return found


def spec_options(playbook):
    options = {}
    for role, entry in roles_of(playbook):
        spec = load(REPO_ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"][entry]
        options.update({name: option for name, option in (spec.get("options") or {}).items() if name not in options})
    return options


def questions(playbook):
    template = next(t for t in TEMPLATES if t["playbook_name"] == playbook)
    return {element["variable"]: element for element in template["survey_spec"]["spec"]}


def plan(**entry):
    return schedule_plans([{"name": "test", "at": "03:00", **entry}], "Asia/Tokyo")


# ----- credential types ----------------------------------------------------------------------------------------
def variables_the_plays_read():
    """The environment variables the modules take settings from (env_fallback) and the notices' webhooks."""
    names = set()
    for path in (REPO_ROOT / "plugins").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"env_fallback,\s*\[([^\]]*)\]", source):
            names |= set(re.findall(r"[\"']([A-Z_]+)[\"']", match.group(1)))
    for path in list((REPO_ROOT / "plugins").rglob("*.py")) + list((REPO_ROOT / "roles").rglob("*.yml")):
        names |= set(re.findall(r"\bSLACK_[A-Z]+_WEBHOOK\b", path.read_text(encoding="utf-8")))
    return names


def test_the_credential_types_inject_every_variable_the_plays_read_and_no_other():
    injected = [name for credential_type in TYPES for name in credential_type["injectors"]["env"]]

    assert len(injected) == len(set(injected))
    assert set(injected) == variables_the_plays_read()
    assert {"VERCEL_TOKEN", "VERCEL_API_URL", "SLACK_INCIDENT_WEBHOOK", "DATABASE_URL"} <= set(injected)


@pytest.mark.parametrize("credential_type", TYPES, ids=lambda t: t["service"])
def test_a_credential_type_is_one_awx_takes_and_keeps_as_sent(credential_type):
    # What AWX stores is what it was sent, so the next run finds nothing to change.
    assert check_credential_type(credential_type["inputs"], credential_type["injectors"]) == credential_type["inputs"]
    assert credential_type["kind"] == "cloud"
    assert set(credential_type["injectors"]) == {"env"}


@pytest.mark.parametrize("credential_type", TYPES, ids=lambda t: t["service"])
def test_every_injector_names_a_defined_input_and_secrets_are_marked(credential_type):
    fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}

    for variable, template in credential_type["injectors"]["env"].items():
        assert re.fullmatch(r"\{\{ (\w+) \}\}", template), template
        field = fields[re.fullmatch(r"\{\{ (\w+) \}\}", template).group(1)]
        # Secret exactly when the collection masks the variable in what it writes.
        assert field.get("secret", False) == (variable in SECRET_VARIABLES), variable
        assert variable in field["help_text"]
    assert set(credential_type["inputs"]["required"]) <= set(fields)
    assert len({field["label"] for field in fields.values()}) == len(fields)


def test_awx_refuses_an_injector_naming_an_input_that_is_not_defined():
    credential_type = TYPES[0]
    injectors = {"env": {**credential_type["injectors"]["env"], "VERCEL_EXTRA": "{{ not_an_input }}"}}

    with pytest.raises(Invalid) as refused:
        check_credential_type(credential_type["inputs"], injectors)

    assert "VERCEL_EXTRA uses an undefined field" in refused.value.body["injectors"][0]


def test_a_credential_is_made_only_for_services_the_environment_has_settings_for():
    environment = {"VERCEL_TOKEN": "t0ken", "VERCEL_API_URL": "", "SLACK_INCIDENT_WEBHOOK": "https://hooks/x",
                   "STATUS_PAGE_API_KEY": "k3y"}

    credentials = {c["name"]: c for c in awx_credentials(TYPES, environment)}

    assert set(credentials) == {"runbook.ops Vercel", "runbook.ops Slack", "runbook.ops Statuspage"}
    assert credentials["runbook.ops Vercel"]["inputs"] == {"token": "t0ken"}
    assert credentials["runbook.ops Vercel"]["missing"] == []
    assert credentials["runbook.ops Slack"]["inputs"] == {"incident_webhook": "https://hooks/x"}
    # A Statuspage key without its page would make a credential that cannot work.
    assert credentials["runbook.ops Statuspage"]["missing"] == ["STATUS_PAGE_ID"]
    assert awx_credentials(TYPES, {}) == []


# ----- job templates and surveys -----------------------------------------------------------------------------
def test_every_playbook_but_the_schedulers_own_has_a_template():
    playbooks = {path.stem for path in (REPO_ROOT / "playbooks").glob("*.yml")}

    made = {template["playbook_name"] for template in TEMPLATES}

    assert made == {name for name in playbooks if not name.endswith("_configure")}
    assert {"rollback", "maintenance", "daily_check", "incident", "backup"} <= made
    for template in TEMPLATES:
        assert (REPO_ROOT / template["playbook"]).is_file()
        assert template["name"] == f"runbook.ops {template['playbook_name']}"
    assert len({template["name"] for template in TEMPLATES}) == len(TEMPLATES)


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t["survey_spec"]], ids=lambda t: t["playbook_name"])
def test_a_survey_is_one_awx_takes_and_keeps_as_sent(template):
    spec = template["survey_spec"]

    assert check_survey(spec, {}) == spec
    assert template["survey_enabled"]
    # A survey covers the choices: nothing else is taken at launch.
    assert template["ask_variables_on_launch"] is False
    for element in spec["spec"]:
        assert set(element) <= {"question_name", "question_description", "variable", "type", "required", "choices",
                                "default", "min", "max"}
        assert element["question_name"] and element["question_description"]
        if element["type"] == "multiplechoice":
            assert element["choices"] and all(isinstance(choice, str) for choice in element["choices"])


@pytest.mark.parametrize("playbook", sorted(SURVEYS))
def test_the_survey_choices_are_the_argument_specs_choices(playbook):
    options = spec_options(playbook)

    for variable, element in questions(playbook).items():
        option = options.get(variable, {})
        if option.get("choices"):
            assert element["type"] == "multiplechoice"
            assert element["choices"] == [str(choice) for choice in option["choices"]], variable
        if option.get("type") == "bool":
            assert (element["type"], element["choices"], element["required"]) == \
                ("multiplechoice", ["false", "true"], True), variable
        if "default" in option and option["default"] not in (None, "", [], {}):
            expected = str(option["default"]).lower() if option["type"] == "bool" else option["default"]
            assert element["default"] == (str(expected) if element["type"] in ("text", "multiplechoice") else
                                          expected), variable


@pytest.mark.parametrize("playbook", sorted(SURVEYS))
def test_every_choice_and_every_required_request_of_a_play_is_asked(playbook):
    options = spec_options(playbook)
    asked = questions(playbook)

    for name, option in options.items():
        if option.get("choices") and option.get("type") != "list":
            assert name in asked, f"{playbook}: {name} has choices but no survey question"
        if option.get("required") and name not in INVENTORY_SETTINGS:
            assert name in asked and asked[name]["required"], f"{playbook}: {name} is required but not asked"
        if name.endswith("_confirm") and option.get("type") == "bool":
            assert asked[name]["default"] == "false", f"{playbook}: {name} must offer false, the plan, first"


def test_the_destructive_plays_ask_for_confirmation_and_a_reason():
    for playbook, confirm, reason in (("rollback", "rollback_confirm", "rollback_reason"),
                                      ("deploy", "deploy_confirm", "deploy_reason")):
        asked = questions(playbook)
        assert asked[confirm]["choices"] == ["false", "true"] and asked[confirm]["required"]
        assert asked[reason]["required"] and asked[reason]["min"] == 1
    assert questions("emergency_deploy")["deploy_confirm"]["default"] == "false"
    assert questions("emergency_deploy")["emergency_approved_by"]["required"]


def test_choices_kept_in_role_data_are_read_from_there():
    incident_defaults = load(REPO_ROOT / "roles/incident/defaults/main.yml")
    deploy_defaults = load(REPO_ROOT / "roles/deploy/defaults/main.yml")
    incident_vars = (REPO_ROOT / "roles/incident/vars/main.yml").read_text(encoding="utf-8")
    statuses = re.search(r"__incident_status in \[([^\]]*)\]", incident_vars).group(1)

    assert questions("incident")["incident_severity"]["choices"] == list(incident_defaults["incident_severities"])
    assert questions("incident")["incident_status"]["choices"] == re.findall(r"'([a-z]+)'", statuses)
    assert questions("emergency_deploy")["emergency_severity"]["choices"] == \
        list(deploy_defaults["deploy_emergency_policies"])
    # The emergency's own variables are the playbook's, not a role's: they must be the ones it reads.
    source = (REPO_ROOT / "playbooks/emergency_deploy.yml").read_text(encoding="utf-8")
    for variable in ("emergency_severity", "emergency_description", "emergency_approved_by"):
        assert f"{variable} |" in source


@pytest.mark.parametrize("question, complaint", [
    ({"variable": "rollback_kind"}, "none of the playbook's roles takes"),
    ({"variable": "rollback_type", "choices": ["application", "everything"]}, "offers everything"),
    ({"variable": "rollback_type", "default": "all"}, "not one of"),
    ({"variable": "rollback_type", "colour": "red"}, "unknown keys colour"),
    ({"variable": "rollback type"}, "needs a variable name"),
])
def test_a_survey_question_the_play_would_not_take_is_refused(question, complaint):
    with pytest.raises(AnsibleFilterError, match=complaint):
        awx_survey_spec([question], "rollback")


def test_surveys_for_playbooks_that_do_not_exist_are_refused():
    with pytest.raises(AnsibleFilterError, match="rollbak"):
        awx_job_templates({**SURVEYS, "rollbak": [{"variable": "x", "type": "text"}]}, PLANS)


def test_a_template_takes_its_schedules_timeout_and_prompts_when_they_differ():
    by_name = {template["playbook_name"]: template for template in TEMPLATES}
    assert by_name["daily_check"]["timeout"] == 30 * 60 and not by_name["daily_check"]["ask_timeout_on_launch"]
    assert by_name["maintenance"]["timeout"] == 240 * 60
    assert by_name["rollback"]["timeout"] == 0

    plans = plan(playbook="backup", timeout_minutes=20) + schedule_plans(
        [{"name": "later", "playbook": "backup", "at": "04:00", "timeout_minutes": 50}], "Asia/Tokyo")
    templates = awx_job_templates(SURVEYS, plans, timeout_minutes=90)
    backup = next(t for t in templates if t["playbook_name"] == "backup")

    assert (backup["ask_timeout_on_launch"], backup["timeout"]) == (True, 90 * 60)
    assert [s["timeout"] for s in awx_schedules(plans, templates)] == [20 * 60, 50 * 60]


# ----- schedules ------------------------------------------------------------------------------------------------
def test_every_schedule_answers_its_survey_as_awx_checks_it_and_keeps_its_rule():
    schedules = awx_schedules(PLANS, TEMPLATES)

    assert [s["name"] for s in schedules] == [p["name"] for p in PLANS]
    for schedule, entry in zip(schedules, PLANS):
        template = next(t for t in TEMPLATES if t["name"] == schedule["template"])
        assert template["playbook_name"] == entry["playbook"]
        check_rrule(schedule["rrule"])
        assert schedule["rrule"] == entry["rrule"]
        for element in template["survey_spec"]["spec"]:
            assert survey_errors(element, schedule["extra_data"]) == []
            if element["required"]:
                assert element["variable"] in schedule["extra_data"]
        assert set(schedule["extra_data"]) <= {e["variable"] for e in template["survey_spec"]["spec"]}
        assert entry["vars"].items() <= schedule["extra_data"].items()
        assert schedule["description"].startswith("[runbook.ops] ")
        assert schedule["enabled"] is True


def test_a_schedule_answers_every_question_that_has_a_default_and_takes_yes_as_the_choice_true():
    plans = plan(playbook="rollback", vars={"rollback_type": "application", "rollback_reason": "nightly drill",
                                            "rollback_confirm": False}, enabled=False)

    (schedule,) = awx_schedules(plans, TEMPLATES)

    assert schedule["extra_data"] == {"rollback_type": "application", "rollback_target": "previous",
                                      "rollback_backup": "latest", "rollback_reason": "nightly drill",
                                      "rollback_confirm": "false"}
    assert schedule["enabled"] is False


@pytest.mark.parametrize("entry, complaint", [
    ({"playbook": "rollback", "vars": {"rollback_type": "application"}},
     "must give rollback_reason: the job template's survey requires an answer"),
    ({"playbook": "maintenance", "vars": {"maintenance_level": "hourly"}},
     "gives maintenance_level 'hourly'; the survey's choices are daily, weekly, monthly, quarterly"),
    ({"playbook": "rollback", "vars": {"rollback_type": "full", "rollback_reason": ""}},
     "gives rollback_reason a text of 0 characters"),
    ({"playbook": "maintenance", "vars": {"maintenance_level": "daily", "maintenance_tables": ["orders"]}},
     "gives maintenance_tables, which the survey does not ask"),
])
def test_a_schedule_awx_would_refuse_is_refused_first(entry, complaint):
    with pytest.raises(AnsibleFilterError, match=re.escape(complaint)):
        awx_schedules(plan(**entry), TEMPLATES)


def test_variables_outside_the_survey_go_through_when_templates_take_any():
    templates = awx_job_templates(SURVEYS, PLANS, ask_variables_on_launch=True)

    (schedule,) = awx_schedules(plan(playbook="maintenance", vars={"maintenance_tables": ["orders"]}), templates)

    assert schedule["extra_data"] == {"maintenance_level": "daily", "maintenance_tables": ["orders"]}


def test_the_stale_schedules_are_those_whose_name_and_template_the_definition_no_longer_has():
    schedules = awx_schedules(PLANS, TEMPLATES)

    def made(schedule_id, name, template):
        return {"id": schedule_id, "name": name, "summary_fields": {"unified_job_template": {"name": template}}}

    found = [made(7, "maintenance-daily", "runbook.ops maintenance"), made(8, "maintenance-daily", "runbook.ops backup"),
             made(9, "old-entry", "runbook.ops maintenance")]

    assert awx_stale_schedules(found, schedules) == [
        {"id": 8, "name": "maintenance-daily", "template": "runbook.ops backup"},
        {"id": 9, "name": "old-entry", "template": "runbook.ops maintenance"}]


# ----- the role's own settings ----------------------------------------------------------------------------------
def test_every_awx_setting_is_an_option_of_the_awx_entry_point_with_its_default():
    spec = load(ROLE / "meta/argument_specs.yml")["argument_specs"]["awx"]["options"]

    assert {name for name in spec if name.startswith("schedule_awx_")} == set(AWX_DEFAULTS)
    for name, value in AWX_DEFAULTS.items():
        if name != "schedule_awx_surveys" and "{{" not in str(value):
            assert spec[name]["default"] == value, name


def test_the_awx_tasks_read_every_setting_and_hide_the_credentials():
    tasks = (ROLE / "tasks/awx.yml").read_text(encoding="utf-8")
    for name in AWX_DEFAULTS:
        assert name in tasks, name
    credential_task = next(task for block in load(ROLE / "tasks/awx.yml") for task in block.get("block", [])
                           if "awx.awx.credential" in task)
    assert credential_task["no_log"] is True


def test_the_filters_are_documented_beside_their_code():
    source = (REPO_ROOT / "plugins/filter/awx.py").read_text(encoding="utf-8")
    filters = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Dict)][-1]
    for key in filters.keys:
        documentation = load(REPO_ROOT / "plugins/filter" / f"{key.value}.yml")["DOCUMENTATION"]
        assert documentation["name"] == key.value
