// Reputation from verification (issue 17): what each party's closed allocations say about it,
// folded from the chain events the verifier-bridge mirrors (ISurplusMarket.sol's events). Pure:
// the bridge records one close per allocation (closeOutcome), a ledger keeps the totals and the
// last allocations of each account, and the auction reads `meetsRequirement` when a Customer offer
// asks for a minimum.
import type { Address, Allocation, Bytes32 } from "./schemas.ts";

/** ISurplusMarket.CloseReason, in the contract's order. */
export const CloseReason = [
  "Settled",
  "Mediated",
  "MediatorTimeout",
  "RevealTimeout",
  "SigningFailed",
] as const;
export type CloseReason = (typeof CloseReason)[number];

/** How one allocation went for one party. */
export interface CloseRecord {
  readonly allocationId: Bytes32;
  readonly role: "supplier" | "customer" | "mediator";
  /** A Supplier that ran (in AllocationRunning's mask). */
  readonly ran: boolean;
  readonly testsPassed: number;
  readonly testsFailed: number;
  readonly disputed: boolean;
  /** A Supplier judged faulty, or a Customer at fault (its dispute lost). */
  readonly mediationLost: boolean;
  /** Did not sign in time, did not reveal in time (Customer), did not judge in time (Mediator). */
  readonly timedOut: boolean;
}

/** A party's totals, and its last allocations (newest last) for windowed requirements. */
export interface Reputation {
  readonly account: Address;
  readonly allocationsRun: number;
  readonly testsPassed: number;
  readonly testsFailed: number;
  readonly disputes: number;
  readonly mediationsLost: number;
  /** Disputes a Customer lost (the Mediator found the Customer at fault). */
  readonly disputesLost: number;
  readonly timeouts: number;
  readonly recent: readonly CloseRecord[];
}

/** What a Customer offer may require of every Supplier it is matched with. */
export interface ReputationRequirement {
  /** At most this many mediations lost in the Supplier's last `lastAllocations` allocations. */
  readonly maxMediationsLost: number;
  readonly lastAllocations: number;
  /** At least this many allocations run before (0: newcomers are welcome). @default 0 */
  readonly minAllocationsRun?: number;
}

/** The requirement a signed Customer offer carries, if any (`windowAllocations` 0 or absent: none). */
export function offerRequirement(o: {
  readonly windowAllocations?: number | undefined;
  readonly maxMediationsLost?: number | undefined;
}): ReputationRequirement | undefined {
  return o.windowAllocations
    ? { maxMediationsLost: o.maxMediationsLost ?? 0, lastAllocations: o.windowAllocations }
    : undefined;
}

/** How many of an account's allocations `recent` keeps. */
export const RECENT_CLOSES = 64;

/** One applied event of an allocation's history, as the bridge mirrors it. */
export interface HistoryEntry {
  readonly event: string;
  readonly args: Readonly<Record<string, unknown>> | string;
}

const argsOf = (e: HistoryEntry): Record<string, unknown> =>
  typeof e.args === "string" ? (JSON.parse(e.args) as Record<string, unknown>) : { ...e.args };
const bit = (mask: unknown, i: number) => ((Number(mask ?? 0) >> i) & 1) === 1;

/**
 * How a closed allocation went for each of its parties, from its mirrored history (undefined
 * while it has not closed). A Supplier's tests passed when its seal matched γ_c and mediation did
 * not find it faulty; failed otherwise, when it ran.
 */
