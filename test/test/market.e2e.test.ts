// The README's main command, end to end on the real services: `./surplus market` must clear a
// market in which one Supplier cheats — both allocations close, the cheater is disputed, mediated
// and fined, honest Suppliers are paid, and the sum of all balance changes is zero.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function runMarket(): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, "localstack/src/market.ts"), "--seconds", "30"], {
      cwd: ROOT,
      // Its own chain port, next to the one the integration setup runs.
      env: { ...process.env, SURPLUS_CHAIN_PORT: "18645", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("exit", (code) => done({ code, output }));
  });
}

describe("./surplus market", () => {
  it("clears a market with a cheating Supplier: fined, honest Suppliers paid, money conserved", async () => {
    const { code, output } = await runMarket();
    expect(output).toMatch(/closed \(settled\)/);
    expect(output).toMatch(/closed \(mediated\)/);
    expect(output).toMatch(/— disputed/);
    expect(code, output.slice(-3000)).toBe(0);
    const report = readFileSync(join(ROOT, ".data/market/report.md"), "utf8");
    expect(report).toMatch(/Σ changes = 0 /);
    const change = (who: string) =>
      BigInt(new RegExp(`\\| ${who}[^|]*\\|[^|]*\\|[^|]*\\| ([+-]\\d+) \\|`).exec(report)![1]!);
    expect(change("supplier A")).toBeGreaterThan(0n);
    expect(change("supplier B")).toBeGreaterThan(0n);
    expect(change("supplier C \\(cheats\\)")).toBeLessThan(0n);
    expect(change("mediator")).toBeGreaterThan(0n);
  }, 420_000);
});
