// One scenario per path of an allocation's life (paper Fig. 3, §3.4, §3.5, §4.1), each checking
// who is paid what, to the wei, and that the allocation's money is conserved.
import { AllocationStateCode, type Bytes32 } from "@surplus/core";
import { hexlify, randomBytes } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { CloseReason, NO_RESULT } from "../src/index.ts";
import {
  as,
  balances,
  createNetwork,
  delta,
  deployFunded,
  type Market,
  makeAllocation,
  type Network,
  openRunning,
  results,
  settleArgs,
  signatures,
  testAllocation,
  toEnd,
} from "./support/fixture.ts";

let net: Network;
let m: Market;

beforeAll(async () => {
  net = await createNetwork();
  m = await net.networkHelpers.loadFixture(async function funded() {
    return deployFunded(net);
  });
});

async function stateOf(id: string): Promise<bigint> {
  const [state] = await m.market.getFunction("recordOf")(id);
  return state;
}

function sum(d: Record<string, bigint>): bigint {
  return Object.values(d).reduce((a, b) => a + b, 0n);
}

const other = () => hexlify(randomBytes(32)) as Bytes32;

describe("happy path", () => {
  it("r=1: the Supplier gets P + D, the Customer D back, the Mediator M, the Allocator 2F", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 1 }));
    const before = await balances(m);
    await openRunning(m, d);
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Running));
    await toEnd(m, d);
    await (
      await as(m, m.parties.customer).getFunction("settle")(
        ...settleArgs(d, d.outputs.gamma, await results(m, d)),
      )
    ).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Closed));
    const { payment: P, deposit: D } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    const change = delta(before, await balances(m));
    expect(change).toEqual({ customer: -(P + M + F), s0: P - F, mediator: M, allocator: 2n * F });
    expect(sum(change)).toBe(0n);
    expect(D).toBeGreaterThan(0n);
  });

  it("r=3: every Supplier gets P + D back, the Allocator 4F", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    await (
      await as(m, m.parties.customer).getFunction("settle")(
        ...settleArgs(d, d.outputs.gamma, await results(m, d)),
      )
    ).wait();
    const { payment: P } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    const change = delta(before, await balances(m));
    expect(change).toEqual({
      customer: -(3n * P + M + F),
      s0: P - F,
      s1: P - F,
      s2: P - F,
      mediator: M,
      allocator: 4n * F,
    });
  });
});

describe("cheating Supplier", () => {
  it("a Supplier that sealed a wrong γ loses D and P; the Mediator gets M + n·π_s; the rest goes to the treasury", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    const wrong = other();
    const res = await results(m, d, (i) => (i === 1 ? wrong : d.outputs.gamma));
    const settle = await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res))
    ).wait();
    expect(settle).not.toBeNull();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.MediationRequested));
    await (await as(m, m.parties.mediator).getFunction("mediate")(d.terms, d.outputs.gamma, 0, res)).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Closed));
    const { payment: P, deposit: D, inputPrice } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    const comp = BigInt(d.a.testCount) * inputPrice;
    const change = delta(before, await balances(m));
    expect(change).toEqual({
      customer: -(3n * P + M + F),
      s0: P - F,
      s1: -(D + F),
      s2: P - F,
      mediator: M + comp,
      allocator: 4n * F,
      treasury: D - comp + P,
    });
    expect(sum(change)).toBe(0n);
  });
});

describe("cheating Customer", () => {
  it("a Customer that committed to wrong test outputs is fined D; honest Suppliers are paid", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 1 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    // The Supplier's (correct) γ differs from what the Customer committed to.
    const correct = other();
    const res = await results(m, d, () => correct);
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res))
    ).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.MediationRequested));
    const tx = await as(m, m.parties.mediator).getFunction("mediate")(d.terms, correct, 0, res);
    await expect(tx).toBeDefined();
    await tx.wait();
    const { payment: P, deposit: D, inputPrice } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    const comp = BigInt(d.a.testCount) * inputPrice;
    expect(delta(before, await balances(m))).toEqual({
      customer: -(P + D + M + F),
      s0: P - F,
      mediator: M + comp,
      allocator: 2n * F,
      treasury: D - comp,
    });
  });
});

