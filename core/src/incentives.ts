// The incentive model of paper §3.4: utilities of Table 2 and Table 3, eq. 4–6, and the derived
// parameters of Table 6. Amounts here are in US dollars (floating point), as in the paper; the
// contract works in token base units.
import { InvalidParameterError } from "./errors.ts";

/** The game's parameters (paper Table 1, Table 6). */
export interface GameParameters {
  /** λΔ: inputs per allocation and replica. */
  readonly lambdaDelta: number;
  /** n: test inputs. */
  readonly n: number;
  /** π_s: price paid per processed input. */
  readonly piS: number;
  /** π_se: Supplier's electricity cost per input. */
  readonly piSe: number;
  /** π_cg: Customer's cost of generating one test output. */
  readonly piCg: number;
  /** π_v: Supplier's cost of posting its output evidence. */
  readonly piV: number;
  /** π_cc: Customer's cost of committing its outputs. */
  readonly piCc: number;
  /** π_a: paid to the Allocator by each accepting party. */
  readonly piA: number;
  /** π_m: paid to the Mediator for availability. */
  readonly piM: number;
  /** π_mc: Mediator's cost of committing its finding. */
  readonly piMc: number;
  /** π_ve: verifier's electricity cost per input (Table 3, Mediator row). */
  readonly piVe: number;
  /** π_cd, π_sd: Customer and Supplier deposits. */
  readonly piCd: number;
  readonly piSd: number;
  /** b: the Customer's benefit per processed output. */
  readonly b: number;
}

