// The operator's configuration: one schema over every SURPLUS_* variable the Allocator and the
// verifier-bridge read. `parseConfig` fails at start-up, naming each variable and what is wrong with
// it, instead of letting a malformed value through as NaN. Secrets are named, never echoed.
import {
  type Address,
  DEFAULT_MARKET_BOUNDS,
  type MarketBounds,
  type MarketDomain,
  type ProtocolDelays,
} from "@surplus/core";
import { z } from "zod";
import type { Cadence } from "./cadence.ts";

/** Which function reads the configuration: each requires its own variables. */
export type OperatorRole = "allocator" | "verifier-bridge";

export interface OperatorConfig {
  readonly chain: {
    readonly rpcUrl: string;
    readonly market: Address;
    /** The EIP-712 domain's chain id (the allocator signs allocations in it). */
    readonly chainId?: bigint;
    /** Where the bridge starts without a stored cursor. */
    readonly startBlock: number;
    /** Blocks before the bridge takes an event as final. */
    readonly confirmations: number;
  };
  readonly pulsar: {
    readonly url: string;
    /** The JWT itself (local runs) or where Secrets Manager keeps it (AWS); resolved by the handler. */
    readonly token?: string;
    readonly tokenSecretArn?: string;
    readonly offersTopic?: string;
    readonly allocationsTopic?: string;
    readonly acceptTopic?: string;
    /** The market's channel layout (its public channels and the status channels live there). */
    readonly tenant?: string;
    readonly namespace?: string;
  };
  /** The Allocator's private key (local runs) or its secret in Secrets Manager (AWS). */
  readonly signer: { readonly key?: string; readonly secretArn?: string };
  readonly tables: { readonly prefix?: string; readonly dynamodbEndpoint?: string };
  /** δ_alloc, δ_setup; absent: the protocol's defaults. */
  readonly delays?: ProtocolDelays;
  readonly signingLeadSeconds: number;
  readonly bounds: MarketBounds;
  readonly cadence: Cadence;
}

/** What is wrong with the configuration, one line per variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid operator configuration:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

const unset = (v: string | undefined): v is undefined => v === undefined || v === "";
const shown = (v: string) => `'${v.length > 80 ? `${v.slice(0, 80)}…` : v}'`;

/** An optional variable read by `read` (which returns an error text, or the value). */
function optional<T>(read: (v: string) => T | { error: string }) {
  return z
    .string()
    .optional()
    .transform((v, ctx): T | undefined => {
      if (unset(v)) return undefined;
      const out = read(v);
      if (out !== null && typeof out === "object" && "error" in out) {
        ctx.addIssue({ code: "custom", message: out.error });
        return z.NEVER;
      }
      return out as T;
    });
}

const integer = (min: number, what: string) =>
  optional((v) =>
    /^[0-9]+$/.test(v) && Number.isSafeInteger(Number(v)) && Number(v) >= min
      ? Number(v)
      : { error: `expected ${what}, got ${shown(v)}` },
  );
const positive = integer(1, "a positive integer");
const natural = integer(0, "a non-negative integer");
const bigPositive = optional((v) =>
  /^[1-9][0-9]*$/.test(v) ? BigInt(v) : { error: `expected a positive integer, got ${shown(v)}` },
);
const url = optional((v) => (URL.canParse(v) ? v : { error: `expected a URL, got ${shown(v)}` }));
const address = optional((v) =>
  /^0x[0-9a-fA-F]{40}$/.test(v)
    ? (v as Address)
    : { error: `expected a 0x-prefixed 20-byte address, got ${shown(v)}` },
);
const text = optional((v) => v);
const pulsarName = optional((v) =>
  /^[A-Za-z0-9_.-]+$/.test(v)
    ? v
    : { error: `expected a Pulsar name (letters, digits, _ . -), got ${shown(v)}` },
);
// A private key is checked for shape only, and never shown.
const privateKey = optional((v) =>
  /^(0x)?[0-9a-fA-F]{64}$/.test(v) ? v : { error: "expected a 32-byte hex private key (value not shown)" },
);

/** The one schema: every variable the operator's functions read, each checked on its own. */
export const operatorEnv = z.object({
  SURPLUS_CHAIN_RPC_URL: url,
  SURPLUS_MARKET_ADDRESS: address,
  SURPLUS_CHAIN_ID: bigPositive,
  SURPLUS_MARKET_START_BLOCK: natural,
  SURPLUS_CONFIRMATIONS: natural,
  SURPLUS_PULSAR_URL: url,
  SURPLUS_PULSAR_TOKEN: text,
  SURPLUS_PULSAR_TOKEN_SECRET_ARN: text,
  SURPLUS_OFFERS_TOPIC: text,
  SURPLUS_ALLOCATIONS_TOPIC: text,
  SURPLUS_ACCEPT_TOPIC: text,
  SURPLUS_PULSAR_TENANT: pulsarName,
  SURPLUS_PULSAR_NAMESPACE: pulsarName,
  SURPLUS_ALLOCATOR_KEY: privateKey,
  SURPLUS_SIGNER_SECRET_ARN: text,
  SURPLUS_TABLE_PREFIX: text,
  SURPLUS_DYNAMODB_ENDPOINT: url,
  SURPLUS_ALLOC_SECONDS: positive,
  SURPLUS_SETUP_SECONDS: natural,
  SURPLUS_SIGNING_LEAD_SECONDS: natural,
  SURPLUS_MAX_PRICE_PER_MI: bigPositive,
  SURPLUS_MAX_REPLICAS: positive,
  SURPLUS_MAX_WINDOW_SECONDS: positive,
  SURPLUS_MAX_OPEN_OFFERS_PER_ACCOUNT: positive,
  SURPLUS_ROUND_INTERVAL_MS: positive,
  SURPLUS_SCHEDULE_PERIOD_SECONDS: positive,
  SURPLUS_STOP_MARGIN_MS: positive,
});
type OperatorEnv = z.infer<typeof operatorEnv>;