export function closeOutcome(
  allocationId: Bytes32,
  terms: Allocation,
  history: readonly HistoryEntry[],
): Map<Address, CloseRecord> | undefined {
  const find = (name: string) => {
    const e = history.find((h) => h.event === name);
    return e ? argsOf(e) : undefined;
  };
  const closed = find("AllocationClosed");
  if (!closed) return undefined;
  const reason = CloseReason[Number(closed["reason"])] ?? "Settled";
  const running = find("AllocationRunning");
  const settled = find("AllocationSettled");
  const mediation = find("MediationRequested");
  const mediated = find("AllocationMediated");
  const signed = history.filter((h) => h.event === "AllocationSigned").map(argsOf);
  const signedBit = (i: number) => signed.some((s) => bit(s["suppliers"], i));
  const out = new Map<Address, CloseRecord>();
  terms.suppliers.forEach((supplier, i) => {
    const ran = running !== undefined && bit(running["suppliers"], i);
    const faulty = mediated !== undefined && bit(mediated["faultySuppliers"], i);
    const matched = settled !== undefined && bit(settled["matched"], i);
    const passed = ran && settled !== undefined && matched && !faulty;
    out.set(supplier.toLowerCase() as Address, {
      allocationId,
      role: "supplier",
      ran,
      testsPassed: passed ? 1 : 0,
      testsFailed: ran && (settled !== undefined || faulty) && !passed ? 1 : 0,
      disputed: mediation !== undefined && bit(mediation["disputed"], i),
      mediationLost: faulty,
      timedOut: reason === "SigningFailed" && !signedBit(i),
    });
  });
  const none = { allocationId, ran: running !== undefined, testsPassed: 0, testsFailed: 0 };
  out.set(terms.customer.toLowerCase() as Address, {
    ...none,
    role: "customer",
    disputed: mediation !== undefined && Number(mediation["disputed"] ?? 0) !== 0,
    mediationLost: mediated?.["customerAtFault"] === true || mediated?.["customerAtFault"] === "true",
    timedOut: reason === "RevealTimeout",
  });
  out.set(terms.mediator.toLowerCase() as Address, {
    ...none,
    role: "mediator",
    disputed: false,
    mediationLost: false,
    timedOut: reason === "MediatorTimeout",
  });
  return out;
}

export const emptyReputation = (account: Address): Reputation => ({
  account: account.toLowerCase() as Address,
  allocationsRun: 0,
  testsPassed: 0,
  testsFailed: 0,
  disputes: 0,
  mediationsLost: 0,
  disputesLost: 0,
  timeouts: 0,
  recent: [],
});

/** `rep` with one more close (the same allocation twice counts once). */
export function withClose(rep: Reputation, close: CloseRecord): Reputation {
  if (rep.recent.some((r) => r.allocationId === close.allocationId)) return rep;
  const supplier = close.role === "supplier";
  return {
    ...rep,
    allocationsRun: rep.allocationsRun + (supplier && close.ran ? 1 : 0),
    testsPassed: rep.testsPassed + close.testsPassed,
    testsFailed: rep.testsFailed + close.testsFailed,
    disputes: rep.disputes + (close.disputed ? 1 : 0),
    mediationsLost: rep.mediationsLost + (supplier && close.mediationLost ? 1 : 0),
    disputesLost: rep.disputesLost + (close.role === "customer" && close.mediationLost ? 1 : 0),
    timeouts: rep.timeouts + (close.timedOut ? 1 : 0),
    recent: [...rep.recent, close].slice(-RECENT_CLOSES),
  };
}

/** Why a Supplier falls short of `req` (undefined when it meets it; no record meets a zero minimum). */
export function requirementShortfall(
  rep: Reputation | undefined,
  req: ReputationRequirement,
): string | undefined {
  const run = rep?.allocationsRun ?? 0;
  if (run < (req.minAllocationsRun ?? 0))
    return `ran ${run} allocations; the offer asks for at least ${req.minAllocationsRun}`;
  const last = (rep?.recent ?? []).filter((r) => r.role === "supplier").slice(-req.lastAllocations);
  const lost = last.filter((r) => r.mediationLost).length;
  if (lost > req.maxMediationsLost)
    return `lost ${lost} mediations in its last ${last.length} allocations; the offer allows ${req.maxMediationsLost}`;
  return undefined;
}

/** Reads the parties' reputations (the auction's view; the ledger keeps them). */
export interface ReputationView {
  reputationOf(account: Address): Reputation | undefined;
}

/** The ledger the verifier-bridge writes one close at a time (idempotent per allocation and account). */
export interface ReputationLedger {
  recordClose(account: Address, close: CloseRecord): Promise<void>;
  reputations(): Promise<Map<Address, Reputation>>;
}
