// The settlement model on its own: money is conserved on every path, and Table 3's four outcomes
// come out as the contract defines them (on-chain part only; gas and electricity are off-chain).

import { amountsOf, CloseReason, DEFAULT_PARAMETERS } from "@surplus/contracts";
import type { Allocation, Bytes32 } from "@surplus/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { typicalAllocation } from "../src/analysis.ts";
import { experimentParameters } from "../src/parameters.ts";
import { type Lifecycle, netFlow, SupplierVerdict, settle } from "../src/settlement.ts";

const G = `0x${"11".repeat(32)}` as Bytes32;
const X = `0x${"22".repeat(32)}` as Bytes32;
const Y = `0x${"33".repeat(32)}` as Bytes32;
const gamma = fc.constantFrom(G, X, Y);
const p = experimentParameters();
const a1 = typicalAllocation(p);

function withSuppliers(a: Allocation, r: number, minReplicas: number): Allocation {
  const suppliers = Array.from(
    { length: r },
    (_, i) => `0x${(0x50 + i).toString(16).padStart(40, "0")}` as const,
  );
  return { ...a, suppliers, supplierOffers: suppliers.map(() => a.customerOffer), minReplicas };
}

const lifecycle = (r: number): fc.Arbitrary<Lifecycle> =>
  fc.record({
    signed: fc.record({
      customer: fc.boolean(),
      mediator: fc.boolean(),
      suppliers: fc.array(fc.boolean(), { minLength: r, maxLength: r }),
    }),
    gammaC: gamma,
    ending: fc.oneof(
      fc.constant({ kind: "revealTimeout" as const }),
      fc.record({
        kind: fc.constant("settled" as const),
        disputed: fc.integer({ min: 0, max: (1 << r) - 1 }),
        results: fc.array(fc.option(gamma, { nil: undefined }), { minLength: r, maxLength: r }),
        mediation: fc.oneof(
          fc.constant({ kind: "timeout" as const }),
          fc.record({
            kind: fc.constant("mediated" as const),
            gammaM: gamma,
            lazy: fc.integer({ min: 0, max: (1 << r) - 1 }),
            results: fc.array(fc.option(gamma, { nil: undefined }), { minLength: r, maxLength: r }),
          }),
        ),
      }),
    ),
  });

