// What a local market runs: the services it knows, the scenario's parties, the services it runs on.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { MarketParameters } from "@surplus/contracts";
import type { MechanismName, ReputationRequirement } from "@surplus/core";
import type { InputSource, SupplierStrategy } from "@surplus/edge";

/** The repository's root (edge/build, edge/bin and .data live there). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * The example services (edge/build, made by `npm run build`), with their cost and input kind, and
 * the misbehaving test service the scenarios use (edge/build/test).
 */
export const SERVICES = {
  "people-counter": { miPerInput: 50, source: "frames" },
  "bus-energy": { miPerInput: 20, source: "telemetry" },
  echo: { miPerInput: 1, source: "frames" },
  /**
   * Traps on inputs starting with 0xfe, loops forever on 0xff, echoes the rest
   * (edge/test/services/flaky.ts). Priced like the people counter, so that a few seconds of it pay
   * a Supplier more than its share of the fees.
   */
  "test/flaky": { miPerInput: 50, source: "frames" },
} as const;
export type ServiceName = keyof typeof SERVICES;

export interface SupplierSpec {
  readonly name: string;
  readonly capacityMips?: number;
  readonly ramMb?: number;
  readonly minPricePerMi?: bigint;
  readonly strategy?: SupplierStrategy;
  /** Run it as its own `surplus-edge run` process (which a scenario may kill). @default false */
  readonly process?: boolean;
  /** Seconds each of its offers covers, from when it is posted. @default 3600 */
  readonly windowSeconds?: number;
}

export interface CustomerSpec {
  readonly name: string;
  readonly service: ServiceName;
  readonly inputsPerSecond: number;
  readonly replicas: number;
  readonly seconds: number;
  readonly maxPricePerMi?: bigint;
  /** false: never reveals nor settles (withholds γ). @default true */
  readonly reveal?: boolean;
  /** Seconds from the offer to the stream's start. @default 12 */
  readonly startInSeconds?: number;
  /** δ_min, the shortest allocation it takes. @default half of `seconds`, at most 20 */
  readonly minServiceSeconds?: number;
  /**
   * Its live inputs (its hidden tests are secret positions of this same stream).
   * @default the service's generator, seeded per Customer
   */
  readonly source?: InputSource;
  /** What it deposits in the market; 0: nothing (the front door refuses its offer, issue 17). @default 10^21 */
  readonly deposit?: bigint;
  /** What every Supplier it is matched with must have shown (issue 17). @default no requirement */
  readonly requires?: ReputationRequirement;
}

export interface MarketScenario {
  readonly suppliers: readonly SupplierSpec[];
  readonly customers: readonly CustomerSpec[];
  readonly parameters?: Partial<MarketParameters>;
  /** How long the Customer waits for sealed results after revealing. @default a third of the reveal window, ≤ 30 s */
  readonly resultWaitMs?: number;
  /**
   * Crash injection: the first allocator round that publishes an allocation, and the first bridge
   * run that announces an event, fail right after that side effect (as a Lambda killed mid-way
   * would); the next scheduled invocation retries.
   */
  readonly faults?: { readonly allocatorCrashOnce?: boolean; readonly bridgeCrashOnce?: boolean };
  /** The Allocator's round mechanism (README "Allocator mechanisms"). @default core DEFAULT_MECHANISM */
  readonly mechanism?: MechanismName;
}

export interface Stack {
  readonly pulsar: { readonly webUrl: string; readonly adminToken: string; readonly tokenSecret: string };
  readonly dynamodbEndpoint: string;
  readonly chainRpcUrl: string;
}

/** Demo and test parameters: short windows, fees scaled to jobs of a few seconds. */
export const LOCAL_PARAMETERS: Partial<MarketParameters> = {
  penaltyRate: 50n,
  allocatorFee: 10n ** 12n,
  mediatorFee: 2n * 10n ** 12n,
  signingWindow: 120n,
  revealWindow: 300n,
  mediationWindow: 300n,
};

/** A compiled example service (edge/build, made by `npm run build`). */
export function serviceWasm(name: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(join(ROOT, "edge/build", `${name}.wasm`)));
  } catch {
    throw new Error(
      `edge/build/${name}.wasm is missing: the edge services are not built (\`./surplus market\` builds them; from code, \`npm run build\`)`,
    );
  }
}

/** Resolves once `ok()` holds, polling every 100 ms; throws after `timeoutMs`. */
export async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
