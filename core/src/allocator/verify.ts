// Checks a round's result against its input: what anyone can run to audit an Allocator (the
// auction is deterministic, so `runAuction(input)` must also reproduce it exactly).
import { allocationWindow, commonMediators, DEFAULT_DELAYS, pairFeasibility } from "../feasibility.ts";
import { allocation as allocationSchema, type Bytes32 } from "../schemas.ts";
import { peakUsage } from "./capacity.ts";
import type { AuctionInput, AuctionResult, Commitment } from "./types.ts";

/** Every violated invariant of the round, as readable sentences (empty when the round is sound). */
export function checkRound(input: AuctionInput, result: AuctionResult): string[] {
  const problems: string[] = [];
  const { params } = input;
  const delays = params.delays ?? DEFAULT_DELAYS;
  const now = params.nowSeconds;
  const suppliers = new Map(input.suppliers.map((s) => [s.id, s]));
  const customers = new Map(input.customers.map((c) => [c.id, c]));
  const added = new Map<Bytes32, Commitment[]>();

  result.allocations.forEach((p, k) => {
    const a = p.allocation;
    const where = `allocation #${k} [${a.start}, ${a.end})`;
    const parsed = allocationSchema.safeParse(a);
    if (!parsed.success) problems.push(`${where}: not a valid Allocation: ${parsed.error.message}`);
    const c = customers.get(p.customerOfferId);
    if (!c) {
      problems.push(`${where}: unknown Customer offer ${p.customerOfferId}`);
      return;
    }
    const o = c.offer;
    if (a.suppliers.length < o.minReplicas || a.suppliers.length > o.replicas)
      problems.push(`${where}: ${a.suppliers.length} replicas outside [${o.minReplicas}, ${o.replicas}]`);
    if (new Set(a.suppliers).size !== a.suppliers.length) problems.push(`${where}: Suppliers not distinct`);
    if (a.end - a.start < o.minServiceSeconds) problems.push(`${where}: shorter than δ_min`);
    if (a.pricePerMi > o.maxPricePerMi) problems.push(`${where}: price above the Customer's π_xmax`);
    if (!c.offer.mediators.includes(a.mediator))
      problems.push(`${where}: Mediator not trusted by the Customer`);
    const inOpen = (c.openWindows ?? [o]).some((w) => w.start <= a.start && a.end <= w.end);
    if (!inOpen) problems.push(`${where}: outside the Customer's open windows`);
    p.supplierOfferIds.forEach((sid, i) => {
      const s = suppliers.get(sid);
      if (!s) {
        problems.push(`${where}: unknown Supplier offer ${sid}`);
        return;
      }
      if (s.offer.account !== a.suppliers[i]) problems.push(`${where}: Supplier ${i} account mismatch`);
      const f = pairFeasibility(s.offer, o, now, delays);
      if (!f.feasible) problems.push(`${where}: infeasible pair with ${sid}: ${f.reasons.join(", ")}`);
      const w = allocationWindow(s.offer, o, now, delays);
      if (!w || a.start < w.start || a.end > w.end) problems.push(`${where}: outside the pair's window`);
      if (!commonMediators(s.offer, o).includes(a.mediator))
        problems.push(`${where}: Mediator not trusted by Supplier ${i}`);
      if (a.pricePerMi < s.offer.minPricePerMi) problems.push(`${where}: price below Supplier ${i}'s π_xmin`);
      const list = added.get(sid) ?? [];
      list.push(p.commitment);
      added.set(sid, list);
    });
  });

  for (const [sid, list] of added) {
    const s = suppliers.get(sid)!;
    const all = [...(s.commitments ?? []), ...list];
    const peak = peakUsage(all, s.offer.start, s.offer.end);
    if (peak.mips > s.offer.capacityMips || peak.ramMb > s.offer.ramMb) {
      problems.push(
        `Supplier offer ${sid}: peak use ${peak.mips} MIPS / ${peak.ramMb} MB exceeds ${s.offer.capacityMips} / ${s.offer.ramMb}`,
      );
    }
  }

  for (const out of result.customers) {
    const c = customers.get(out.customerOfferId);
    if (!c) continue;
    for (let i = 1; i < out.pieces.length; i++) {
      const prev = out.pieces[i - 1]!;
      const cur = out.pieces[i]!;
      if (cur.start < prev.end) problems.push(`Customer offer ${out.customerOfferId}: pieces overlap`);
    }
    for (const piece of out.pieces) {
      if (piece.allocation === undefined) continue;
      const a = result.allocations[piece.allocation]?.allocation;
      if (!a || a.start !== piece.start || a.end !== piece.end || a.customerOffer !== out.customerOfferId)
        problems.push(`Customer offer ${out.customerOfferId}: piece does not match its allocation`);
    }
  }
  return problems;
}
