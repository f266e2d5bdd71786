// The experiments' parameters: paper Table 6, derived by core (`deriveTable6`), turned into a
// market's parameters and allocation terms in token base units, plus the off-chain costs and
// benefits (electricity, gas, the Customer's benefit) that no contract sees.
//
// Money: the token is a US-dollar stablecoin with 18 decimals (1 USD = 10^18 base units), so
// the contract's amounts are Table 6's dollars exactly (to 10^-12 USD).
import type { MarketParameters } from "@surplus/contracts";
import { DEFAULT_PARAMETERS } from "@surplus/contracts";
import {
  deriveTable6,
  PAPER_TABLE6_INPUTS,
  PAPER_TABLE6_PRINTED,
  type Table6,
  type Table6Inputs,
} from "@surplus/core";

export const UNITS_PER_USD = 10n ** 18n;

/** Dollars to base units, rounded to 10^-12 USD. */
export function usdToUnits(usd: number): bigint {
  return BigInt(Math.round(usd * 1e12)) * 10n ** 6n;
}

/** Base units to dollars (exact to about 10^-15 relative). */
export function unitsToUsd(units: bigint): number {
  const whole = units / UNITS_PER_USD;
  return Number(whole) + Number(units - whole * UNITS_PER_USD) / 1e18;
}

/** Which Table 6 the run uses: derived from its inputs by core, or its printed values. */
export const Table6Source = { Derived: "derived", Printed: "printed" } as const;
export type Table6Source = (typeof Table6Source)[keyof typeof Table6Source];

/** Everything one simulated market needs, in dollars (costs) and base units (contract). */
export interface ExperimentParameters {
  readonly source: Table6Source;
  readonly table6: Table6;
  /** The market contract's parameters: ρ, F = π_a, M = π_m; timeouts as deployed by default. */
  readonly market: MarketParameters;
  /** The service every Customer offers (the ARTA people counter of the paper). */
  readonly service: {
    /** λ, inputs per second. */
    readonly inputsPerSecond: number;
    /** Δ, seconds: every Customer offer asks for exactly one allocation of this length. */
    readonly durationSeconds: number;
    /** I_c, million instructions per input (chosen; only π_s = I_c·π_x matters). */
    readonly miPerInput: number;
    /** π_x per million instructions, base units: π_s / I_c. */
    readonly pricePerMi: bigint;
  };
  /** Off-chain amounts, USD. */
  readonly usd: {
    readonly piS: number;
    readonly b: number;
    readonly piSe: number;
    readonly piCg: number;
    readonly piV: number;
    readonly piCc: number;
    /** π_mc: the Mediator's gas to post its finding (a PostOutput, as core's gameParametersFrom). */
    readonly piMc: number;
  };
}

/** I_c of the experiments' service; any value works, π_x is chosen so that π_s is Table 6's. */
const MI_PER_INPUT = 100;

/** The experiments' parameters from Table 6 (derived by core, or as printed), optionally without gas. */
export function experimentParameters(
  options: { readonly source?: Table6Source; readonly inputs?: Table6Inputs; readonly gas?: boolean } = {},
): ExperimentParameters {
  const inputs = options.inputs ?? PAPER_TABLE6_INPUTS;
  const source = options.source ?? Table6Source.Derived;
  const derived = deriveTable6(inputs);
  const t: Table6 = source === Table6Source.Printed ? { ...PAPER_TABLE6_PRINTED } : derived;
  const gas = options.gas ?? true;
  // Without gas, π_a keeps only the Allocator's electricity π_aε.
  const piA = gas ? t.piA : t.piAe;
  const piSUnits = usdToUnits(inputs.piS);
  if (piSUnits % BigInt(MI_PER_INPUT) !== 0n)
    throw new RangeError(`π_s = ${inputs.piS} USD is not a multiple of ${MI_PER_INPUT} base units`);
  return {
    source,
    table6: { ...t, piA },
    market: {
      ...DEFAULT_PARAMETERS,
      penaltyRate: BigInt(t.rho),
      allocatorFee: usdToUnits(piA),
      mediatorFee: usdToUnits(t.piM),
    },
    service: {
      inputsPerSecond: inputs.inputsPerSecond,
      durationSeconds: inputs.durationMinutes * 60,
      miPerInput: MI_PER_INPUT,
      pricePerMi: piSUnits / BigInt(MI_PER_INPUT),
    },
    usd: {
      piS: inputs.piS,
      b: inputs.b,
      piSe: t.piSe,
      piCg: t.piCg,
      piV: gas ? t.piV : 0,
      piCc: gas ? t.piCc : 0,
      piMc: gas ? t.piV : 0,
    },
  };
}