describe("settle", () => {
  it("conserves money on every path (Σ balance changes = 0)", () => {
    const arb = fc
      .record({ r: fc.integer({ min: 1, max: 16 }), bps: fc.integer({ min: 0, max: 10_000 }) })
      .chain(({ r, bps }) =>
        fc.record({
          r: fc.constant(r),
          bps: fc.constant(bps),
          min: fc.integer({ min: 1, max: r }),
          life: lifecycle(r),
        }),
      );
    fc.assert(
      fc.property(arb, ({ r, bps, min, life }) => {
        const s = settle(withSuppliers(a1, r, min), { ...p.market, timeoutFineBps: BigInt(bps) }, life);
        expect(netFlow(s)).toBe(0n);
        expect(s.treasury).toBeGreaterThanOrEqual(0n);
      }),
      { numRuns: 500 },
    );
  });

  const honest: Lifecycle = {
    signed: { customer: true, mediator: true, suppliers: [true] },
    gammaC: G,
    ending: { kind: "settled", disputed: 0, results: [G], mediation: { kind: "timeout" } },
  };
  const { payment: P, deposit: D, inputPrice } = amountsOf(a1, p.market);
  const { allocatorFee: F, mediatorFee: M } = p.market;
  const comp = BigInt(a1.testCount) * inputPrice;

  it("O1 (both honest): Supplier +P − F, Customer −(P + M + F), Mediator M, Allocator 2F", () => {
    const s = settle(a1, p.market, honest);
    expect(s.reason).toBe(CloseReason.Settled);
    expect([s.customer, s.suppliers[0], s.mediator, s.allocator, s.treasury]).toEqual([
      -(P + M + F),
      P - F,
      M,
      2n * F,
      0n,
    ]);
  });

  it("O2 (Supplier caught): it loses P and D; the Mediator gets M + n·π_s from the fine", () => {
    const results = [X];
    const s = settle(a1, p.market, {
      ...honest,
      ending: {
        kind: "settled",
        disputed: 0,
        results,
        mediation: { kind: "mediated", gammaM: G, lazy: 1, results },
      },
    });
    expect(s.verdicts).toEqual([SupplierVerdict.Wrong]);
    expect([s.customer, s.suppliers[0], s.mediator, s.treasury]).toEqual([
      -(P + M + F),
      -(D + F),
      M + comp,
      P + D - comp,
    ]);
  });

  it("O3 (Customer committed wrong outputs): it loses D; the honest Supplier is paid", () => {
    const s = settle(a1, p.market, {
      ...honest,
      gammaC: X,
      ending: {
        kind: "settled",
        disputed: 0,
        results: [G],
        mediation: { kind: "mediated", gammaM: G, lazy: 0, results: [G] },
      },
    });
    expect(s.customerFined).toBe(true);
    expect([s.customer, s.suppliers[0]]).toEqual([-(P + D + M + F), P - F]);
  });

  it("O4 (both): both deposits are fined", () => {
    const s = settle(a1, p.market, {
      ...honest,
      gammaC: X,
      ending: {
        kind: "settled",
        disputed: 0,
        // The Supplier's wrong γ is not the Customer's wrong γ (equal ones would match at settle).
        results: [Y],
        mediation: { kind: "mediated", gammaM: G, lazy: 1, results: [Y] },
      },
    });
    expect([s.customer, s.suppliers[0], s.treasury]).toEqual([-(P + D + M + F), -(D + F), P + 2n * D - comp]);
  });

  it("a silent Mediator fines nobody: the Suppliers in mediation are paid from its bond, it loses M and the bond", () => {
    const s = settle(a1, p.market, {
      ...honest,
      ending: {
        kind: "settled",
        disputed: 1,
        results: [G],
        mediation: { kind: "timeout" },
      },
    });
    expect(s.reason).toBe(CloseReason.MediatorTimeout);
    expect(s.customerFined).toBe(false);
    expect(s.verdicts).toEqual([SupplierVerdict.Paid]);
    // Customer: not charged for the Supplier in mediation; the bond (P + D) pays its P, the rest
    // of it goes to the treasury.
    expect([s.customer, s.suppliers[0], s.mediator, s.treasury]).toEqual([-F, P - F, -(P + D), D]);
    expect(netFlow(s)).toBe(0n);
  });

  it("a front-running Supplier's settle changes nothing: the Customer's settle with its dispute decides", () => {
    const results = [G];
    const life = (frontRunners: number): Lifecycle => ({
      ...honest,
      ending: {
        kind: "settled",
        frontRunners,
        disputed: 1,
        results,
        mediation: { kind: "mediated", gammaM: G, lazy: 1, results },
      },
    });
    const s = settle(a1, p.market, life(1));
    expect(s).toEqual(settle(a1, p.market, life(0)));
    expect(s.reason).toBe(CloseReason.Mediated);
    expect(s.verdicts).toEqual([SupplierVerdict.Wrong]);
    expect(s.suppliers[0]).toBe(-(D + F));
  });

  it("signing failure refunds everyone; r_min reached runs with the signers only", () => {
    const a3 = withSuppliers(a1, 3, 2);
    const failed = settle(a3, DEFAULT_PARAMETERS, {
      ...honest,
      signed: { customer: true, mediator: true, suppliers: [true, false, false] },
    });
    expect(failed.reason).toBe(CloseReason.SigningFailed);
    expect(netFlow(failed)).toBe(0n);
    expect([failed.customer, failed.allocator, ...failed.suppliers]).toEqual([0n, 0n, 0n, 0n, 0n]);
    const ran = settle(a3, p.market, {
      signed: { customer: true, mediator: true, suppliers: [true, false, true] },
      gammaC: G,
      ending: { kind: "settled", disputed: 0, results: [G, undefined, G], mediation: { kind: "timeout" } },
    });
    expect(ran.reason).toBe(CloseReason.Settled);
    expect([ran.customer, ran.allocator, ...ran.suppliers]).toEqual([
      -(2n * P + M + F),
      3n * F,
      P - F,
      0n,
      P - F,
    ]);
  });

  it("rejects a lifecycle whose Supplier list does not match the terms", () => {
    expect(() =>
      settle(a1, p.market, { ...honest, signed: { ...honest.signed, suppliers: [true, true] } }),
    ).toThrow(RangeError);
  });
});
