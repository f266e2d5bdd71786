// The spec is enough to trade on the real local market (issue 16): `./surplus market --keep-up`
// runs the README's market and then prints configs of a funded, admitted Supplier and Customer for
// attaching; the client written from spec/ only (spec/python/conformance.py --attach) posts their
// offers with Pulsar's Python client and reads the signed allocation that market's Allocator made.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { conformanceClient, ensurePython, python } from "./python-env.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("a client written from spec/ only, on ./surplus market", () => {
  it("posts a Supplier and a Customer offer and reads the market Allocator's signed allocation", async () => {
    ensurePython();
    const market = spawn("bash", [join(ROOT, "surplus"), "market", "--seconds", "10", "--keep-up"], {
      cwd: ROOT,
      // Its own chain port, next to the one the integration setup runs.
      env: { ...process.env, SURPLUS_CHAIN_PORT: "18755", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((done) => market.on("exit", (code) => done(code)));
    let output = "";
    market.stderr.on("data", (d) => {
      output += d;
    });
    try {
      const attach = await new Promise<{ supplier: string; customer: string; password: string }>(
        (ready, failed) => {
          const timer = setTimeout(
            () => failed(new Error(`no attach configs:\n${output.slice(-3000)}`)),
            400_000,
          );
          market.stdout.on("data", (d) => {
            output += d;
            const s = /--config (\S+supplier\/config\.json)/.exec(output);
            const c = /--config (\S+customer\/config\.json)/.exec(output);
            const pw = /SURPLUS_KEYSTORE_PASSWORD=(\S+) /.exec(output);
            if (s && c && pw && /Stop with Ctrl-C/.test(output)) {
              clearTimeout(timer);
              ready({ supplier: s[1]!, customer: c[1]!, password: pw[1]! });
            }
          });
          market.on("exit", () => failed(new Error(`the market exited early:\n${output.slice(-3000)}`)));
        },
      );
      const client = spawn(python, [conformanceClient, "--attach", attach.supplier, attach.customer], {
        env: { ...process.env, SURPLUS_KEYSTORE_PASSWORD: attach.password },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let stdout = "";
      client.stdout.on("data", (d) => {
        stdout += d;
      });
      const code = await new Promise<number | null>((done) => client.on("exit", (c) => done(c)));
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
      expect(line, stdout.slice(-2000)).toBeDefined();
      const result = JSON.parse(line!.slice("RESULT ".length));
      expect(result.error).toBeUndefined();
      expect(code).toBe(0);
      // Signed by the market's Allocator (the address every edge config trusts), for the client's offer.
      const { allocators } = JSON.parse(readFileSync(attach.customer, "utf8")) as {
        allocators: string[];
      };
      expect(result.recovered.toLowerCase()).toBe(allocators[0]!.toLowerCase());
      expect(result.allocation.customerOffer).toBe(result.customerOfferId);
    } finally {
      market.kill("SIGINT");
      await exited;
    }
  }, 600_000);
});
