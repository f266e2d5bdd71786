// The contract's settlement rules as a pure model: who ends up with how much of an allocation's
// money, to the wei, for every way an allocation can end (contracts/contracts/SurplusMarket.sol:
// open/sign/expire in Signing, the Customer's settle with its dispute mask, expire in Running
// (reveal timeout), mediate, expire in MediationRequested (the Mediator's bond pays)).
//
// The strategy experiments simulate thousands of allocations; running each on a chain would take
// hours, so they run this model instead. `test/settlement.contract.test.ts` runs the contract and
// this model on the same random lifecycles and asserts equal balance changes for every party, so
// the model is the contract's rules, not a copy of the paper's Table 3.
//
// γ values stand for the contract's seals: a Supplier's result matches γ iff it carries that
// Supplier's valid SupplierResult signature over seal(s, id, γ); `undefined` is no (valid) result.

import { amountsOf, CloseReason, type MarketParameters } from "@surplus/contracts";
import type { Allocation, Bytes32 } from "@surplus/core";

/** A Supplier's result as posted to `settle` or `mediate`: the γ it sealed, or none. */
export type SupplierResult = Bytes32 | undefined;

/** What the Mediator posts, if it posts before its deadline. */
export type Mediation =
  | { readonly kind: "timeout" }
  | {
      readonly kind: "mediated";
      /** γ_m: the Mediator's own γ over the test positions. */
      readonly gammaM: Bytes32;
      /** Suppliers whose live outputs at test positions the Mediator found wrong (bit i = Supplier i). */
      readonly lazy: number;
      /** Results judged by the Mediator (a late result counts here). */
      readonly results: readonly SupplierResult[];
    };

/** How the allocation ends once it runs. */
export type Ending =
  /** Nobody calls `settle` before end + revealWindow: `expireReveal`. */
  | { readonly kind: "revealTimeout" }
  | {
      readonly kind: "settled";
      /**
       * Suppliers that try to settle before the Customer, with their own seal and γ and nobody
       * disputed (issue 14 threat 1; bit i = Supplier i). Only the Customer may settle: the
       * contract refuses them and they change nothing. @default 0
       */
      readonly frontRunners?: number;
      /** Suppliers the Customer disputes with its settle (bit i = Supplier i; only running ones are sent). */
      readonly disputed: number;
      /** The results `settle` is called with, one per Supplier. */
      readonly results: readonly SupplierResult[];
      /** Used only if `settle` sends Suppliers to mediation. */
      readonly mediation: Mediation;
    };

/** One allocation's life after the Allocator built its terms. */
export interface Lifecycle {
  /** Who signed before the signing deadline (`open` or `sign`). */
  readonly signed: {
    readonly customer: boolean;
    readonly mediator: boolean;
    readonly suppliers: readonly boolean[];
  };
  /** γ_c: what the Customer committed to (Γ = keccak(γ_c)) and reveals at `settle`. */
  readonly gammaC: Bytes32;
  readonly ending: Ending;
}

/** A Supplier's fate in one allocation. */
export const SupplierVerdict = {
  /** Did not sign: locked nothing, gets nothing. */
  NotRunning: "not-running",
  /** Paid P and its deposit D back. */
  Paid: "paid",
  /** Lazy or sealed a γ other than the Mediator's: loses P and D. */
  Wrong: "wrong",
  /** Posted no result to the Mediator: not paid, fined the timeout share of D. */
  Silent: "silent",
} as const;
export type SupplierVerdict = (typeof SupplierVerdict)[keyof typeof SupplierVerdict];

/** The change of every party's free balance in the market over the allocation, base units. */
export interface Settlement {
  readonly reason: CloseReason;
  readonly customer: bigint;
  readonly suppliers: readonly bigint[];
  readonly mediator: bigint;
  readonly allocator: bigint;
  readonly treasury: bigint;
  readonly verdicts: readonly SupplierVerdict[];
  /** Whether the Customer lost its deposit (mediation found it at fault, or it withheld γ_c). */
  readonly customerFined: boolean;
  /** Suppliers sent to mediation by `settle` (bit i = Supplier i); 0 when there was none. */
  readonly mediating: number;
}

const popcount = (mask: number) => {
  let count = 0;
  for (let m = mask; m !== 0; m &= m - 1) count++;
  return count;
};

