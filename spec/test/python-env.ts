// The pinned Python environment of the conformance client (PyPI wheels carry libpulsar), made once
// under .data/ and shared by the tests that run spec/python/conformance.py.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SPEC_DIR } from "../src/generate.ts";

const VENV = join(SPEC_DIR, "..", ".data", "python-conformance", "venv");
export const python = join(VENV, "bin", "python");
export const conformanceClient = join(SPEC_DIR, "python", "conformance.py");

export function ensurePython(): void {
  const ready = () => {
    try {
      execFileSync(python, ["-c", "import pulsar, eth_account"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync(python) && ready()) return;
  execFileSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
  execFileSync(
    join(VENV, "bin", "pip"),
    ["install", "-q", "-r", join(SPEC_DIR, "python", "requirements.txt")],
    {
      stdio: "inherit",
    },
  );
}
