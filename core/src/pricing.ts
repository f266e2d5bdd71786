// Prices and amounts of one allocation (paper §2.1, Table 1), in token base units (bigint).
import { InvalidParameterError } from "./errors.ts";

/** The least of non-empty bigints (Math.min does not take bigint). */
export function minOf(values: readonly bigint[]): bigint {
  let least = values[0]!;
  for (const v of values) if (v < least) least = v;
  return least;
}

/** The greatest of non-empty bigints. */
export function maxOf(values: readonly bigint[]): bigint {
  let greatest = values[0]!;
  for (const v of values) if (v > greatest) greatest = v;
  return greatest;
}

/** π_s = I_c · π_x: the price of processing one input. */
export function pricePerInput(miPerInput: number, pricePerMi: bigint): bigint {
  return BigInt(miPerInput) * pricePerMi;
}

/** λΔ = λ · (a_end − a_start): inputs each replica processes in the allocation. */
export function inputsPerReplica(inputsPerSecond: number, durationSeconds: number): bigint {
  return BigInt(inputsPerSecond) * BigInt(durationSeconds);
}

/** π_total = π_s · λΔ: what the Customer pays one replica. */
export function replicaPayment(
  miPerInput: number,
  pricePerMi: bigint,
  inputsPerSecond: number,
  durationSeconds: number,
) {
  return pricePerInput(miPerInput, pricePerMi) * inputsPerReplica(inputsPerSecond, durationSeconds);
}

/** π_cd = π_sd = ρ · π_s: the security deposit. */
export function securityDeposit(penaltyRate: bigint, pricePerInputUnits: bigint): bigint {
  return penaltyRate * pricePerInputUnits;
}

/**
 * n = ⌈λΔ / ρ⌉: the fewest test inputs for which eq. 6 holds (ρ ≥ λΔ / n makes processing every
 * input the Supplier's best response). ρ is a system parameter; n is chosen by the Allocator.
 */
export function testCountFor(inputs: bigint, penaltyRate: bigint): number {
  if (penaltyRate <= 0n) throw new InvalidParameterError("penaltyRate", penaltyRate, "> 0");
  if (inputs <= 0n) throw new InvalidParameterError("inputs", inputs, "> 0");
  return Number((inputs + penaltyRate - 1n) / penaltyRate);
}

/** A price rule: the transaction price π_x for a set of matched bids and asks (per million instructions). */
export interface PriceRule {
  readonly name: string;
  /**
   * The uniform price for a trade between buyers with limits `bids` (π_xmax) and sellers with
   * limits `asks` (π_xmin). Must lie in [max(asks), min(bids)] of the offers that trade.
   */
  price(bids: readonly bigint[], asks: readonly bigint[]): bigint;
}

/** The midpoint of the tightest bid and ask: individually rational, budget balanced, not truthful. */
export const midpointPrice: PriceRule = {
  name: "midpoint",
  price(bids, asks) {
    if (bids.length === 0 || asks.length === 0)
      throw new InvalidParameterError("offers", 0, "at least one bid and one ask");
    const lowestBid = minOf(bids);
    const highestAsk = maxOf(asks);
    if (highestAsk > lowestBid)
      throw new InvalidParameterError("prices", `${highestAsk} > ${lowestBid}`, "ask ≤ bid");
    return (lowestBid + highestAsk) / 2n;
  },
};
