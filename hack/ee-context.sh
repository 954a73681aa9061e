#!/usr/bin/env bash
# Writes the execution environment's build context into build/ee, or the folder given: the collection
# built from this checkout, then `ansible-builder create` for execution-environment.yml. Needs neither
# the network nor a container engine. Build the image from it where one runs:
#   podman build -t runbook-ops-ee build/ee     (or docker build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
context=$(realpath -m "${1:-$top/build/ee}")
cd "$top"

# execution-environment.yml takes the tarball from here, under a name without the version, so that a
# new version needs no change there; the tarball still says its version in its MANIFEST.json.
collection=build/ee-collection
mkdir -p "$collection"
scratch=$(mktemp -d "$collection/build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# From the last commit, not the working tree: a stray .env or dump in the checkout must not end up in an image.
source_tree=$scratch/source
mkdir "$source_tree"
git archive HEAD | tar -x -C "$source_tree"
echo "The collection is built from commit $(git rev-parse --short HEAD); changes not committed are not in it."
.venv/bin/ansible-galaxy collection build --output-path "$scratch" "$source_tree" >/dev/null
# A rename, so that another run at the same time never reads half a tarball.
mv -f "$scratch"/runbook-ops-*.tar.gz "$collection/runbook-ops.tar.gz"

# ansible-builder adds and overwrites, but leaves files of an earlier context that it no longer writes.
rm -rf "$context/_build"
.venv/bin/ansible-builder create --file execution-environment.yml --context "$context" \
  --output-filename Containerfile --verbosity 0
echo "The build context is in $context: podman build -t runbook-ops-ee $context"
