"""The changelog: its fragments lint clean, CHANGELOG.md is what antsibull-changelog generates from
changelogs/changelog.yaml (so neither is edited by hand alone), and every plugin, module and role added in a
released version is listed under it.

Generating writes files, so it runs on a copy in a temporary folder; the checkout is only read.
"""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

ANTSIBULL_CHANGELOG = Path(sys.executable).parent / "antsibull-changelog"
CHANGES = yaml.safe_load((REPO_ROOT / "changelogs/changelog.yaml").read_text())


def changelog(*args, cwd):
    return subprocess.run([str(ANTSIBULL_CHANGELOG), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def documented_version_added():
    """(kind in changelog.yaml, name, version_added) of each module, filter and role that states one."""
    found = []
    for source in sorted((REPO_ROOT / "plugins/modules").glob("*.py")):
        documentation = next((node.value.value for node in ast.parse(source.read_text()).body
                              if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION"),
                             None)
        if documentation:
            found.append(("modules", source.stem, yaml.safe_load(documentation).get("version_added")))
    for source in sorted((REPO_ROOT / "plugins/filter").glob("*.yml")):
        documentation = yaml.safe_load(source.read_text()).get("DOCUMENTATION") or {}
        found.append(("filter", documentation.get("name", source.stem), documentation.get("version_added")))
    for source in sorted((REPO_ROOT / "roles").glob("*/meta/argument_specs.yml")):
        main = yaml.safe_load(source.read_text())["argument_specs"].get("main", {})
        found.append(("role", source.parents[1].name, main.get("version_added")))
    return [(kind, name, str(version)) for kind, name, version in found if version]


def listed(release, kind):
    if kind == "modules":
        entries = release.get("modules", [])
    elif kind == "role":
        entries = release.get("objects", {}).get("role", [])
    else:
        entries = release.get("plugins", {}).get(kind, [])
    return {entry["name"] for entry in entries}


def test_the_fragments_lint_clean():
    done = changelog("lint", cwd=REPO_ROOT)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    done = changelog("lint-changelog-yaml", "changelogs/changelog.yaml", cwd=REPO_ROOT)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_first_release_is_0_1_0_with_its_notes():
    assert min(CHANGES["releases"], key=lambda version: tuple(map(int, version.split(".")))) == "0.1.0"
    first = CHANGES["releases"]["0.1.0"]
    assert first["changes"]["release_summary"].strip()
    assert any("rollback playbook" in change for change in first["changes"]["major_changes"])
    assert {"postgres_backup", "postgres_restore", "vercel_alias"} <= listed(first, "modules")


def test_the_committed_changelog_is_the_generated_one(tmp_path):
    for name in ("galaxy.yml", "changelogs/config.yaml", "changelogs/changelog.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / "changelogs/fragments").mkdir()

    done = changelog("generate", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    generated = (tmp_path / "CHANGELOG.md").read_text()
    assert (REPO_ROOT / "CHANGELOG.md").read_text() == generated, (
        "CHANGELOG.md is not what changelogs/changelog.yaml generates: run `antsibull-changelog generate`, and "
        "put changes in a fragment in changelogs/fragments/, not in CHANGELOG.md")
    assert "## v0\\.1\\.0" in generated


def test_every_plugin_added_in_a_release_is_listed_under_it():
    missing = [f"{kind} {name} ({version})" for kind, name, version in documented_version_added()
               if version in CHANGES["releases"] and name not in listed(CHANGES["releases"][version], kind)]
    assert not missing, (
        f"Added in a released version, yet missing from changelogs/changelog.yaml: {', '.join(missing)}. Run "
        "`antsibull-changelog release --reload-plugins` (with --update-existing for an unpublished version).")
