#!/usr/bin/env bash
# Installs real Cinder 29.0.0 into its own virtual environment (default .venv-cinder29 in the
# repository root), for the differential suite. A no-op once installed: the stamp file records
# what was installed, so changing the requirements below reinstalls.
# Usage: tests/differential/setup-cinder.sh [VENV]   (or CINDER_VENV=DIR)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3.11}
VENV=${1:-${CINDER_VENV:-.venv-cinder29}}
# fixtures and testtools: Cinder's functional-test harness imports them; pip does not pull them in.
REQUIREMENTS=("cinder==29.0.0" "fixtures" "testtools")
STAMP="$VENV/.cinder29-stamp"
WANT="${REQUIREMENTS[*]}"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi
started=$(date +%s)
echo "setup-cinder: installing ${WANT} into ${VENV} (a few minutes on a bare machine)" >&2
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "${REQUIREMENTS[@]}"
# pip puts Cinder's etc/ (api-paste.ini, resource_filters.json) under <venv>/etc, while its
# functional-test harness looks for them under <site-packages>/etc.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn "$(cd "$VENV" && pwd)/etc" "$site/etc"
test -f "$site/etc/cinder/api-paste.ini"
"$VENV/bin/python" -c 'import cinder.tests.functional.functional_helpers'
echo "$WANT" > "$STAMP"
echo "setup-cinder: installed in $(( $(date +%s) - started )) s" >&2
