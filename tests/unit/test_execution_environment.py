"""The execution environment's build context, as hack/ee-context.sh writes it, holds what the runbook needs.

No container engine runs here, so the image is not built. What can be run without one is run on the
context itself: the galaxy stage's install of the collection from the context's requirements file, and the
builder stage's script that merges the Python and system requirements. The rest is read from the
Containerfile: the base image, the pinned ansible-core and ansible-runner, and the PostgreSQL client at a
major version no older than the server the tests run.
"""
import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.postgres_cluster import PASSWORD, server_bindir

ANSIBLE_GALAXY = Path(sys.executable).parent / "ansible-galaxy"
EE = yaml.safe_load((REPO_ROOT / "execution-environment.yml").read_text())


def pins(requirements_file):
    """``name==version`` lines of a pip requirements file, as {name: version}."""
    found = {}
    for line in requirements_file.read_text().splitlines():
        pin = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#")[0].strip())
        if pin:
            found[pin.group(1).lower()] = pin.group(2)
    return found


def third_party_imports():
    """The top-level names the plugins import beyond the standard library, Ansible and what ansible-core requires."""
    names = set()
    for source in (REPO_ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    core = {re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0].lower()
            for requirement in importlib.metadata.requires("ansible-core")}
    distributions = importlib.metadata.packages_distributions()
    return {name for name in names - set(sys.stdlib_module_names) - {"__future__", "ansible", "ansible_collections"}
            if not {d.lower() for d in distributions.get(name, [])} & core}


def sandbox_secrets():
    """The sandbox's credentials and the test cluster's password: none of them may travel in the image."""
    secrets = {PASSWORD}
    for line in (REPO_ROOT / "inventories/sandbox/sandbox.env").read_text().splitlines():
        name, _equals, value = line.partition("=")
        if re.search(r"TOKEN|KEY|WEBHOOK|DATABASE_URL", name) and value.strip():
            secrets.add(value.strip())
    return secrets


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context, written once for the module into a folder of its own."""
    folder = tmp_path_factory.mktemp("ee") / "context"
    done = subprocess.run([str(REPO_ROOT / "hack/ee-context.sh"), str(folder)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert os.path.realpath(folder) in done.stdout
    return folder


@pytest.fixture(scope="module")
def containerfile(context):
    return (context / "Containerfile").read_text()


@pytest.fixture(scope="module")
def final_stage(containerfile):
    """The steps of the image itself, after the stages that only build it."""
    assert containerfile.count("FROM base AS final") == 1
    return containerfile.split("FROM base AS final")[1]


@pytest.fixture(scope="module")
def collection_tarball(context):
    """The collection tarball the context's galaxy requirements name, which must be in the context."""
    requirements = yaml.safe_load((context / "_build/requirements.yml").read_text())
    assert requirements["collections"] == [{"name": "collections/runbook-ops.tar.gz", "type": "file"}]
    # The galaxy stage runs in /build, where the context's _build is copied.
    return context / "_build" / requirements["collections"][0]["name"]


