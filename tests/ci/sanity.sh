#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection exactly as it is published: build the tarball, extract it into
# a throwaway ansible_collections tree and test there. That tree is not a git checkout, so ansible-test sees
# every file the tarball holds and nothing else: a gap in build_ignore shows up here as a sanity failure.
#
# Every sanity test runs; none needs a network or containers (pslint and shellcheck pass with nothing to
# check: no PowerShell or shell files ship, and ansible-test would skip them with a warning if pwsh or
# shellcheck were missing). Each test that has requirements gets its own
# virtual environment in ~/.ansible/test/venv, filled from the package indexes on first use and reused while
# its requirements stay the same. --local runs ansible-test itself from VENV rather than from a virtual
# environment it would rebuild inside the throwaway tree every run, so a warm run needs no package index.
# --enable-optional-errors adds pylint's complexity limit and the checks of deprecation dates.
#
# Environment: VENV, the virtual environment holding the pinned requirements (default: <repo>/.venv);
# SANITY_PYTHON, the Python version ansible-test checks with (default 3.11; the matrix sets its cell's).
# Extra arguments go to ansible-test, e.g. `tests/ci/sanity.sh --test pylint -v`.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$(cd -- "${VENV:-$repo/.venv}" && pwd)
python_version=${SANITY_PYTHON:-3.11}

# ansible-test puts pip into each virtual environment it makes with a get-pip script that it downloads from
# a CI host unless a copy is cached under the pip version it pins; cache the offline stand-in under that name.
pip_version=$("$venv/bin/python" -c '
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])' "$python_version")
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname -- "$get_pip")"
# Replaced in one step: another run may be reading it.
cp "$repo/tests/ci/get_pip.py" "$get_pip.$$"
mv -f "$get_pip.$$" "$get_pip"

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
collection=$work/ansible_collections/onedrive/connection
mkdir -p "$collection"
"$venv/bin/ansible-galaxy" collection build --output-path "$work" "$repo" >/dev/null
tar -xzf "$work"/onedrive-connection-*.tar.gz -C "$collection"

cd "$collection"
PATH=$venv/bin:$PATH "$venv/bin/ansible-test" sanity --local --python "$python_version" --enable-optional-errors "$@"
