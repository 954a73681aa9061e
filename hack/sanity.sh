#!/usr/bin/env bash
# Runs `ansible-test sanity` the way the collection's users' CI would: on a copy of the files
# git knows, laid out as ansible_collections/runbook/ops, in ansible-test's own virtual environments.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
copy=build/ansible_collections/runbook/ops

# ansible-test fetches a pip bootstrap script from a host this network cannot reach; it reads a
# saved copy from its cache first, so put our offline stand-in there under the name it looks for.
pip_version=$(.venv/bin/python -c 'import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')
mkdir -p ~/.ansible/test/cache
cp hack/get_pip.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

rm -rf "$copy"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | grep -zv '^collections/' | xargs -0 cp --parents -t "$copy"
cd "$copy"
# ansible-test lists a collection's files with git when it is a repository; make the copy one.
git init -q && git add -A
"$top/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
