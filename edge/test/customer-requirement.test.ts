// A Customer's reputation requirement (issue 17) is set in its config and signed into its offer.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/cli/index.ts";

const dir = mkdtempSync(join(tmpdir(), "edge-requires-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const customer = (requires?: unknown) => ({
  role: "customer",
  keystore: "key.json",
  pulsar: { url: "http://127.0.0.1:8080" },
  chain: { rpcUrl: "http://127.0.0.1:8545", market: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
  customer: {
    service: "people-counter.wasm",
    miPerInput: 100,
    ramMb: 256,
    inputsPerSecond: 10,
    seconds: 60,
    maxPricePerMi: "200",
    mediators: ["0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"],
    source: { kind: "frames" },
    ...(requires === undefined ? {} : { requires }),
  },
});
const load = (name: string, value: unknown) => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return loadConfig(file, {});
};

describe("a Customer's reputation requirement in its config", () => {
  it("is read with no mediation lost allowed by default, and absent when not set", () => {
    expect(load("req.json", customer({ windowAllocations: 20 })).customer?.requires).toEqual({
      windowAllocations: 20,
      maxMediationsLost: 0,
    });
    expect(load("none.json", customer()).customer?.requires).toBeUndefined();
  });

  it("refuses a window of 0, one beyond what the ledger keeps, or more losses than the window", () => {
    expect(() => load("zero.json", customer({ windowAllocations: 0 }))).toThrow(/windowAllocations/);
    expect(() => load("big.json", customer({ windowAllocations: 65 }))).toThrow(/windowAllocations/);
    expect(() => load("more.json", customer({ windowAllocations: 2, maxMediationsLost: 3 }))).toThrow(
      /maxMediationsLost/,
    );
  });
});
