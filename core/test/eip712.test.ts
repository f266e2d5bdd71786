import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocationId,
  assertSignedBy,
  encodeType,
  InvalidMessageError,
  parseEnvelope,
  recoverSigner,
  SignatureMismatchError,
  StaleMessageError,
  signEnvelope,
  signTyped,
  toWire,
  verifyEnvelope,
  verifyParsed,
} from "../src/index.ts";
import { aCustomerOffer, alice, anAllocation, aSupplierOffer, bob, domain } from "./fixtures.ts";

describe("EIP-712 signing", () => {
  it("has the type strings the contract compiles in", () => {
    expect(encodeType("Accept")).toBe("Accept(bytes32 allocationId,bytes32 commitment)");
    expect(encodeType("SupplierResult")).toBe("SupplierResult(bytes32 allocationId,bytes32 seal)");
    expect(encodeType("Allocation")).toBe(
      "Allocation(address allocator,address customer,address[] suppliers,address mediator,bytes32 customerOffer," +
        "bytes32[] supplierOffers,bytes32 serviceHash,uint64 start,uint64 end,uint256 pricePerMi,uint64 miPerInput," +
        "uint32 inputsPerSecond,uint32 testCount,uint8 minReplicas,uint64 nonce)",
    );
  });

  it("recovers the signer of an offer", async () => {
    const offer = aSupplierOffer();
    const sig = await signTyped(bob, domain, "SupplierOffer", offer);
    expect(recoverSigner(domain, "SupplierOffer", offer, sig)).toBe(bob.address);
  });

  it("refuses to sign in another account's name", async () => {
    await expect(signTyped(alice, domain, "SupplierOffer", aSupplierOffer())).rejects.toThrow(
      SignatureMismatchError,
    );
  });

  it("fails verification after any field of a Supplier offer changes", async () => {
    const offer = aSupplierOffer();
    const sig = await signTyped(bob, domain, "SupplierOffer", offer);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ capacityMips: fc.integer({ min: 1, max: 1e9 }) }),
          fc.record({ ramMb: fc.integer({ min: 1, max: 1e8 }) }),
          fc.record({ start: fc.integer({ min: 0, max: 999 }) }),
          fc.record({ end: fc.integer({ min: 5_001, max: 1e9 }) }),
          fc.record({ minPricePerMi: fc.bigInt({ min: 0n, max: 1n << 200n }) }),
          fc.record({ nonce: fc.bigInt({ min: 2n, max: (1n << 64n) - 1n }) }),
          fc.record({ mediators: fc.constant<`0x${string}`[]>([alice.address as `0x${string}`]) }),
        ),
        (change) => {
          const changed = { ...offer, ...change };
          fc.pre(toWire(changed) !== toWire(offer));
          expect(() => assertSignedBy(domain, "SupplierOffer", changed, sig)).toThrow(SignatureMismatchError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives an allocation an id that changes with any term, and binds it to the chain and contract", () => {
    const a = anAllocation();
    const id = allocationId(domain, a);
    expect(allocationId(domain, { ...a, pricePerMi: 121n })).not.toBe(id);
    expect(allocationId(domain, { ...a, testCount: 13 })).not.toBe(id);
    expect(allocationId({ ...domain, chainId: 1n }, a)).not.toBe(id);
    expect(allocationId({ ...domain, verifyingContract: bob.address as `0x${string}` }, a)).not.toBe(id);
  });
});

describe("verifyEnvelope", () => {
  const now = 1_700_000_000_000;
  const opts = { nowMs: now, maxAgeMs: 60_000 };
  const roundTrip = (v: unknown) => JSON.parse(toWire(v));

  it("accepts a fresh, correctly signed offer and returns its typed body", async () => {
    const env = await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now);
    const verified = verifyEnvelope(domain, roundTrip(env), opts);
    expect(verified.type).toBe("CustomerOffer");
    expect(verified.body).toEqual(aCustomerOffer());
  });

  it("rejects an offer whose body was altered in transit", async () => {
    const env = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now));
    env.body.maxPricePerMi = "999";
    expect(() => verifyEnvelope(domain, env, opts)).toThrow(SignatureMismatchError);
  });

  it("rejects an offer posted in another account's name", async () => {
    const forged = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now));
    forged.body.account = bob.address;
    forged.signer = bob.address;
    expect(() => verifyEnvelope(domain, forged, opts)).toThrow(/signed by 0x/);
  });

  it("rejects a stale (replayed) message", async () => {
    const env = roundTrip(
      await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now - 3_600_000),
    );
    expect(() => verifyEnvelope(domain, env, opts)).toThrow(StaleMessageError);
  });

  it("splits into parseEnvelope (schemas only) and verifyParsed (signature, age)", async () => {
    const env = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now));
    env.body.maxPricePerMi = "999";
    const parsed = parseEnvelope(env); // the schemas hold: parsing does not look at the signature
    expect(parsed.unverified.type).toBe("CustomerOffer");
    expect(() => verifyParsed(domain, parsed, opts)).toThrow(SignatureMismatchError);
    const good = parseEnvelope(
      roundTrip(await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now)),
    );
    expect(verifyParsed(domain, good, opts).body).toEqual(aCustomerOffer());
    expect(() => parseEnvelope({ schemaVersion: 1, type: "Nope" })).toThrow(InvalidMessageError);
  });

  it("names every problem of a malformed message", () => {
    expect(() => verifyEnvelope(domain, { schemaVersion: 1, type: "Nope" }, opts)).toThrow(
      InvalidMessageError,
    );
    try {
      verifyEnvelope(domain, { schemaVersion: 1, type: "Nope" }, opts);
    } catch (e) {
      expect((e as InvalidMessageError).message).toMatch(/type/);
      expect((e as InvalidMessageError).message).toMatch(/signature/);
    }
  });

  it("rejects a well-formed envelope whose body breaks its schema", async () => {
    const env = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", aCustomerOffer(), now));
    env.body.minReplicas = 5;
    expect(() => verifyEnvelope(domain, env, opts)).toThrow(/minReplicas must not exceed replicas/);
  });
});