describe("Supplier timeout", () => {
  it("a Supplier that posts no result is fined the timeout share of D and not paid", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    const res = await results(m, d, (i) => (i === 2 ? undefined : d.outputs.gamma));
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res))
    ).wait();
    await (await as(m, m.parties.mediator).getFunction("mediate")(d.terms, d.outputs.gamma, 0, res)).wait();
    const { payment: P, deposit: D, inputPrice } = d.amounts;
    const { allocatorFee: F, mediatorFee: M, timeoutFineBps } = m.parameters;
    const fine = (D * timeoutFineBps) / 10_000n;
    const comp = BigInt(d.a.testCount) * inputPrice < fine ? BigInt(d.a.testCount) * inputPrice : fine;
    expect(delta(before, await balances(m))).toEqual({
      customer: -(3n * P + M + F),
      s0: P - F,
      s1: P - F,
      s2: -(fine + F),
      mediator: M + comp,
      allocator: 4n * F,
      treasury: fine - comp + P,
    });
  });

  it("a Supplier whose result reached only the Mediator is judged on it (no exclusion by the settler)", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 1 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, [NO_RESULT]))
    ).wait();
    const late = await results(m, d);
    await (await as(m, m.parties.mediator).getFunction("mediate")(d.terms, d.outputs.gamma, 0, late)).wait();
    const { payment: P } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    expect(delta(before, await balances(m))).toEqual({
      customer: -(P + M + F),
      s0: P - F,
      mediator: M,
      allocator: 2n * F,
    });
  });
});

describe("Mediator timeout", () => {
  it("no fine without fault: the Mediator's bond pays the P of the Suppliers in mediation, the Customer is refunded, the Mediator loses M and its bond", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    const res = await results(m, d, (i) => (i === 0 ? other() : d.outputs.gamma));
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res))
    ).wait();
    await net.networkHelpers.time.increase(m.parameters.mediationWindow);
    await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Closed));
    const { payment: P, deposit: D } = d.amounts;
    const { allocatorFee: F } = m.parameters;
    const change = delta(before, await balances(m));
    expect(change).toEqual({
      customer: -(2n * P + F), // charged only for the Suppliers that matched
      s0: P - F, // not judged: paid out of the Mediator's bond
      s1: P - F,
      s2: P - F,
      mediator: -3n * (P + D), // its whole bond
      allocator: 4n * F,
      treasury: 3n * (P + D) - P, // the bond less the P it paid
    });
    expect(sum(change)).toBe(0n);
  });
});

describe("refusal to sign", () => {
  it("a Supplier that never signs: after the deadline the allocation closes and signers get their locks back", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const before = await balances(m);
    const sigs = await signatures(m, d, { suppliers: [0] });
    await (await as(m, m.parties.allocator).getFunction("open")(d.terms, sigs)).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Signing));
    await expect(as(m, m.parties.outsider).getFunction("expire")(d.terms)).rejects.toThrow(
      /DeadlineNotReached/,
    );
    await net.networkHelpers.time.increase(m.parameters.signingWindow);
    const tx = await as(m, m.parties.outsider).getFunction("expire")(d.terms);
    const receipt = await tx.wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Closed));
    expect(delta(before, await balances(m))).toEqual({});
    const closed = receipt!.logs
      .map((l: { topics: string[]; data: string }) => m.market.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === "AllocationClosed");
    expect(closed!.args.reason).toBe(BigInt(CloseReason.SigningFailed));
  });
});

describe("r_min reached", () => {
  it("2 of 3 Suppliers sign with r_min = 2: Running with those two; the Customer gets the third P back", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3, minReplicas: 2 }));
    const before = await balances(m);
    const sigs = await signatures(m, d, { suppliers: [0, 2] });
    await (await as(m, m.parties.allocator).getFunction("open")(d.terms, sigs)).wait();
    await net.networkHelpers.time.increase(m.parameters.signingWindow);
    await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    const [state, , running] = await m.market.getFunction("recordOf")(d.id);
    expect(state).toBe(BigInt(AllocationStateCode.Running));
    expect(running).toBe(0b101n);
    await toEnd(m, d);
    const res = await results(m, d, (i) => (i === 1 ? undefined : d.outputs.gamma));
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res))
    ).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Closed));
    const { payment: P } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    expect(delta(before, await balances(m))).toEqual({
      customer: -(2n * P + M + F),
      s0: P - F,
      s2: P - F,
      mediator: M,
      allocator: 3n * F,
    });
  });

  it("below r_min: closes and refunds", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3, minReplicas: 2 }));
    const before = await balances(m);
    await (
      await as(m, m.parties.allocator).getFunction("open")(
        d.terms,
        await signatures(m, d, { suppliers: [1] }),
      )
    ).wait();
    await net.networkHelpers.time.increase(m.parameters.signingWindow);
    await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    expect(await stateOf(d.id)).toBe(BigInt(AllocationStateCode.Closed));
    expect(delta(before, await balances(m))).toEqual({});
  });
});

describe("Customer withholds γ", () => {
  it("nobody settles before end + revealWindow: the Customer loses D, Suppliers and Mediator are paid", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const before = await balances(m);
    await openRunning(m, d);
    await net.networkHelpers.time.increaseTo(BigInt(d.a.end) + m.parameters.revealWindow);
    await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    const { payment: P, deposit: D } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    expect(delta(before, await balances(m))).toEqual({
      customer: -(2n * P + D + M + F),
      s0: P - F,
      s1: P - F,
      mediator: M,
      allocator: 3n * F,
      treasury: D,
    });
  });
});
