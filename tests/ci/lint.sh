#!/usr/bin/env bash
# Run ansible-lint over the repository with the settings in .ansible-lint (production profile, offline).
#
# Environment: VENV, the virtual environment holding the pinned requirements (default: <repo>/.venv).
# Extra arguments go to ansible-lint, e.g. `tests/ci/lint.sh roles/bootstrap`.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$(cd -- "${VENV:-$repo/.venv}" && pwd)

# Playbooks and syntax checks resolve onedrive.connection.* names through a collections path that holds
# this working tree, made here so the script needs nothing set up beforehand.
collections=$(mktemp -d)
trap 'rm -rf -- "$collections"' EXIT
mkdir -p "$collections/ansible_collections/onedrive"
ln -s "$repo" "$collections/ansible_collections/onedrive/connection"

cd "$repo"
# ansible-lint warns when the interpreter's bin directory is not on PATH.
PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$collections "$venv/bin/ansible-lint" "$@"
