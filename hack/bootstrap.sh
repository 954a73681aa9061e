#!/usr/bin/env bash
# Installs what `make` needs on a fresh Debian machine: the system packages that are missing,
# then a virtual environment in .venv with the pinned Python packages and the pinned Vercel CLI in
# .cache/vercel-cli.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v git >/dev/null || missing+=(git)
# ansible-test sanity lints the shell scripts with it.
command -v shellcheck >/dev/null || missing+=(shellcheck)
# The throwaway PostgreSQL clusters of the tests run on the installed server binaries.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# The ops hosts of the tests are sshd processes on loopback addresses, reached with the ssh client.
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || missing+=(openssh-client)
# The report pages of the daily checks are opened in headless Chromium; their Japanese needs a CJK font.
command -v chromium >/dev/null || missing+=(chromium)
fc-list :lang=ja 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
# The schedule tests check the timers with systemd-analyze (systemd itself need not run).
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The real Vercel CLI, which tests/integration/test_fake_vercel_vs_cli.py runs against the fake.
command -v npm >/dev/null || missing+=(nodejs npm)

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

# Pinned: newer releases of the CLI do not install here.
vercel_cli=.cache/vercel-cli
vercel_version=58.10.0
installed=$(node -p "require('./$vercel_cli/node_modules/vercel/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$vercel_version" ]; then
  npm install --no-audit --no-fund --loglevel=error --prefix "$vercel_cli" "vercel@$vercel_version" >/dev/null
fi
