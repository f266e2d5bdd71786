// `./surplus bench strategy`: how far each round mechanism (core mechanism.ts) holds when
// participants misreport their prices (issue 18). Writes bench/results/strategy.json.
//
// Markets: the allocator bench's welfare shapes (allocator-instances.ts; windows on a one-hour grid
// over 8 h, half Customers and half Suppliers, r ∈ {1, 2, 3}) of 20–200 offers with 2, 4 or 6
// Mediators, fixed seeds. Utilities are counted with the true prices: a Customer gains
// Σ (π_xmax − π_x)·I_c·λ·Δ per replica, a Supplier Σ (π_x − π_xmin)·I_c·λ·Δ per replica it hosts.
//  1. Unilateral misreports: in each market a seeded sample of the participants that trade when
//     everyone is truthful (under k-double, so every mechanism is probed on the same ones) reports,
//     alone, its price times each factor of CUSTOMER_FACTORS / SUPPLIER_FACTORS. A participant is
//     counted when one of them raises its utility by more than 0.1 % (of its truthful utility under
//     that mechanism, or under k-double when it does not trade truthfully). Gains: each sampled
//     participant's best relative gain (0 when none pays), median and p90.
//     Monotonicity: of the probes with a better report (a higher bid, a lower ask), the share in
//     which the participant traded less volume than when truthful.
//  2. Best responses: on the smaller markets every participant in turn picks the report of
//     BR_CUSTOMER / BR_SUPPLIER (× its true price) that pays it most against the others' current
//     reports (best-response dynamics, one participant at a time); this is repeated in sweeps
//     until a sweep changes nobody's report (a fixed point) or BR_SWEEPS sweeps have run (the cap).
//     The welfare reached, with true prices, is divided by the truthful greedy's welfare (k-double,
//     which keeps every trade: 97–98 % of the exact optimum, bench:allocator).
// --quick: fewer markets and samples (about a tenth of the time).
import {
  type Address,
  type AuctionInput,
  type AuctionResult,
  type Bytes32,
  DEFAULT_MECHANISM,
  MECHANISMS,
  type MechanismName,
  prng,
  runAuction,
} from "@surplus/core";
import { generateInstance } from "./allocator-instances.ts";
import { type ResultRow, report } from "./report.ts";

const ALLOCATOR = "0x00000000000000000000000000000000000A110C" as Address;
const say = (line: string) => process.stderr.write(`[bench:strategy] ${line}\n`);
const quick = process.argv.includes("--quick");

const SIZES = quick ? [20, 40, 80] : [20, 40, 80, 120, 200];
const SEEDS = quick ? [1] : [1, 2, 3];
/** Participants probed per market. */
const SAMPLE = quick ? 6 : 10;
const CUSTOMER_FACTORS = [0.5, 0.7, 0.85, 0.95, 1.1, 1.3];
const SUPPLIER_FACTORS = [0.7, 0.9, 1.05, 1.15, 1.3, 1.6];
/** Best responses on markets of at most this many offers. */
const BR_MAX_SIZE = quick ? 20 : 80;
const BR_CUSTOMER = [0.5, 0.7, 0.85, 1, 1.2];
const BR_SUPPLIER = [0.8, 1, 1.15, 1.3, 1.6];
const BR_SWEEPS = quick ? 2 : 3;
const PROFIT_EPSILON = 0.001;

interface Market {
  readonly name: string;
  readonly size: number;
  readonly input: AuctionInput;
}

function markets(): Market[] {
  const out: Market[] = [];
  SIZES.forEach((size, i) => {
    for (const seed of SEEDS) {
      const mediatorPool = 2 + 2 * ((i + seed) % 3);
      const inst = generateInstance({
        seed: 7_000 * size + seed,
        customers: size / 2,
        suppliers: size / 2,
        horizonHours: 8,
        gridSeconds: 3_600,
        mediatorPool,
      });
      out.push({
        name: `${size} offers, ${mediatorPool} Mediators, seed ${seed}`,
        size,
        input: {
          customers: inst.customers,
          suppliers: inst.suppliers,
          params: { allocator: ALLOCATOR, nowSeconds: inst.nowSeconds, penaltyRate: 1_000n },
        },
      });
    }
  });
  return out;
}

