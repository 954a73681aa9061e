#!/usr/bin/env bash
# Installs what `make` needs on a fresh Debian machine: the system packages that are missing,
# then a virtual environment in .venv with the pinned Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v git >/dev/null || missing+=(git)
command -v curl >/dev/null || missing+=(curl)
# ansible-test sanity lints the shell scripts with it.
command -v shellcheck >/dev/null || missing+=(shellcheck)

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements/test.txt