@pytest.fixture(scope="module")
def installed(context, collection_tarball, tmp_path_factory):
    """The collections path the galaxy stage would fill, filled by ansible-galaxy from the context, offline."""
    collections = tmp_path_factory.mktemp("ee-collections")
    # Away from the checkout's ansible.cfg, whose collections path already holds runbook.ops.
    environment = {name: value for name, value in os.environ.items() if name != "ANSIBLE_CONFIG"}
    done = subprocess.run([str(ANSIBLE_GALAXY), "collection", "install", "-r", "requirements.yml",
                           "--collections-path", str(collections)], cwd=context / "_build",
                          env={**environment, "ANSIBLE_GALAXY_DISABLE_GPG_VERIFY": "1"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return collections


def test_the_image_starts_from_the_base_anyone_can_pull(containerfile):
    base = EE["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{base}"' in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    # registry.redhat.io wants a Red Hat login; an AWX user may have none.
    assert not base.startswith("registry.redhat.io/")


def test_ansible_core_and_runner_are_the_versions_the_tests_run(containerfile):
    tested = pins(REPO_ROOT / "requirements/test.txt")
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"$', containerfile, re.MULTILINE).group(1).split()
    assert sorted(refs) == [f"ansible-core=={tested['ansible-core']}", f"ansible-runner=={tested['ansible-runner']}"]
    assert "RUN $PYCMD -m pip install --no-cache-dir $ANSIBLE_INSTALL_REFS" in containerfile


def test_the_collection_in_the_context_is_this_checkout(collection_tarball, containerfile):
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    with tarfile.open(collection_tarball) as tarball:
        names = set(tarball.getnames())
        manifest = json.load(tarball.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == \
        (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert {"plugins/modules/postgres_backup.py", "playbooks/rollback.yml"} <= names
    # What builds, tests and caches the collection stays out of the image.
    for outside in (".venv", ".cache", ".sandbox", ".ansible", ".artifacts", ".pytest_cache", "build", "tests",
                    "inventories", "collections", "hack", "execution-environment.yml"):
        assert not any(name == outside or name.startswith(outside + "/") for name in names), outside
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" \
        in containerfile


def test_the_galaxy_stage_installs_the_collection_with_its_playbooks(installed):
    collection = installed / "ansible_collections/runbook/ops"
    assert (collection / "plugins/modules/postgres_backup.py").is_file()
    assert (collection / "playbooks/rollback.yml").is_file()
    # runbook.ops is the only collection: awx.awx runs from a controller, not in this image.
    assert sorted(path.name for path in (installed / "ansible_collections").iterdir()) == ["runbook"]


def test_the_image_installs_what_the_plugins_import(context, containerfile, installed, tmp_path):
    ee_python = pins(REPO_ROOT / "requirements/ee-python.txt")
    distributions = importlib.metadata.packages_distributions()
    for name in third_party_imports():
        assert {d.lower() for d in distributions.get(name, [name])} & set(ee_python), \
            f"the plugins import {name}, which requirements/ee-python.txt does not install"
    # The versions the tests ran.
    tested = pins(REPO_ROOT / "requirements/test.txt")
    assert {name: tested.get(name) for name in ee_python} == ee_python

    # The builder stage's own merge of the collections' and our requirements, run on the context.
    merged = tmp_path / "merged"
    done = subprocess.run([sys.executable, str(context / "_build/scripts/introspect.py"), "introspect", str(installed),
                           "--user-pip=requirements.txt", "--user-bindep=bindep.txt",
                           f"--write-pip={merged}/requirements.txt", f"--write-bindep={merged}/bindep.txt"],
                          cwd=context / "_build", capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {f"{name}=={version}" for name, version in ee_python.items()} <= \
        {line.split("#")[0].strip() for line in (merged / "requirements.txt").read_text().splitlines()}
    system = {line.split()[0] for line in (merged / "bindep.txt").read_text().splitlines() if line.strip()}
    assert {"tzdata", "openssh-clients", "git-core"} <= system
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert "RUN /output/scripts/install-from-bindep" in containerfile


def test_the_postgresql_client_is_no_older_than_the_tested_server(final_stage):
    major = int(re.search(r"^ARG POSTGRESQL_MAJOR=(\d+)$", final_stage, re.MULTILINE).group(1))
    tested_server = int(server_bindir().parent.name)  # /usr/lib/postgresql/<major>/bin
    assert major >= tested_server, f"the image's PostgreSQL client {major} is older than the tested server"

    install = final_stage.split(f"ARG POSTGRESQL_MAJOR={major}")[1].split("\nRUN rm -rf /output")[0]
    assert "https://download.postgresql.org/pub/repos/yum/reporpms/EL-9-" in install
    assert 'dnf install -y "postgresql${POSTGRESQL_MAJOR}"' in install
    # The modules run the client programs by name, from PATH: the links put that major's first.
    assert 'ln -sf "/usr/pgsql-${POSTGRESQL_MAJOR}"/bin/* /usr/local/bin/' in install
    for program in ("pg_dump", "pg_restore", "psql"):
        assert program in install.split("for program in")[1].split(";")[0]
    # Installed as root, before the image drops to its own user.
    assert final_stage.index("ARG POSTGRESQL_MAJOR") < final_stage.index("USER 1000")


@pytest.mark.parametrize("module, programs", [
    ("postgres_backup", ["pg_dump", "pg_restore"]),
    ("postgres_restore", ["pg_dump", "pg_restore", "psql"]),
])
def test_the_modules_look_for_the_client_programs_on_path(module, programs):
    source = (REPO_ROOT / f"plugins/modules/{module}.py").read_text()
    documentation = next(node.value.value for node in ast.parse(source).body if isinstance(node, ast.Assign)
                         and node.targets[0].id == "DOCUMENTATION")
    options = yaml.safe_load(documentation)["options"]
    # A bare name is looked up on PATH, which /usr/local/bin leads.
    assert [options[program]["default"] for program in programs] == programs


def test_no_secret_travels_in_the_context(context, collection_tarball):
    secrets = sandbox_secrets()
    assert len(secrets) > 3
    with tarfile.open(collection_tarball) as tarball:
        contents = [tarball.extractfile(member).read() for member in tarball.getmembers() if member.isfile()]
    contents += [path.read_bytes() for path in context.rglob("*") if path.is_file() and path != collection_tarball]
    for secret in secrets:
        assert not any(secret.encode() in content for content in contents)
