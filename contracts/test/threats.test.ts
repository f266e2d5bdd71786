// The threat model of contracts/README.md and every defect of the reference contract
// (facts.md §1), each as a test that the attack or defect does not work here.
import {
  type Address,
  AllocationStateCode,
  type Bytes32,
  checklistCommitment,
  gamma,
  type SequencedOutput,
  seal,
} from "@surplus/core";
import { type Contract, hexlify, randomBytes, toUtf8Bytes } from "ethers";
import { beforeEach, describe, expect, it } from "vitest";
import { signResult } from "../src/index.ts";
import {
  as,
  balances,
  createNetwork,
  delta,
  deployFunded,
  expectRevert,
  type Market,
  makeAllocation,
  type Network,
  NO_SIGNATURES,
  openRunning,
  results,
  settleArgs,
  signatures,
  stateOf,
  type TestAllocation,
  testAllocation,
  toEnd,
} from "./support/fixture.ts";

let net: Network;
let m: Market;
let fixture: () => Promise<Market>;

beforeEach(async () => {
  if (!net) {
    net = await createNetwork();
    fixture = async function funded() {
      return deployFunded(net);
    };
  }
  m = await net.networkHelpers.loadFixture(fixture);
});

const fn = (signer: keyof Market["parties"] | number, name: string) =>
  (typeof signer === "number"
    ? as(m, m.parties.suppliers[signer]!)
    : as(m, m.parties[signer] as never)
  ).getFunction(name);

async function runningAllocation(replicas = 1): Promise<TestAllocation> {
  const d = testAllocation(m, await makeAllocation(m, { replicas }));
  await openRunning(m, d);
  return d;
}

/** What the market holds in tokens minus what it owes as free balances: what locked allocations hold. */
async function held(): Promise<bigint> {
  const tokenBalance: bigint = await m.token.getFunction("balanceOf")(m.marketAddress);
  const owed = Object.values(await balances(m)).reduce((a, b) => a + b, 0n);
  return tokenBalance - owed;
}

describe("threat model", () => {
  it("a Supplier cannot copy another Supplier's posted value: seals are bound to the Supplier's address", async () => {
    const d = await runningAllocation(2);
    await toEnd(m, d);
    const [honest] = await results(m, d);
    // Supplier 1 processed nothing; it re-uses Supplier 0's seal and signs it as its own result.
    const copied = await (as(m, m.parties.suppliers[1]!) as Contract).runner!;
    expect(copied).toBeDefined();
    const copiedResult = {
      seal: honest!.seal,
      signature: await m.parties.suppliers[1]!.signTypedData(
        { name: "Surplus", version: "1", chainId: m.domain.chainId, verifyingContract: m.marketAddress },
        {
          SupplierResult: [
            { name: "allocationId", type: "bytes32" },
            { name: "seal", type: "bytes32" },
          ],
        },
        { allocationId: d.id, seal: honest!.seal },
      ),
    };
    // Seals are only ever revealed in the settle transaction that judges them, so there is nothing
    // on-chain to copy before: the record holds masks and 20 bytes of Γ, never γ or a seal.
    const receipt = await (
      await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, [honest, copiedResult]))
    ).wait();
    const settled = receipt.logs
      .map((l: never) => m.market.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === "AllocationSettled");
    expect(settled!.args.matched).toBe(0b01n);
    const before = await balances(m);
    await (await fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, [honest, copiedResult])).wait();
    const change = delta(before, await balances(m));
    expect(change.s1).toBeUndefined(); // the copier gets nothing back: whole deposit fined, no payment
    expect(change.s0).toBe(d.amounts.payment + d.amounts.deposit);
  });

  it("the test positions cannot be recovered from Γ by brute force: Γ is salted and opened only at settle", async () => {
    // One test among 100 inputs: without the salt, every candidate position misses Γ.
    const id = hexlify(randomBytes(32)) as Bytes32;
    const salt = hexlify(randomBytes(32)) as Bytes32;
    const committed = checklistCommitment(id, salt, [42n]);
    const zeroSalt = `0x${"00".repeat(32)}` as Bytes32;
    for (let guess = 0n; guess < 100n; guess++) {
      expect(checklistCommitment(id, zeroSalt, [guess])).not.toBe(committed);
    }
    // With the salt (revealed in the Customer's settle) the guess works — by then every result is in.
    expect(checklistCommitment(id, salt, [42n])).toBe(committed);
  });

  it("a Customer that commits to too few test outputs is found at fault by the Mediator", async () => {
    const a = await makeAllocation(m, { replicas: 1 });
    const d0 = testAllocation(m, a);
    // The Customer reveals γ over n − 1 outputs; honest Supplier and Mediator compute γ over all n.
    const fewer = gamma(d0.id, d0.outputs.salt, d0.outputs.items.slice(1));
    const d: TestAllocation = { ...d0, outputs: { ...d0.outputs, gamma: fewer } };
    await (await fn("allocator", "open")(d.terms, await signatures(m, d))).wait();
    await toEnd(m, d);
    const full = d0.outputs.gamma;
    const res = await results(m, d, () => full);
    await (await fn("customer", "settle")(...settleArgs(d, fewer, res))).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.MediationRequested);
    const receipt = await (await fn("mediator", "mediate")(d.terms, full, 0, res)).wait();
    const mediated = receipt.logs
      .map((l: never) => m.market.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === "AllocationMediated");
    expect(mediated!.args.customerAtFault).toBe(true);
    expect(mediated!.args.faultySuppliers).toBe(0n);
  });

  it("a lazy Supplier that computed only the test outputs after the stream is caught by dispute + mediation", async () => {
    const d = await runningAllocation(2);
    // Supplier 1 skipped the stream, then computed the n test outputs late: its seal matches. The
    // Customer saw wrong/missing outputs in its live stream at test positions and disputes it in
    // its settle.
    await toEnd(m, d);
    const res = await results(m, d);
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res, 0b10))).wait();
    const before = await balances(m);
    await (await fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0b10, res)).wait();
    const change = delta(before, await balances(m));
    expect(change.s1).toBeUndefined();
    expect(change.customer).toBe(d.amounts.deposit); // the dispute was right: Customer refunded
  });
});

