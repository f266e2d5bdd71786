// The contract and @surplus/core must agree byte for byte on every type string, the domain, the
// allocation id, Γ and the seal: otherwise no signature made off-chain would verify on-chain.
import {
  type Address,
  type Allocation,
  allocationId,
  type Bytes32,
  checklistCommitment,
  domainOf,
  encodeType,
  gamma,
  seal,
  testSeqsHash,
} from "@surplus/core";
import { getAddress, hexlify, keccak256, randomBytes, TypedDataEncoder, toUtf8Bytes } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { toTerms } from "../src/index.ts";
import {
  as,
  createNetwork,
  deployFunded,
  eventsOf,
  type Market,
  makeAllocation,
  openRunning,
  results,
  settleArgs,
  stateOf,
  testAllocation,
  toEnd,
} from "./support/fixture.ts";

let m: Market;

beforeAll(async () => {
  const net = await createNetwork();
  m = await deployFunded(net);
});

const call = (fn: string, ...args: unknown[]) => m.market.getFunction(fn)(...args);

describe("EIP-712 types", () => {
  it.each([
    ["Allocation", "ALLOCATION_TYPEHASH"],
    ["Accept", "ACCEPT_TYPEHASH"],
    ["SupplierResult", "SUPPLIER_RESULT_TYPEHASH"],
  ] as const)("%s: the contract's typehash is keccak256 of core's encodeType()", async (type, constant) => {
    expect(await call(constant)).toBe(keccak256(toUtf8Bytes(encodeType(type))));
  });

  it("the domain separator is core's domain (name Surplus, version 1, chain, market)", async () => {
    expect(await call("domainSeparator")).toBe(TypedDataEncoder.hashDomain(domainOf(m.domain)));
  });
});

describe("allocation id", () => {
  const address = fc
    .uint8Array({ minLength: 20, maxLength: 20 })
    .map((b) => getAddress(hexlify(b)) as Address);
  const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b) as `0x${string}`);

  it("equals core's allocationId() for arbitrary terms", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          allocator: address,
          customer: address,
          suppliers: fc.array(address, { minLength: 1, maxLength: 16 }),
          mediator: address,
          customerOffer: bytes32,
          serviceHash: bytes32,
          start: fc.integer({ min: 0, max: 2 ** 40 - 2 }),
          length: fc.integer({ min: 1, max: 10_000 }),
          pricePerMi: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
          miPerInput: fc.integer({ min: 1, max: 1e9 }),
          inputsPerSecond: fc.integer({ min: 1, max: 1e6 }),
          testCount: fc.integer({ min: 1, max: 1e6 }),
          minReplicas: fc.integer({ min: 1, max: 16 }),
          nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          offerSeed: bytes32,
        }),
        async (t) => {
          const a: Allocation = {
            schemaVersion: 1,
            allocator: t.allocator,
            customer: t.customer,
            suppliers: t.suppliers,
            mediator: t.mediator,
            customerOffer: t.customerOffer,
            supplierOffers: t.suppliers.map(
              (_, i) => keccak256(`${t.offerSeed}${i.toString(16).padStart(2, "0")}`) as `0x${string}`,
            ),
            serviceHash: t.serviceHash,
            start: t.start,
            end: t.start + t.length,
            pricePerMi: t.pricePerMi,
            miPerInput: t.miPerInput,
            inputsPerSecond: t.inputsPerSecond,
            testCount: t.testCount,
            minReplicas: t.minReplicas,
            nonce: t.nonce,
          };
          expect(await call("allocationId", toTerms(a))).toBe(allocationId(m.domain, a));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("Γ and seal", () => {
  it("the contract opens exactly core's Γ = checklistCommitment(id, salt, T), and accepts core's seals of γ", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    expect(checklistCommitment(d.id, d.outputs.salt, d.outputs.testSeqs)).toBe(d.outputs.commitment);
    expect(testSeqsHash(d.outputs.testSeqs)).toBe(d.outputs.seqsHash);
    expect(gamma(d.id, d.outputs.salt, d.outputs.items)).toBe(d.outputs.gamma);
    await openRunning(m, d);
    await toEnd(m, d);
    // Supplier 0 seals γ with core's seal(); Supplier 1 core's seal of another γ.
    const res = await results(m, d, (i) =>
      i === 0 ? d.outputs.gamma : (hexlify(randomBytes(32)) as Bytes32),
    );
    expect(res[0]!.seal).toBe(seal(d.a.suppliers[0]!, d.id, d.outputs.gamma));
    const rc = await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res))
    ).wait();
    const settled = eventsOf(m, rc).find((e) => e.name === "AllocationSettled")!;
    expect(settled.args.matched).toBe(0b01n); // the contract's seal(s, id, γ) is core's
    expect(await stateOf(m, d.id)).toBe(3); // MediationRequested for Supplier 1
  });
});
