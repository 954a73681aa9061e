#!/usr/bin/env bash
# The sandbox tour: start the sandbox, take a backup, break production, show a full rollback's plan,
# roll back for real, print what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg PATH=$PWD/.venv/bin:$PATH

hack/sandbox.sh up
trap 'hack/sandbox.sh down' EXIT
set -a
. inventories/sandbox/sandbox.env
set +a
shop() { python -m tests.postgres_cluster sql --state .sandbox/postgres.json shop "$1"; }
reason="demo: checkout answers 500 and prices are 0 since the last deploy"

printf '\n=== 1. Last night'"'"'s verified backup\n'
ansible-playbook playbooks/backup.yml -i inventories/sandbox

printf '\n=== 2. A bad deploy: its migration sets every price to 0\n'
shop "UPDATE products SET price = 0"
echo "Products priced 0: $(shop 'SELECT count(*) FROM products WHERE price = 0') of $(shop 'SELECT count(*) FROM products')"

printf '\n=== 3. The plan: without rollback_confirm nothing changes\n'
ansible-playbook playbooks/rollback.yml -i inventories/sandbox -e rollback_type=full \
  -e "rollback_reason='$reason'"

printf '\n=== 4. The rollback: the application, then the database\n'
ansible-playbook playbooks/rollback.yml -i inventories/sandbox -e rollback_type=full \
  -e "rollback_reason='$reason'" -e rollback_confirm=true

printf '\n=== 5. What happened\n'
echo "Products priced 0: $(shop 'SELECT count(*) FROM products WHERE price = 0') of $(shop 'SELECT count(*) FROM products')"
python -m tests.fakes.summary --ready-file .sandbox/fakes.json --audit .sandbox/audit/audit.jsonl
