#!/usr/bin/env bash
# Starts (up) or stops (down) the sandbox: the local fakes of Vercel, Slack, the app's health
# endpoint, Statuspage and PagerDuty, and a throwaway PostgreSQL server with a shop database, on the
# loopback ports that inventories/sandbox/sandbox.env names. `up` always starts from the sandbox's
# seed, so every demo begins in the same state.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.sandbox
pidfile=$state/fakes.pid
ready=$state/fakes.json
postgres=$state/postgres.json

down() {
  if [ -f "$postgres" ]; then
    .venv/bin/python -m tests.postgres_cluster down --state "$postgres"
  fi
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile" "$ready"
}

up() {
  down
  mkdir -p "$state"
  rm -rf "$state/audit" "$state/locks" "$state/backup" "$state/incidents" "$state/diagnostics" "$state/reports" "$state/ops"
  .venv/bin/python -m tests.postgres_cluster up --state "$postgres" --port 28083
  .venv/bin/python -m tests.fakes --seed tests/fakes/sandbox.json \
    --vercel-port 28080 --slack-port 28081 --health-port 28082 --statuspage-port 28084 \
    --pagerduty-port 28085 --ready-file "$ready" \
    >"$state/fakes.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 100); do
    [ -s "$ready" ] && { echo "Sandbox up: $(cat "$ready")"; return 0; }
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
  done
  echo "The sandbox did not start; its log:" >&2
  cat "$state/fakes.log" >&2
  exit 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