/** Outcomes of Table 3 (Fig. 4): s = Supplier processes, s_c = Customer provides its n outputs. */
export const Outcome = {
  /** (s, s_c) */
  O1: "O1",
  /** (s̄, s_c) */
  O2: "O2",
  /** (s, s̄_c) */
  O3: "O3",
  /** (s̄, s̄_c) */
  O4: "O4",
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface Payoffs {
  readonly customer: number;
  readonly supplier: number;
  readonly allocator: number;
  readonly mediator: number;
}

/** Table 3: payoffs of each outcome of the protocol's game. */
export function table3(p: GameParameters): Record<Outcome, Payoffs> {
  const L = p.lambdaDelta;
  const mediation = p.piM - p.n * (p.piSe - p.piVe + p.piS) - p.piMc;
  return {
    O1: {
      customer: L * (p.b - p.piS) - p.n * p.piCg - p.piCc - p.piA,
      supplier: L * (p.piS - p.piSe) - p.piV - p.piA,
      allocator: p.piA,
      mediator: p.piM,
    },
    O2: {
      customer: -L * p.piS - p.n * p.piCg - p.piCc - p.piA,
      supplier: -p.piV - p.piSd - p.piA,
      allocator: p.piA,
      mediator: mediation,
    },
    O3: {
      customer: L * (p.b - p.piS) - p.piCc - p.piCd - p.piA,
      supplier: L * (p.piS - p.piSe) - p.piV - p.piA,
      allocator: p.piA,
      mediator: mediation,
    },
    O4: {
      customer: -L * p.piS - p.piCc - p.piCd - p.piA,
      supplier: -p.piV - p.piSd - p.piA,
      allocator: p.piA,
      mediator: mediation,
    },
  };
}

/** Table 2: one-input game without committed tests; [Supplier, Customer] utility per strategy pair. */
export function table2(p: GameParameters) {
  return {
    s_sc: { supplier: p.piS - p.piSe - p.piV - p.piA, customer: p.b - p.piS - p.piSe - p.piV - p.piA },
    s_notSc: { supplier: p.piS - p.piSe - p.piV - p.piA, customer: p.b - p.piS - p.piA },
    notS_sc: { supplier: -p.piV - p.piSd - p.piA, customer: p.b - p.piS - p.piSe - p.piV - p.piA },
    notS_notSc: { supplier: p.piS - p.piV - p.piA, customer: -p.piA - p.piS },
  } as const;
}

/** Eq. 4: the Customer processes its n test inputs iff n·π_cg < π_cd. */
export function customerProcessesTests(p: Pick<GameParameters, "n" | "piCg" | "piCd">): boolean {
  return p.n * p.piCg < p.piCd;
}

/** ρ = λΔ / n (eq. 6): the penalty rate that makes processing every input the Supplier's best response. */
export function penaltyRateFor(lambdaDelta: number, n: number): number {
  if (!(n > 0)) throw new InvalidParameterError("n", n, "> 0");
  return lambdaDelta / n;
}

/** Eq. 5: the Supplier's expected utility when it processes each input with probability P(s). */
export function supplierUtility(pS: number, p: GameParameters): number {
  if (!(pS >= 0 && pS <= 1)) throw new InvalidParameterError("P(s)", pS, "in [0, 1]");
  const L = p.lambdaDelta;
  const caught = pS ** p.n;
  return caught * (L * p.piS - L * p.piSe * pS) + (1 - caught) * -p.piSd - p.piV - p.piA;
}

/** Eq. 6 (first line): the stationary point P(s) = n(λΔπ_s + π_sd) / ((n + 1)λΔπ_se). */
export function supplierStationaryP(p: GameParameters): number {
  return (p.n * (p.lambdaDelta * p.piS + p.piSd)) / ((p.n + 1) * p.lambdaDelta * p.piSe);
}

/**
 * The Supplier's best response P(s) in [0, 1]: the stationary point of eq. 5 is a maximum (the
 * utility rises up to it), so when it lies at or beyond 1 the best feasible choice is to process
 * every input.
 */
export function supplierBestP(p: GameParameters): number {
  const stationary = supplierStationaryP(p);
  const candidates = [0, 1, ...(stationary > 0 && stationary < 1 ? [stationary] : [])];
  return candidates.reduce((best, c) => (supplierUtility(c, p) > supplierUtility(best, p) ? c : best), 1);
}

/** The inputs of paper Table 6 from which the other parameters are derived. */
export interface Table6Inputs {
  /** λ, frames per second. */
  readonly inputsPerSecond: number;
  /** Δ, minutes. */
  readonly durationMinutes: number;
  /** n as a fraction of λΔ (0.1 %). */
  readonly testFraction: number;
  readonly gasPriceGwei: number;
  /**
   * USD per ETH. The paper does not print it; 410 is what its own conversions imply
   * (π_cc = 1.1257 $ for 137,281 gas at 20 gwei).
   */
  readonly ethUsd: number;
  /** E, USD per kWh. */
  readonly electricityUsdPerKwh: number;
  /** TDP at max and min, kW (BeagleBone Black). */
  readonly tdpKw: number;
  readonly tdpMinKw: number;
  /** π_s, USD per input, and b, USD benefit per output: chosen with b > π_s > π_se. */
  readonly piS: number;
  readonly b: number;
  /** Gas of the calls whose cost the paper folds into π_cc, π_v and π_a (its Table 5). */
  readonly gas: {
    readonly customerSign: number;
    readonly postOutput: number;
    readonly createAllocation: number;
  };
}

/** The paper's Table 6 inputs. */
export const PAPER_TABLE6_INPUTS: Table6Inputs = {
  inputsPerSecond: 20,
  durationMinutes: 10,
  testFraction: 0.001,
  gasPriceGwei: 20,
  ethUsd: 410,
  electricityUsdPerKwh: 0.132,
  tdpKw: 4.6e-4,
  tdpMinKw: 2.1e-4,
  piS: 2.0e-5,
  b: 3.5e-5,
  gas: { customerSign: 137_281, postOutput: 130_108, createAllocation: 369_506 },
};

/** Table 6's derived values as the paper prints them (for comparison; some disagree with their formulas). */
export const PAPER_TABLE6_PRINTED = {
  lambdaDelta: 12_000,
  n: 12,
  rho: 1000,
  piCc: 1.1257,
  piV: 1.0669,
  piAe: 0.001,
  piA: 3.02994,
  piCg: 7e-8,
  piSe: 7e-8,
  piCd: 0.02,
  piSd: 0.02,
  piM: 3.3e-5,
} as const;

export interface Table6 {
  readonly lambdaDelta: number;
  readonly n: number;
  readonly rho: number;
  readonly piCc: number;
  readonly piV: number;
  readonly piAe: number;
  readonly piA: number;
  readonly piCg: number;
  readonly piSe: number;
  readonly piCd: number;
  readonly piSd: number;
  readonly piM: number;
}

/**
 * Table 6 derived from its inputs. Energy terms use consistent units (kW × hours × USD/kWh):
 * π_se is one input's energy (TDP for 1/λ seconds), π_cg = π_se (the Customer runs the same
 * service), π_aε and π_m are TDP and TDP_min over Δ. The paper's printed π_se, π_cg, π_aε and π_m
 * do not follow from its own formulas and inputs; the experiments report both.
 */
export function deriveTable6(i: Table6Inputs): Table6 {
  const lambdaDelta = i.inputsPerSecond * i.durationMinutes * 60;
  const n = Math.round(lambdaDelta * i.testFraction);
  const rho = penaltyRateFor(lambdaDelta, n);
  const gasUsd = (gas: number) => gas * i.gasPriceGwei * 1e-9 * i.ethUsd;
  const hours = i.durationMinutes / 60;
  const piSe = i.electricityUsdPerKwh * i.tdpKw * (1 / i.inputsPerSecond / 3600);
  const piAe = i.electricityUsdPerKwh * i.tdpKw * hours;
  return {
    lambdaDelta,
    n,
    rho,
    piCc: gasUsd(i.gas.customerSign),
    piV: gasUsd(i.gas.postOutput),
    piAe,
    piA: piAe + gasUsd(i.gas.createAllocation),
    piCg: piSe,
    piSe,
    piCd: i.piS * rho,
    piSd: i.piS * rho,
    piM: i.electricityUsdPerKwh * i.tdpMinKw * hours,
  };
}

/** The game parameters of a Table 6 (Mediator commit cost taken equal to a PostOutput, π_ve = π_se). */
export function gameParametersFrom(t: Table6, i: Pick<Table6Inputs, "piS" | "b">): GameParameters {
  return {
    lambdaDelta: t.lambdaDelta,
    n: t.n,
    piS: i.piS,
    piSe: t.piSe,
    piCg: t.piCg,
    piV: t.piV,
    piCc: t.piCc,
    piA: t.piA,
    piM: t.piM,
    piMc: t.piV,
    piVe: t.piSe,
    piCd: t.piCd,
    piSd: t.piSd,
    b: i.b,
  };
}
