// Feasibility of a Supplier/Customer pair (paper eq. 1–2, §3.3, §3.4.4) and the allocation
// window it allows.
import { InvalidParameterError } from "./errors.ts";
import type { Address, CustomerOffer, SupplierOffer } from "./schemas.ts";

/** Protocol delays of §3.3, seconds. */
export interface ProtocolDelays {
  /** δ_alloc: from an auction round to an allocation accepted by everyone. */
  readonly allocSeconds: number;
  /** δ_setup: from acceptance to the service running (transfer + start). */
  readonly setupSeconds: number;
}

/** Defaults measured on the local market: a 1 s auction interval and a local chain. */
export const DEFAULT_DELAYS: ProtocolDelays = { allocSeconds: 5, setupSeconds: 5 };

/** I_c·λ: the million instructions per second a Customer offer needs from each replica. */
export function requiredMips(c: Pick<CustomerOffer, "miPerInput" | "inputsPerSecond">): number {
  return c.miPerInput * c.inputsPerSecond;
}

/**
 * t_e = c_end − δ_min − δ_setup − δ_alloc (§3.3): the last moment at which an allocation for this
 * offer can still be made and run for its minimum service time.
 */
export function offerExpiry(
  c: Pick<CustomerOffer, "end" | "minServiceSeconds">,
  delays: ProtocolDelays,
): number {
  return c.end - c.minServiceSeconds - delays.setupSeconds - delays.allocSeconds;
}

export function isExpired(
  c: Pick<CustomerOffer, "end" | "minServiceSeconds">,
  nowSeconds: number,
  delays: ProtocolDelays,
): boolean {
  return nowSeconds > offerExpiry(c, delays);
}

/** Why a pair cannot be matched. */
export const Infeasibility = {
  /** I_c·λ > I_s */
  Cpu: "cpu",
  /** R_c > R_s */
  Ram: "ram",
  /** π_xmin > π_xmax */
  Price: "price",
  /** the windows, from now + δ_alloc + δ_setup on, overlap less than δ_min */
  Window: "window",
  /** no Mediator trusted by both */
  Mediator: "mediator",
  /** the Customer offer is past t_e */
  Expired: "expired",
  /** the same account on both sides */
  SameAccount: "same-account",
} as const;
export type Infeasibility = (typeof Infeasibility)[keyof typeof Infeasibility];

export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

export type PairFeasibility =
  | { readonly feasible: true; readonly window: TimeWindow; readonly mediators: readonly Address[] }
  | { readonly feasible: false; readonly reasons: readonly Infeasibility[] };

/** The Mediators both sides trust, in the Customer's order of preference. */
export function commonMediators(
  s: Pick<SupplierOffer, "mediators">,
  c: Pick<CustomerOffer, "mediators">,
): Address[] {
  const trusted = new Set(s.mediators);
  return c.mediators.filter((m) => trusted.has(m));
}

/**
 * The window an allocation of this pair could run in: the overlap of both offers' windows, starting
 * no earlier than now + δ_alloc + δ_setup. Undefined when there is no overlap.
 */
export function allocationWindow(
  s: Pick<SupplierOffer, "start" | "end">,
  c: Pick<CustomerOffer, "start" | "end">,
  nowSeconds: number,
  delays: ProtocolDelays,
): TimeWindow | undefined {
  const start = Math.max(s.start, c.start, nowSeconds + delays.allocSeconds + delays.setupSeconds);
  const end = Math.min(s.end, c.end);
  return end > start ? { start, end } : undefined;
}

/**
 * Whether a Supplier offer can serve (one replica of) a Customer offer now: eq. 1 (resources and
 * price), eq. 2 (overlapping windows, here at least δ_min long, §3.3), a commonly trusted Mediator
 * (§3.4.4) and the Customer offer not expired. Lists every reason when infeasible.
 */
export function pairFeasibility(
  s: SupplierOffer,
  c: CustomerOffer,
  nowSeconds: number,
  delays: ProtocolDelays = DEFAULT_DELAYS,
): PairFeasibility {
  const reasons: Infeasibility[] = [];
  if (s.account === c.account) reasons.push(Infeasibility.SameAccount);
  if (requiredMips(c) > s.capacityMips) reasons.push(Infeasibility.Cpu);
  if (c.ramMb > s.ramMb) reasons.push(Infeasibility.Ram);
  if (s.minPricePerMi > c.maxPricePerMi) reasons.push(Infeasibility.Price);
  if (isExpired(c, nowSeconds, delays)) reasons.push(Infeasibility.Expired);
  const window = allocationWindow(s, c, nowSeconds, delays);
  if (!window || window.end - window.start < c.minServiceSeconds) reasons.push(Infeasibility.Window);
  const mediators = commonMediators(s, c);
  if (mediators.length === 0) reasons.push(Infeasibility.Mediator);
  if (reasons.length > 0 || !window) return { feasible: false, reasons };
  return { feasible: true, window, mediators };
}

/** Δ = a_end − a_start, seconds. */
export function durationSeconds(w: TimeWindow): number {
  if (w.end <= w.start)
    throw new InvalidParameterError("window", `[${w.start}, ${w.end}]`, "end after start");
  return w.end - w.start;
}
