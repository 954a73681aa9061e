# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Tests and tools find the collection through ansible.cfg's collections_path.
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: demo test unit integration lint sanity molecule bench ee sandbox-up sandbox-down clean

$(VENV)/.installed: requirements/test.txt hack/bootstrap.sh
	hack/bootstrap.sh
	touch $@

## demo: start the sandbox, show a rollback's plan, roll back, print what happened
demo: $(VENV)/.installed
	hack/demo.sh

## test: every test and gate: unit and integration tests, ansible-lint, ansible-test sanity, molecule
test: unit integration lint sanity molecule

# Both cores; the summary names the slowest tests.
unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -n 2 --durations=5

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration -n 2 --durations=10

lint: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ansible-lint --profile production

sanity: $(VENV)/.installed
	hack/sanity.sh

# A scenario per role (molecule/), converge, idempotence and verify against SSH hosts on loopback.
molecule: $(VENV)/.installed
	hack/molecule.sh

## bench: the rollback's wall time next to ansible-playbook's floor, and its HTTP requests; postgres_backup and postgres_restore next to raw pg_dump and pg_restore, and their memory; postgres_archive next to one DELETE ... RETURNING statement; the daily maintenance on 20 SSH hosts next to one; the hourly check on a year of history next to none
bench: $(VENV)/.installed
	$(PY) -m tests.bench.rollback
	$(PY) -m tests.bench.database
	$(PY) -m tests.bench.archive
	$(PY) -m tests.bench.maintenance_hosts
	$(PY) -m tests.bench.daily_check_history

## ee: the execution environment's build context in build/ee (then: podman build -t runbook-ops-ee build/ee)
ee: $(VENV)/.installed
	hack/ee-context.sh

sandbox-up: $(VENV)/.installed
	hack/sandbox.sh up

sandbox-down:
	hack/sandbox.sh down

clean: sandbox-down
	rm -rf $(VENV) build .sandbox .cache .ansible tests/output .pytest_cache
