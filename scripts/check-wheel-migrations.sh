#!/usr/bin/env bash
# The plugin's migrations must work from an installed, non-editable wheel: build one, install it in a
# fresh virtual environment, and migrate a fresh database through the example host's CLI.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
# WHEEL_DATABASE_URL (an empty database) checks another database than a fresh SQLite file; its driver
# comes with the extras (mysql, postgres).
"$work/venv/bin/python" -m pip install --quiet "$repo[mysql,postgres]"
cd "$work"
# Only the example host comes from the checkout; scim_plugin must come from site-packages.
export PYTHONPATH="$repo" HOST_INSTANCE_PATH="$work/instance" SECRET_KEY=wheel-check
export DATABASE_URL="${WHEEL_DATABASE_URL:-sqlite:///$work/wheel.db}"
location=$("$work/venv/bin/python" -c 'import scim_plugin.storage.migrate as m; print(m.script_location())')
case "$location" in
  "$work"/venv/*) echo "migrations found in the installed wheel: $location" ;;
  *) echo "migrations were not loaded from the wheel: $location" >&2; exit 1 ;;
esac
"$work/venv/bin/flask" --app examples.host_app demo init >/dev/null
head=$("$work/venv/bin/flask" --app examples.host_app scim db current)
test -n "$head" || { echo "no revision after upgrade" >&2; exit 1; }
"$work/venv/bin/flask" --app examples.host_app scim db check
"$work/venv/bin/flask" --app examples.host_app scim db downgrade base
test -z "$("$work/venv/bin/flask" --app examples.host_app scim db current)"
"$work/venv/bin/flask" --app examples.host_app scim db upgrade
echo "wheel migrations: upgrade, check, downgrade and upgrade again passed (head $head)"
