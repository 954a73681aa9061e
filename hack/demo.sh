#!/usr/bin/env bash
# The sandbox tour: start the fakes, show a rollback's plan, roll back for real, print what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg PATH=$PWD/.venv/bin:$PATH

hack/sandbox.sh up
trap 'hack/sandbox.sh down' EXIT
set -a
. inventories/sandbox/sandbox.env
set +a
reason="demo: checkout answers 500 since the last deploy"

printf '\n=== 1. The plan: without rollback_confirm nothing changes\n'
ansible-playbook playbooks/rollback.yml -i inventories/sandbox -e rollback_type=application \
  -e "rollback_reason='$reason'"

printf '\n=== 2. The rollback\n'
ansible-playbook playbooks/rollback.yml -i inventories/sandbox -e rollback_type=application \
  -e "rollback_reason='$reason'" -e rollback_confirm=true

printf '\n=== 3. What happened\n'
python -m tests.fakes.summary --ready-file .sandbox/fakes.json --audit .sandbox/audit/audit.jsonl