describe("defects of the reference contract", () => {
  it("no freeze while Running: if every party goes silent, anyone closes it after end + revealWindow", async () => {
    const d = await runningAllocation(2);
    const heldBefore = await held();
    expect(heldBefore).toBeGreaterThan(0n);
    await net.networkHelpers.time.increaseTo(BigInt(d.a.end) + m.parameters.revealWindow);
    await (await fn("outsider", "expire")(d.terms)).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Closed);
    expect(await held()).toBe(0n);
  });

  it("clearMarket had no state guard: our payouts happen once — settle, mediate and expire refuse a Closed allocation", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    const res = await results(m, d);
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res))).wait();
    const after = await balances(m);
    await expectRevert(
      fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res)),
      "AllocationUnexpectedState",
    );
    await expectRevert(
      fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, res),
      "AllocationUnexpectedState",
    );
    await expectRevert(fn("outsider", "expire")(d.terms), "NothingToExpire");
    await expectRevert(fn("allocator", "open")(d.terms, NO_SIGNATURES), "AllocationUnexpectedState");
    expect(delta(after, await balances(m))).toEqual({});
  });

  it("returnDeposits refunded the Customer once per Supplier: ours refunds exactly what was locked", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3 }));
    const before = await balances(m);
    await (
      await fn("allocator", "open")(
        d.terms,
        await signatures(m, d, { mediator: false, suppliers: [0, 1, 2] }),
      )
    ).wait();
    await net.networkHelpers.time.increase(m.parameters.signingWindow);
    await (await fn("outsider", "expire")(d.terms)).wait();
    expect(delta(before, await balances(m))).toEqual({});
    expect(await held()).toBe(0n);
  });

  it("createAllocation/setup were open to anyone: only the named Allocator opens, and nothing can be reconfigured", async () => {
    const d = testAllocation(m, await makeAllocation(m));
    for (const who of ["customer", "mediator", "outsider", "treasury"] as const) {
      await expectRevert(fn(who, "open")(d.terms, NO_SIGNATURES), "UnauthorizedCaller");
    }
    const mutating: string[] = [];
    m.market.interface.forEachFunction((f) => {
      if (!f.constant) mutating.push(f.name);
    });
    mutating.sort();
    expect(mutating).toEqual(["deposit", "expire", "mediate", "open", "settle", "sign", "withdraw"]);
  });

  it("the allocation cost was paid twice on the mediation path: the Allocator is paid (1 + r)·F once", async () => {
    const d = await runningAllocation(1);
    await toEnd(m, d);
    const before = await balances(m);
    const wrong = await results(m, d, () => hexlify(randomBytes(32)) as Bytes32);
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, wrong))).wait();
    await (await fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, wrong)).wait();
    expect(delta(before, await balances(m)).allocator).toBeUndefined();
  });

  it("fines were stranded in the contract: after any close, every wei is in a named party's balance", async () => {
    const d = await runningAllocation(3);
    await toEnd(m, d);
    const res = await results(m, d, (i) =>
      i === 0 ? undefined : i === 1 ? (hexlify(randomBytes(32)) as Bytes32) : d.outputs.gamma,
    );
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res))).wait();
    await (await fn("mediator", "mediate")(d.terms, hexlify(randomBytes(32)), 0b001, res)).wait();
    expect(await held()).toBe(0n);
  });

  it("postOutput published the output hash in the clear: copying γ or Γ itself does not pass", async () => {
    const d = await runningAllocation(1);
    await toEnd(m, d);
    const s0 = m.parties.suppliers[0]!;
    // Posting the commitment or the Customer's γ as the seal: neither is seal(s, id, γ).
    for (const value of [d.outputs.commitment, d.outputs.gamma]) {
      const r = await signResult(s0, m.domain, d.id, value);
      const posted = { seal: value, signature: r.signature };
      expect(posted.seal).not.toBe(seal(s0.address as Address, d.id, d.outputs.gamma));
    }
    const wrongSeal = {
      seal: d.outputs.gamma,
      signature: (await signResult(s0, m.domain, d.id, d.outputs.gamma)).signature,
    };
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, [wrongSeal]))).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.MediationRequested);
  });

  it("hashes were taken over Python str(list): γ is canonical (order-free, length-prefixed) and ids are EIP-712", async () => {
    const items: SequencedOutput[] = [
      { seq: 9n, output: toUtf8Bytes("a") },
      { seq: 2n, output: toUtf8Bytes("bc") },
    ];
    const salt = hexlify(randomBytes(32)) as Bytes32;
    const id = hexlify(randomBytes(32)) as Bytes32;
    expect(gamma(id, salt, items)).toBe(gamma(id, salt, [...items].reverse()));
    // Concatenation ambiguity ("a","bc") vs ("ab","c") cannot collide: each output is hashed on its own.
    const shifted: SequencedOutput[] = [
      { seq: 9n, output: toUtf8Bytes("ab") },
      { seq: 2n, output: toUtf8Bytes("c") },
    ];
    expect(gamma(id, salt, items)).not.toBe(gamma(id, salt, shifted));
    const d = testAllocation(m, await makeAllocation(m));
    expect(await m.market.getFunction("allocationId")(d.terms)).toBe(d.id);
  });
});
