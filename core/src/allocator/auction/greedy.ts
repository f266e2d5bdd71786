// A round of the auction (docs/auction.md, step 4): the greedy passes in their Customer orders and
// the squeaky-wheel refinements over one prepared market; the best pass is kept and built.
import { InvalidParameterError } from "../../errors.ts";
import { shortMediators, type Unfunded } from "../admission.ts";
import type { AuctionInput, AuctionResult } from "../types.ts";
import { prepare } from "./market.ts";
import { type CustomerOrder, ORDERS, orderKeys, sortByKeys } from "./orders.ts";
import { build, type Pass } from "./outcome.ts";
import { runPass } from "./sweep.ts";

/**
 * Runs one auction round. Pure and deterministic: the same input gives the same result, whatever
 * the order of the offers. The greedy runs once per Customer order in ORDERS and the round with
 * the highest welfare is kept (the first on a tie).
 */
export function runAuction(input: AuctionInput): AuctionResult {
  const funds = input.params.mediatorFunds;
  if (!funds) return runRound(input);
  // The Mediator's bond (issue 16): a Mediator that cannot cover the bonds the round gives it is
  // left out and the round runs again. Each run leaves out one more Mediator, so this ends.
  const left: Unfunded[] = [];
  let round = input;
  for (;;) {
    const result = runRound(round);
    const short = shortMediators(result.allocations, funds.free, funds.fees);
    if (short.length === 0) return left.length ? { ...result, shortMediators: left } : result;
    left.push(...short);
    const excluded = new Set(round.params.excludedMediators);
    const before = excluded.size;
    for (const u of short) excluded.add(u.account);
    if (excluded.size === before) throw new Error("a Mediator left out of the round was named again");
    round = { ...round, params: { ...round.params, excludedMediators: excluded } };
  }
}

/** One round: a round-level mechanism (mechanism.ts) runs the greedy itself, once or more, and prices the round. */
function runRound(input: AuctionInput): AuctionResult {
  const mechanism = input.params.mechanism;
  if (mechanism) return mechanism.run(input, (i) => runGreedy(i, ordersFor(i)));
  return runGreedy(input, ordersFor(input));
}

/** The greedy with the given Customer orders (one pass each; the best welfare is kept). */
export function runGreedy(
  input: AuctionInput,
  orders: readonly CustomerOrder[],
  refinements = refinementsFor(input),
): AuctionResult {
  if (orders.length === 0) throw new InvalidParameterError("orders", 0, "at least one Customer order");
  const market = prepare(input);
  let best: Pass | undefined;
  let bestKeys: Float64Array | undefined;
  for (const order of orders) {
    const keys = orderKeys(market, order);
    const pass = runPass(market, sortByKeys(keys));
    if (!best || pass.welfare > best.welfare) {
      best = pass;
      bestKeys = keys;
    }
  }
  // Squeaky-wheel refinement: Customers the best pass left short move up, and the greedy runs again.
  let keys = bestKeys!;
  let last = best!;
  for (let k = 0; k < refinements; k++) {
    keys = keys.slice();
    const served = new Float64Array(market.customers.length);
    for (let q = 0; q < last.chunkCustomer.length; q++)
      served[last.chunkCustomer[q]!]! +=
        (last.chunkFrom[q + 1]! - last.chunkFrom[q]!) * (last.chunkEnd[q]! - last.chunkStart[q]!);
    market.customers.forEach((c, i) => {
      const o = c.offer;
      const wanted = o.replicas * (o.end - Math.max(o.start, market.earliest));
      if (wanted > 0 && market.customerLimit[i]! > 0)
        keys[i]! *= 1 + SQUEAK * Math.max(0, 1 - served[i]! / wanted);
    });
    last = runPass(market, sortByKeys(keys));
    if (last.welfare > best!.welfare) best = last;
  }
  return build(market, best!);
}

/** How much a Customer's key grows when the last pass served none of what it wanted (proportionally less when some). */
const SQUEAK = 0.5;
/** Refinement passes on markets of at most this many offers (each pass is a whole greedy). */
const REFINE_UP_TO_OFFERS = 2_000;
/** Refinements: as many as REFINE_BUDGET offer·passes allow, within [MIN_REFINEMENTS, MAX_REFINEMENTS]. */
const REFINE_BUDGET = 4_000;
const MIN_REFINEMENTS = 4;
const MAX_REFINEMENTS = 16;

/** How many greedy passes runAuction makes on this input (its work is about proportional). */
export function auctionPasses(input: AuctionInput): number {
  return ordersFor(input).length + refinementsFor(input);
}

/** Every order of ORDERS on small markets; on larger ones the first alone (it won on every bench size). */
function ordersFor(input: AuctionInput): readonly CustomerOrder[] {
  return isSmall(input) ? ORDERS : ORDERS.slice(0, 1);
}

function isSmall(input: AuctionInput): boolean {
  return input.customers.length + input.suppliers.length <= REFINE_UP_TO_OFFERS;
}

function refinementsFor(input: AuctionInput): number {
  if (input.params.refinements !== undefined) return input.params.refinements;
  if (!isSmall(input)) return 0;
  const offers = Math.max(1, input.customers.length + input.suppliers.length);
  return Math.min(MAX_REFINEMENTS, Math.max(MIN_REFINEMENTS, Math.floor(REFINE_BUDGET / offers)));
}
