#!/usr/bin/env bash
# Runs every molecule scenario (molecule/): in each run the default scenario starts the SSH hosts, PostgreSQL and
# the fakes once, then each role's scenario converges, converges again (molecule's idempotence) where the role is
# idempotent, and verifies. The scenarios run in two lanes side by side, one per core, each a molecule run of its
# own with its own servers, ports and folder, so that neither sees the other's doing. Whatever happens (a failed
# scenario, Ctrl-C), every server is stopped and every folder removed; the exit status is not 0 when any
# scenario failed.
#   hack/molecule.sh                    # every scenario
#   hack/molecule.sh -s health_check    # the arguments go to one `molecule test` instead
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg MOLECULE_PROJECT_DIRECTORY=$PWD

# The first lane's scenarios, about half of the time; the second lane runs all the others.
first_lane=(maintenance schedule deploy diagnostics notify db_backup)

lanes=() finished=" "
# shellcheck disable=SC2317  # run by the trap below, which shellcheck 0.9 does not follow
stop_lanes() {
  for lane in "${lanes[@]}"; do
    pid=${lane%%:*} folder=${lane#*:}
    # A lane still running (the script was interrupted) is ended with what it started: its own process group.
    # A finished lane's pid is not signalled: the system may have given it to another process since.
    if [[ $finished != *" $pid "* ]]; then
      kill -- "-$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    # Already done by the default scenario when molecule ends normally; then this finds nothing to stop.
    MOLECULE_EPHEMERAL_DIRECTORY=$folder ansible-playbook molecule/default/destroy.yml >"$folder.destroy.log" 2>&1 \
      || { echo "Stopping the molecule servers of $folder failed:" >&2; cat "$folder.destroy.log" >&2; }
    rm -rf "$folder" "$folder.destroy.log" "$folder.log"
  done
}
trap stop_lanes EXIT
trap 'exit 130' INT TERM

# A lane: `molecule test` with the given arguments, in a new folder and a process group of its own, on free
# ports (the kernel hands them out above the sandbox's 28080-28085; all six at once, so that they differ). Its
# output goes to <folder>.log.
start_lane() {
  local folder ports
  folder=$(mktemp -d -t runbook-molecule.XXXXXX)
  ports=$(python -c 'import socket
probes = [socket.socket() for _ in range(6)]
for probe in probes:
    probe.bind(("127.0.0.1", 0))
print(*(probe.getsockname()[1] for probe in probes))')
  read -r vercel slack health statuspage pagerduty postgres <<<"$ports"
  MOLECULE_EPHEMERAL_DIRECTORY=$folder RUNBOOK_MOLECULE_VERCEL_PORT=$vercel RUNBOOK_MOLECULE_SLACK_PORT=$slack \
    RUNBOOK_MOLECULE_HEALTH_PORT=$health RUNBOOK_MOLECULE_STATUSPAGE_PORT=$statuspage \
    RUNBOOK_MOLECULE_PAGERDUTY_PORT=$pagerduty RUNBOOK_MOLECULE_POSTGRES_PORT=$postgres \
    setsid molecule -c molecule/config.yml test "$@" >"$folder.log" 2>&1 &
  lanes+=("$!:$folder")
}

if [ $# -gt 0 ]; then
  start_lane "$@"
else
  first=() rest=()
  for scenario in "${first_lane[@]}"; do
    first+=(-s "$scenario")
    rest+=(--exclude "$scenario")
  done
  start_lane "${first[@]}"
  start_lane --all "${rest[@]}"
fi

# Each lane's output as it ends, then how long it took (to balance the lanes: first_lane above).
failed=0 logs=()
for _ in "${lanes[@]}"; do
  status=0
  wait -n -p pid || status=$?
  finished+="$pid "
  for lane in "${lanes[@]}"; do
    if [ "${lane%%:*}" = "$pid" ]; then folder=${lane#*:}; fi
  done
  cat "$folder.log"
  logs+=("$folder.log")
  echo "A lane ended after $SECONDS s with exit status $status."
  [ "$status" -eq 0 ] || failed=1
done

# No secret may stand in what the plays printed: the fakes' credentials that config.yml gives the plays, the last
# part of each Slack webhook, and the throwaway PostgreSQL server's password.
python - "${logs[@]}" <<'EOF' || failed=1
import sys
from pathlib import Path

import yaml

from tests.postgres_cluster import PASSWORD

environment = yaml.safe_load(Path("molecule/config.yml").read_text(encoding="utf-8"))["ansible"]["env"]
secrets = [environment[name] for name in ("VERCEL_TOKEN", "STATUS_PAGE_API_KEY", "PAGERDUTY_ROUTING_KEY",
                                          "PAGERDUTY_API_TOKEN")]
secrets += [value.rsplit("/", 1)[1] for name, value in environment.items() if name.startswith("SLACK_")]
secrets.append(PASSWORD)
output = "".join(Path(log).read_text(encoding="utf-8", errors="replace") for log in sys.argv[1:])
shown = [secret for secret in secrets if secret in output]
if shown:
    sys.exit(f"{len(shown)} secret(s) stand in the output of the molecule runs.")
EOF
exit "$failed"