/** True prices of a market's offers, by id. */
interface Truth {
  readonly bid: Map<Bytes32, bigint>;
  readonly ask: Map<Bytes32, bigint>;
}

const truthOf = (input: AuctionInput): Truth => ({
  bid: new Map(input.customers.map((c) => [c.id, c.offer.maxPricePerMi])),
  ask: new Map(input.suppliers.map((s) => [s.id, s.offer.minPricePerMi])),
});

/** Each participant's utility and traded volume (MI) under true prices, and the round's true welfare. */
function outcome(result: AuctionResult, truth: Truth) {
  const utility = new Map<Bytes32, bigint>();
  const volume = new Map<Bytes32, bigint>();
  const add = (m: Map<Bytes32, bigint>, id: Bytes32, x: bigint) => m.set(id, (m.get(id) ?? 0n) + x);
  let welfare = 0n;
  for (const p of result.allocations) {
    const a = p.allocation;
    const work = BigInt(a.miPerInput) * BigInt(a.inputsPerSecond) * BigInt(a.end - a.start);
    const bid = truth.bid.get(p.customerOfferId)!;
    for (const s of p.supplierOfferIds) {
      const ask = truth.ask.get(s)!;
      add(utility, p.customerOfferId, (bid - a.pricePerMi) * work);
      add(utility, s, (a.pricePerMi - ask) * work);
      add(volume, p.customerOfferId, work);
      add(volume, s, work);
      welfare += (bid - ask) * work;
    }
  }
  return { utility, volume, welfare };
}

/** The input with each listed offer's price replaced by factor × its true price. */
function withReports(input: AuctionInput, truth: Truth, factors: ReadonlyMap<Bytes32, number>): AuctionInput {
  if (factors.size === 0) return input;
  const scale = (p: bigint, f: number) => (p * BigInt(Math.round(f * 1_000))) / 1_000n;
  return {
    ...input,
    customers: input.customers.map((c) => {
      const f = factors.get(c.id);
      return f === undefined
        ? c
        : { ...c, offer: { ...c.offer, maxPricePerMi: scale(truth.bid.get(c.id)!, f) } };
    }),
    suppliers: input.suppliers.map((s) => {
      const f = factors.get(s.id);
      return f === undefined
        ? s
        : { ...s, offer: { ...s.offer, minPricePerMi: scale(truth.ask.get(s.id)!, f) } };
    }),
  };
}

const run = (input: AuctionInput, mechanism: MechanismName) =>
  runAuction({ ...input, params: { ...input.params, mechanism: MECHANISMS[mechanism] } });

