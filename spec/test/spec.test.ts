// The published spec is the code's: the files under spec/ are exactly what spec/src/generate.ts
// derives from core's zod schemas and EIP-712 types and the adapters' channels and grants
// (regenerate with `./surplus node spec/src/generate.ts`), and the schemas describe what the
// code accepts and refuses on the wire.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Address,
  type CustomerOffer,
  type MarketDomain,
  SCHEMA_VERSION,
  signEnvelope,
  toWire,
  verifyEnvelope,
} from "@surplus/core";
import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { asyncapi, eip712, SPEC_DIR, schemaFiles } from "../src/generate.ts";

const read = (path: string) => JSON.parse(readFileSync(join(SPEC_DIR, path), "utf8"));

describe("the published spec", () => {
  it("is what the generator derives from the code (no drift)", () => {
    for (const [name, schema] of schemaFiles()) expect(read(join("schemas", name)), name).toEqual(schema);
    expect(read("eip712.json")).toEqual(eip712());
    expect(read("asyncapi.json")).toEqual(asyncapi());
  });

  it("describes a signed CustomerOffer's wire form: decimal strings for amounts, hex patterns", async () => {
    const domain: MarketDomain = {
      chainId: 31337n,
      verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    };
    const w = new Wallet(`0x${"11".repeat(32)}`);
    const body: CustomerOffer = {
      kind: "customer",
      schemaVersion: SCHEMA_VERSION,
      account: w.address as Address,
      nonce: 7n,
      serviceName: "people-counter",
      serviceHash: `0x${"ab".repeat(32)}`,
      miPerInput: 100,
      ramMb: 512,
      inputsPerSecond: 10,
      start: 1_800_000_060,
      end: 1_800_003_660,
      maxPricePerMi: 2n * 10n ** 9n,
      replicas: 2,
      minReplicas: 1,
      minServiceSeconds: 600,
      mediators: [w.address as Address],
    };
    const wire = JSON.parse(toWire(await signEnvelope(w, domain, "CustomerOffer", body, 1_800_000_000_000)));
    // What the code accepts...
    expect(verifyEnvelope(domain, wire, { nowMs: 1_800_000_000_000, maxAgeMs: 1 }).type).toBe(
      "CustomerOffer",
    );
    // ...matches the schema's shape field by field.
    const schema = read("schemas/signed-customer-offer.schema.json");
    expect(Object.keys(wire).sort()).toEqual([...schema.required].sort());
    expect(Object.keys(wire.body).sort()).toEqual([...schema.properties.body.required].sort());
    const props = schema.properties.body.properties;
    for (const [field, value] of Object.entries(wire.body as Record<string, unknown>)) {
      const p = props[field];
      if (p.pattern) expect(String(value), field).toMatch(new RegExp(p.pattern));
      if (p.const !== undefined) expect(value, field).toBe(p.const);
    }
    expect(wire.body.maxPricePerMi).toBe("2000000000");
    expect(wire.signature).toMatch(new RegExp(schema.properties.signature.pattern));
  });
});
