"""Every role's argument specs are complete: each entry point has its tasks, each option says what it is, and every
default a user may set is an option of some entry point, so Ansible refuses a bad value before the first task."""
from pathlib import Path

import pytest
import yaml

ROLES = sorted(path for path in (Path(__file__).resolve().parents[2] / "roles").iterdir() if path.is_dir())


def defaults(role):
    files = [role / "defaults/main.yml"] if (role / "defaults/main.yml").exists() \
        else sorted((role / "defaults/main").glob("*.yml"))
    names = set()
    for path in files:
        names |= set(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return names


def options(spec):
    """Each option with its path, suboptions included."""
    for name, option in (spec or {}).items():
        yield name, option
        for sub, suboption in options(option.get("options")):
            yield f"{name}.{sub}", suboption


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_the_argument_specs_are_complete(role):
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    documented = set()

    for entry_point, spec in specs.items():
        assert (role / "tasks" / f"{entry_point}.yml").is_file(), f"{role.name}: no tasks for {entry_point}"
        assert spec.get("short_description"), f"{role.name}: {entry_point} has no short description"
        for name, option in options(spec.get("options")):
            assert option.get("description"), f"{role.name}: {entry_point} option {name} has no description"
            assert option.get("type"), f"{role.name}: {entry_point} option {name} has no type"
            if "choices" in option and "default" in option and option["type"] != "list":
                assert option["default"] in option["choices"], f"{role.name}: {name}'s default is not a choice"
        documented |= set(spec.get("options") or {})

    assert defaults(role) - documented == set(), f"{role.name}: defaults no entry point takes"