const quantile = (xs: readonly number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ratio = (a: bigint, b: bigint) => (b === 0n ? 1 : Number((a * 1_000_000n) / b) / 1_000_000);
const round3 = (x: number) => Math.round(x * 1000) / 1000;

interface Stats {
  probed: number;
  profitable: number;
  gains: number[];
  betterProbes: number;
  monotonicityBreaks: number;
  truthfulRatios: number[];
  /** Per size: [probed, profitable]. */
  bySize: Map<number, [number, number]>;
  /** Per size: truthful welfare ratios. */
  truthfulBySize: Map<number, number[]>;
  brRatios: number[];
  /** Truthful welfare on the best-response markets, for comparison. */
  brTruthful: number[];
  brFixedPoints: number;
  brMarkets: number;
}

function probe(market: Market, mechanisms: readonly MechanismName[], stats: Map<MechanismName, Stats>) {
  const { input } = market;
  const truth = truthOf(input);
  const reference = outcome(run(input, "k-double"), truth);
  const traders = [...reference.utility.keys()].sort();
  const rand = prng(market.size * 31 + input.customers.length);
  const sample: Bytes32[] = [];
  while (sample.length < Math.min(SAMPLE, traders.length)) {
    const id = traders[Math.floor(rand() * traders.length)]!;
    if (!sample.includes(id)) sample.push(id);
  }
  for (const mechanism of mechanisms) {
    const st = stats.get(mechanism)!;
    const truthful = outcome(run(input, mechanism), truth);
    st.truthfulRatios.push(ratio(truthful.welfare, reference.welfare));
    const bySize = st.truthfulBySize.get(market.size) ?? [];
    bySize.push(ratio(truthful.welfare, reference.welfare));
    st.truthfulBySize.set(market.size, bySize);
    const size = st.bySize.get(market.size) ?? [0, 0];
    for (const id of sample) {
      const isCustomer = truth.bid.has(id);
      const u0 = truthful.utility.get(id) ?? 0n;
      const base = u0 > 0n ? u0 : reference.utility.get(id)!;
      const v0 = truthful.volume.get(id) ?? 0n;
      let best = 0;
      for (const f of isCustomer ? CUSTOMER_FACTORS : SUPPLIER_FACTORS) {
        const o = outcome(run(withReports(input, truth, new Map([[id, f]])), mechanism), truth);
        const u = o.utility.get(id) ?? 0n;
        if (base > 0n) best = Math.max(best, Number(((u - u0) * 1_000_000n) / base) / 1_000_000);
        const better = isCustomer ? f > 1 : f < 1;
        if (better) {
          st.betterProbes++;
          if ((o.volume.get(id) ?? 0n) * 1000n < v0 * 999n) st.monotonicityBreaks++;
        }
      }
      st.probed++;
      size[0]++;
      if (best > PROFIT_EPSILON) {
        st.profitable++;
        size[1]++;
      }
      st.gains.push(best);
    }
    st.bySize.set(market.size, size);
  }
}

/** Best-response dynamics (one participant at a time, in id order) to a fixed point or BR_SWEEPS sweeps. */
function bestResponses(
  market: Market,
  mechanism: MechanismName,
): { ratio: number; truthful: number; fixedPoint: boolean } {
  const { input } = market;
  const truth = truthOf(input);
  const reference = outcome(run(input, "k-double"), truth);
  const truthful = outcome(run(input, mechanism), truth);
  const reports = new Map<Bytes32, number>();
  const participants = [...input.customers.map((c) => c.id), ...input.suppliers.map((s) => s.id)].sort();
  let fixedPoint = false;
  for (let sweep = 0; sweep < BR_SWEEPS && !fixedPoint; sweep++) {
    fixedPoint = true;
    for (const id of participants) {
      const current = reports.get(id) ?? 1;
      let bestFactor = current;
      let bestUtility: bigint | undefined;
      for (const f of truth.bid.has(id) ? BR_CUSTOMER : BR_SUPPLIER) {
        const trial = new Map(reports);
        trial.set(id, f);
        const u = outcome(run(withReports(input, truth, trial), mechanism), truth).utility.get(id) ?? 0n;
        // Ties keep the current report (then the truthful one), so the dynamics can settle.
        if (bestUtility === undefined || u > bestUtility || (u === bestUtility && f === current)) {
          bestUtility = u;
          bestFactor = f;
        }
      }
      if (bestFactor !== current) {
        fixedPoint = false;
        if (bestFactor === 1) reports.delete(id);
        else reports.set(id, bestFactor);
      }
    }
  }
  const final = outcome(run(withReports(input, truth, reports), mechanism), truth);
  return {
    ratio: ratio(final.welfare, reference.welfare),
    truthful: ratio(truthful.welfare, reference.welfare),
    fixedPoint,
  };
}

function main() {
  const started = performance.now();
  const mechanisms = Object.keys(MECHANISMS) as MechanismName[];
  const stats = new Map<MechanismName, Stats>(
    mechanisms.map((m) => [
      m,
      {
        probed: 0,
        profitable: 0,
        gains: [],
        betterProbes: 0,
        monotonicityBreaks: 0,
        truthfulRatios: [],
        bySize: new Map(),
        truthfulBySize: new Map(),
        brRatios: [],
        brTruthful: [],
        brFixedPoints: 0,
        brMarkets: 0,
      },
    ]),
  );
  const all = markets();
  say(
    `${all.length} markets, ${mechanisms.length} mechanisms${quick ? " (--quick)" : ""}: unilateral misreports…`,
  );
  for (const market of all) {
    const t = performance.now();
    probe(market, mechanisms, stats);
    say(`  ${market.name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  say(`best responses on markets of at most ${BR_MAX_SIZE} offers (cap ${BR_SWEEPS} sweeps)…`);
  for (const market of all.filter((m) => m.size <= BR_MAX_SIZE)) {
    for (const mechanism of mechanisms) {
      const t = performance.now();
      const br = bestResponses(market, mechanism);
      const st = stats.get(mechanism)!;
      st.brRatios.push(br.ratio);
      st.brTruthful.push(br.truthful);
      st.brMarkets++;
      if (br.fixedPoint) st.brFixedPoints++;
      say(
        `  ${market.name}, ${mechanism}: ${(100 * br.ratio).toFixed(1)} % of truthful welfare (${(100 * br.truthful).toFixed(1)} % when truthful), ${
          br.fixedPoint ? "fixed point" : "cap reached"
        } (${((performance.now() - t) / 1000).toFixed(1)} s)`,
      );
    }
  }

  const rows: ResultRow[] = [];
  for (const m of mechanisms) {
    const st = stats.get(m)!;
    const isDefault = m === DEFAULT_MECHANISM;
    const mark = isDefault ? " (default)" : "";
    rows.push(
      {
        name: `profitable_share_${m}`,
        value: round3(st.profitable / Math.max(1, st.probed)),
        unit: "share",
        target: "<= 0.05",
        note: `${st.profitable} of ${st.probed} sampled traders gain by misreporting${mark}`,
      },
      {
        name: `gain_median_${m}`,
        value: round3(median(st.gains)),
        unit: "× truthful utility",
        note: "best misreport's gain, median over the sample",
      },
      {
        name: `gain_p90_${m}`,
        value: round3(quantile(st.gains, 0.9)),
        unit: "× truthful utility",
        note: "p90",
      },
      {
        name: `welfare_best_response_${m}`,
        value: round3(median(st.brRatios)),
        unit: "of truthful",
        target: ">= 0.9",
        note: `median of ${st.brMarkets} markets (min ${round3(Math.min(...st.brRatios))}; truthful there ${round3(median(st.brTruthful))}); ${st.brFixedPoints} reached a fixed point, the rest the cap of ${BR_SWEEPS} sweeps${mark}`,
      },
      {
        name: `welfare_truthful_${m}`,
        value: round3(median(st.truthfulRatios)),
        unit: "of truthful",
        note: `truthful reports, vs k-double; median (min ${round3(Math.min(...st.truthfulRatios))})`,
      },
      {
        name: `monotonicity_breaks_${m}`,
        value: round3(st.monotonicityBreaks / Math.max(1, st.betterProbes)),
        unit: "share",
        note: `${st.monotonicityBreaks} of ${st.betterProbes} better reports traded less volume`,
      },
    );
    for (const [size, [probed, profitable]] of [...st.bySize].sort((a, b) => a[0] - b[0]))
      rows.push({
        name: `profitable_share_${m}_${size}`,
        value: round3(profitable / Math.max(1, probed)),
        unit: "share",
        note: `${size}-offer markets: ${profitable} of ${probed}`,
      });
    for (const [size, ratios] of [...st.truthfulBySize].sort((a, b) => a[0] - b[0]))
      rows.push({
        name: `welfare_truthful_${m}_${size}`,
        value: round3(median(ratios)),
        unit: "of truthful",
        note: `${size}-offer markets, truthful reports: median of ${ratios.length}`,
      });
  }
  report("strategy", rows, {
    quick,
    default: DEFAULT_MECHANISM,
    sizes: SIZES,
    seeds: SEEDS,
    sample: SAMPLE,
    customerFactors: CUSTOMER_FACTORS,
    supplierFactors: SUPPLIER_FACTORS,
    bestResponse: { maxSize: BR_MAX_SIZE, customer: BR_CUSTOMER, supplier: BR_SUPPLIER, sweeps: BR_SWEEPS },
    seconds: Math.round((performance.now() - started) / 1000),
  });
}

main();
