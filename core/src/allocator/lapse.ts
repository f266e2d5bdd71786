// Giving back a lapsed allocation's share (paper §3.3: an allocation not accepted by everyone in
// time is dropped, and what it held goes back to the market). Pure: given the allocation and its
// offers as they are now, it says what to write; a registry only writes it (DynamoDB conditioned on
// the versions it read, the in-memory one as is).
import { isExpired, type ProtocolDelays, requiredMips, type TimeWindow } from "../feasibility.ts";
import type { Allocation, Bytes32, CustomerOffer } from "../schemas.ts";
import { mergeWindows } from "../windows.ts";
import type { Commitment } from "./types.ts";

/** The lapsed allocation's Customer offer as stored now. */
export interface LapsingCustomer {
  readonly offer: CustomerOffer;
  readonly status: "open" | "closed" | "void";
  readonly openWindows: readonly TimeWindow[];
}

/** One of the lapsed allocation's Supplier offers as stored now. */
export interface LapsingSupplier {
  readonly offerId: Bytes32;
  readonly commitments: readonly Commitment[];
}

export interface Lapse {
  readonly allocation: Allocation;
  /** The share it took of each Supplier offer, as committed; absent on allocations committed before shares were recorded. */
  readonly share?: Commitment;
  /** Its Customer offer, if stored. */
  readonly customer?: LapsingCustomer;
  /** Its Supplier offers that are stored (each once). */
  readonly suppliers: readonly LapsingSupplier[];
  readonly nowMs: number;
  readonly delays: ProtocolDelays;
}

/** What a lapse writes back to the offers. */
export interface GiveBack {
  /** Supplier offers that held the share: their commitments without it. */
  readonly suppliers: ReadonlyArray<{ readonly offerId: Bytes32; readonly commitments: Commitment[] }>;
  /** The Customer offer's open windows with the allocation's window back; it reopens. Absent when it does not (void, expired, or gone). */
  readonly customer?: { readonly offerId: Bytes32; readonly openWindows: TimeWindow[] };
}

/**
 * The share a lapsed allocation held on each of its Supplier offers: the one committed, or for an
 * allocation committed before shares were recorded, what it needs (I_c·λ MIPS and R_c of RAM over
 * its window).
 */
export function lapsedShare(
  allocation: Allocation,
  committed: Commitment | undefined,
  customer: CustomerOffer | undefined,
): Commitment | undefined {
  if (committed) return committed;
  if (!customer) return undefined;
  return {
    start: allocation.start,
    end: allocation.end,
    mips: requiredMips(allocation),
    ramMb: customer.ramMb,
  };
}

/** `list` without one commitment equal to `c`; undefined when it holds none. */
function withoutOne(list: readonly Commitment[], c: Commitment): Commitment[] | undefined {
  const i = list.findIndex(
    (x) => x.start === c.start && x.end === c.end && x.mips === c.mips && x.ramMb === c.ramMb,
  );
  return i < 0 ? undefined : [...list.slice(0, i), ...list.slice(i + 1)];
}

/**
 * What giving back a lapsed allocation writes: its share leaves each Supplier offer that still
 * holds it (once, however often the offer is listed), and its window returns to the Customer offer,
 * which reopens, unless the offer was voided or can no longer be allocated in time (§3.3's t_e).
 */
export function giveBack(lapse: Lapse): GiveBack {
  const { allocation: a } = lapse;
  const share = lapsedShare(a, lapse.share, lapse.customer?.offer);
  const suppliers: Array<{ offerId: Bytes32; commitments: Commitment[] }> = [];
  const seen = new Set<Bytes32>();
  for (const s of lapse.suppliers) {
    if (seen.has(s.offerId)) continue;
    seen.add(s.offerId);
    const left = share && withoutOne(s.commitments, share);
    if (left) suppliers.push({ offerId: s.offerId, commitments: left });
  }
  const c = lapse.customer;
  const reopens =
    c !== undefined &&
    c.status !== "void" &&
    !isExpired(c.offer, Math.floor(lapse.nowMs / 1000), lapse.delays);
  return {
    suppliers,
    ...(reopens
      ? {
          customer: {
            offerId: a.customerOffer,
            openWindows: mergeWindows([...c.openWindows, { start: a.start, end: a.end }]),
          },
        }
      : {}),
  };
}
