#!/usr/bin/env bash
# Installs the project's Python tools into a project-local venv, once:
#   cfn-lint        lints every synthesized CloudFormation template;
#   moto[server]    a local AWS endpoint: the local DynamoDB of the market, the integration tests
#                   and the benches (localstack/src/dynamodb.ts), and what `cdk bootstrap` /
#                   `cdk deploy` are pointed at in the infra tests.
# Pinned versions; idempotent (a stamp file records what was installed); prints the venv's bin
# folder on stdout. Needs python3 (>= 3.9) with venv and PyPI reachable on first use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.tools/py"
REQUIREMENTS=("cfn-lint==1.58.0" "moto[server]==5.2.5")
STAMP="$VENV/.surplus-installed"
WANT="${REQUIREMENTS[*]}"

say() { printf '\033[1;36m[infra]\033[0m %s\n' "$*" >&2; }

if [ -x "$VENV/bin/cfn-lint" ] && [ -x "$VENV/bin/moto_server" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "$VENV/bin"
  exit 0
fi

PY="${PYTHON:-$(command -v python3 || true)}"
[ -n "$PY" ] || { echo "[infra] error: python3 is needed for cfn-lint and moto" >&2; exit 1; }
mkdir -p "$ROOT/.tools"
(
  # Two test files may ask at once: one installs, the other waits.
  exec 9>"$ROOT/.tools/.py-install-lock"
  flock 9
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then exit 0; fi
  say "installing ${WANT} into .tools/py (one time)…"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}" >&2
  echo "$WANT" > "$STAMP"
  say "python tools ready"
)
echo "$VENV/bin"