const REQUIRED: Readonly<Record<OperatorRole, ReadonlyArray<keyof OperatorEnv>>> = {
  allocator: ["SURPLUS_CHAIN_RPC_URL", "SURPLUS_MARKET_ADDRESS", "SURPLUS_CHAIN_ID", "SURPLUS_PULSAR_URL"],
  "verifier-bridge": ["SURPLUS_CHAIN_RPC_URL", "SURPLUS_MARKET_ADDRESS", "SURPLUS_PULSAR_URL"],
};

/**
 * The configuration of `role` from `env` (process.env in a handler). Throws a ConfigError naming
 * every variable that is missing or malformed ("SURPLUS_ALLOC_SECONDS: expected a positive
 * integer, got 'abc'").
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  role: OperatorRole = "allocator",
): OperatorConfig {
  const parsed = operatorEnv.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${String(i.path[0] ?? "environment")}: ${i.message}`);
  for (const name of REQUIRED[role])
    if (unset(env[name]) && !problems.some((p) => p.startsWith(`${name}:`)))
      problems.push(`${name}: required by the ${role}, not set`);
  if (role === "allocator" && unset(env["SURPLUS_ALLOCATOR_KEY"]) && unset(env["SURPLUS_SIGNER_SECRET_ARN"]))
    problems.push(
      "SURPLUS_SIGNER_SECRET_ARN: required by the allocator (or SURPLUS_ALLOCATOR_KEY locally), not set",
    );
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return {
    chain: defined({
      rpcUrl: e.SURPLUS_CHAIN_RPC_URL!,
      market: e.SURPLUS_MARKET_ADDRESS!,
      chainId: e.SURPLUS_CHAIN_ID,
      startBlock: e.SURPLUS_MARKET_START_BLOCK ?? 0,
      confirmations: e.SURPLUS_CONFIRMATIONS ?? 2,
    }),
    pulsar: defined({
      url: e.SURPLUS_PULSAR_URL!,
      token: e.SURPLUS_PULSAR_TOKEN,
      tokenSecretArn: e.SURPLUS_PULSAR_TOKEN_SECRET_ARN,
      offersTopic: e.SURPLUS_OFFERS_TOPIC,
      allocationsTopic: e.SURPLUS_ALLOCATIONS_TOPIC,
      acceptTopic: e.SURPLUS_ACCEPT_TOPIC,
      tenant: e.SURPLUS_PULSAR_TENANT,
      namespace: e.SURPLUS_PULSAR_NAMESPACE,
    }),
    signer: defined({ key: e.SURPLUS_ALLOCATOR_KEY, secretArn: e.SURPLUS_SIGNER_SECRET_ARN }),
    tables: defined({ prefix: e.SURPLUS_TABLE_PREFIX, dynamodbEndpoint: e.SURPLUS_DYNAMODB_ENDPOINT }),
    // Either delay set: both apply, the other at its default (as the handler always read them).
    ...(e.SURPLUS_ALLOC_SECONDS !== undefined || e.SURPLUS_SETUP_SECONDS !== undefined
      ? { delays: { allocSeconds: e.SURPLUS_ALLOC_SECONDS ?? 5, setupSeconds: e.SURPLUS_SETUP_SECONDS ?? 5 } }
      : {}),
    signingLeadSeconds: e.SURPLUS_SIGNING_LEAD_SECONDS ?? 0,
    bounds: {
      maxPricePerMi: e.SURPLUS_MAX_PRICE_PER_MI ?? DEFAULT_MARKET_BOUNDS.maxPricePerMi,
      maxReplicas: e.SURPLUS_MAX_REPLICAS ?? DEFAULT_MARKET_BOUNDS.maxReplicas,
      maxWindowSeconds: e.SURPLUS_MAX_WINDOW_SECONDS ?? DEFAULT_MARKET_BOUNDS.maxWindowSeconds,
      maxOpenOffersPerAccount:
        e.SURPLUS_MAX_OPEN_OFFERS_PER_ACCOUNT ?? DEFAULT_MARKET_BOUNDS.maxOpenOffersPerAccount,
    },
    cadence: {
      intervalMs: e.SURPLUS_ROUND_INTERVAL_MS ?? 1000,
      periodMs: (e.SURPLUS_SCHEDULE_PERIOD_SECONDS ?? 60) * 1000,
      marginMs: e.SURPLUS_STOP_MARGIN_MS ?? 5000,
    },
  };
}

/** The EIP-712 domain the Allocator signs in. */
export function domainOf(config: OperatorConfig): MarketDomain {
  if (config.chain.chainId === undefined)
    throw new ConfigError(["SURPLUS_CHAIN_ID: required by the allocator, not set"]);
  return { chainId: config.chain.chainId, verifyingContract: config.chain.market };
}
