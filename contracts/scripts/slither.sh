#!/usr/bin/env bash
# Slither on the market contract, as CI runs it: installs the pinned slither-analyzer into
# .tools/slither once, analyses the exact Hardhat build (no native solc: see README "Slither"),
# prints the findings, and fails on any High or Medium one.
#   bash contracts/scripts/slither.sh        (after `npm run build -w @surplus/contracts`)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.tools/slither"
WANT="slither-analyzer==0.11.6"
say() { printf '\033[1;36m[slither]\033[0m %s\n' "$*" >&2; }

if [ ! -f "$VENV/.surplus-installed" ] || [ "$(cat "$VENV/.surplus-installed")" != "$WANT" ]; then
  say "installing $WANT into .tools/slither (one time)…"
  PY="${PYTHON:-$(command -v python3 || true)}"
  [ -n "$PY" ] || { echo "[slither] error: python3 (>= 3.10, with venv) is needed" >&2; exit 1; }
  rm -rf "$VENV" && "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$WANT"
  echo "$WANT" > "$VENV/.surplus-installed"
fi

WORK="$ROOT/.tools/slither-work"
rm -rf "$WORK"
cd "$ROOT/contracts"
# The project's Node first on PATH (./surplus installs it): the machine's own may be too old to run
# .ts files, and crytic-compile calls Hardhat, which needs Node >= 22.13.
eval "$(bash "$ROOT/surplus" env)"
node scripts/slither-build-info.ts "$WORK" >/dev/null
REPORT="$WORK/report.json"
# Slither exits non-zero whenever it finds anything; the verdict below reads the JSON instead.
"$VENV/bin/slither" . --compile-force-framework hardhat --hardhat-ignore-compile \
  --hardhat-artifacts-directory "$WORK" --filter-paths "npm/|node_modules" \
  --json "$REPORT" 2> "$WORK/slither.log" || true
[ -s "$REPORT" ] || { cat "$WORK/slither.log" >&2; echo "[slither] error: no report written" >&2; exit 1; }
"$VENV/bin/python" - "$REPORT" <<'PY'
import json, sys, collections
report = json.load(open(sys.argv[1]))
if not report.get("success"):
    sys.exit(f"[slither] error: {report.get('error')}")
found = report.get("results", {}).get("detectors", [])
by = collections.Counter(d["impact"] for d in found)
for d in found:
    if d["impact"] in ("High", "Medium"):
        print(f"  {d['impact']}: {d['check']}: {d['description'].strip()}")
print("[slither] " + ", ".join(f"{by.get(k, 0)} {k}" for k in ("High", "Medium", "Low", "Informational", "Optimization")))
bad = by.get("High", 0) + by.get("Medium", 0)
sys.exit(f"[slither] {bad} High/Medium finding(s)" if bad else 0)
PY