/** The balance changes the contract makes for `life` of allocation `a` on a market with `p`. */
export function settle(a: Allocation, p: MarketParameters, life: Lifecycle): Settlement {
  const r = a.suppliers.length;
  if (life.signed.suppliers.length !== r)
    throw new RangeError(`signed.suppliers has ${life.signed.suppliers.length} entries, expected ${r}`);
  const { payment: P, deposit: D, inputPrice } = amountsOf(a, p);
  const F = p.allocatorFee;
  const M = p.mediatorFee;
  let running = 0;
  life.signed.suppliers.forEach((s, i) => {
    if (s) running |= 1 << i;
  });
  const count = popcount(running);

  // expireSigning without enough signers: every signer gets back exactly what it locked.
  const runs = life.signed.customer && life.signed.mediator && count >= a.minReplicas;
  if (!runs) {
    return {
      reason: CloseReason.SigningFailed,
      customer: 0n,
      suppliers: Array.from({ length: r }, () => 0n),
      mediator: 0n,
      allocator: 0n,
      treasury: 0n,
      verdicts: Array.from({ length: r }, () => SupplierVerdict.NotRunning),
      customerFined: false,
      mediating: 0,
    };
  }

  // Running: the Customer locked r·P + D + M + F and gets back the P of each Supplier that did not
  // sign; each running Supplier locked D + F; the Allocator is paid F by each of them; the Mediator
  // holds a bond of P + D per running Supplier, back at close unless it lets mediation time out.
  const bond = BigInt(count) * (P + D);
  const locked = {
    customer: BigInt(r) * P + D + M + F - BigInt(r - count) * P,
    supplier: D + F,
    mediator: bond,
  };
  const allocator = BigInt(count + 1) * F;

  const close = (
    reason: CloseReason,
    wrong: number,
    silent: number,
    customerPayout: bigint,
    mediatorPayout: bigint,
    mediating: number,
  ): Settlement => {
    const fine = (D * p.timeoutFineBps) / 10_000n;
    const verdicts: SupplierVerdict[] = [];
    const suppliers: bigint[] = [];
    let held = BigInt(count) * (P + D) + D + M + bond;
    for (let i = 0; i < r; i++) {
      const bit = 1 << i;
      if ((running & bit) === 0) {
        verdicts.push(SupplierVerdict.NotRunning);
        suppliers.push(0n);
        continue;
      }
      const [verdict, payout] =
        (wrong & bit) !== 0
          ? [SupplierVerdict.Wrong, 0n]
          : (silent & bit) !== 0
            ? [SupplierVerdict.Silent, D - fine]
            : [SupplierVerdict.Paid, P + D];
      verdicts.push(verdict);
      suppliers.push(payout - locked.supplier);
      held -= payout;
    }
    const treasury = held - customerPayout - mediatorPayout;
    if (treasury < 0n) throw new RangeError(`payouts exceed what the allocation holds by ${-treasury}`);
    return {
      reason,
      customer: customerPayout - locked.customer,
      suppliers,
      mediator: mediatorPayout - locked.mediator,
      allocator,
      treasury,
      verdicts,
      customerFined: customerPayout === 0n,
      mediating,
    };
  };

  const end = life.ending;
  // expire in Running: the Customer withheld γ_c and loses D; every running Supplier is paid; the
  // Mediator was available: M and its bond.
  if (end.kind === "revealTimeout") return close(CloseReason.RevealTimeout, 0, 0, 0n, M + bond, 0);

  // Front-runners' settles revert (only the Customer settles): end.frontRunners changes nothing.
  // settle: a running Supplier matches when it sealed γ_c; the unmatched and the disputed go to mediation.
  const disputed = end.disputed & running;
  let matched = 0;
  for (let i = 0; i < r; i++) {
    if ((running & (1 << i)) !== 0 && end.results[i] !== undefined && end.results[i] === life.gammaC)
      matched |= 1 << i;
  }
  const mediating = (running & ~matched) | disputed;
  if (mediating === 0) return close(CloseReason.Settled, 0, 0, D, M + bond, 0);

  const med = end.mediation;
  // expire in MediationRequested — no fine without fault: every running Supplier gets P + D, the P
  // of those in mediation out of the Mediator's bond; the Customer gets back D, M and that P; the
  // Mediator loses M and its bond (the rest of it goes to the treasury).
  if (med.kind === "timeout")
    return close(CloseReason.MediatorTimeout, 0, 0, D + M + BigInt(popcount(mediating)) * P, 0n, mediating);

  // mediate: lazy or a seal of another γ → whole deposit; no result → timeout share; the Customer
  // is at fault when γ_m ≠ γ_c or it disputed a Supplier found honest. The Mediator gets M plus
  // n·π_s from the fines (at most the fines).
  const lazy = med.lazy & mediating;
  let wrong = lazy;
  let silent = 0;
  let customerAtFault = med.gammaM !== life.gammaC;
  for (let i = 0; i < r; i++) {
    const bit = 1 << i;
    if ((mediating & bit) === 0 || (lazy & bit) !== 0) continue;
    const result = med.results[i];
    if (result === undefined) silent |= bit;
    else if (result !== med.gammaM) wrong |= bit;
    else if ((disputed & bit) !== 0) customerAtFault = true;
  }
  const fine = (D * p.timeoutFineBps) / 10_000n;
  let fines = BigInt(popcount(wrong)) * D + BigInt(popcount(silent)) * fine;
  if (customerAtFault) fines += D;
  let compensation = BigInt(a.testCount) * inputPrice;
  if (compensation > fines) compensation = fines;
  return close(
    CloseReason.Mediated,
    wrong,
    silent,
    customerAtFault ? 0n : D,
    M + compensation + bond,
    mediating,
  );
}

/** Σ of all balance changes: zero iff the allocation's money is conserved. */
export function netFlow(s: Settlement): bigint {
  return s.customer + s.mediator + s.allocator + s.treasury + s.suppliers.reduce((x, y) => x + y, 0n);
}
