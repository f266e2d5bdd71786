import { DEFAULT_MARKET_BOUNDS } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { ConfigError, domainOf, parseConfig } from "../src/config.ts";

const KEY = `0x${"ab".repeat(32)}`;
const allocatorEnv = {
  SURPLUS_CHAIN_ID: "31337",
  SURPLUS_MARKET_ADDRESS: `0x${"12".repeat(20)}`,
  SURPLUS_CHAIN_RPC_URL: "http://127.0.0.1:8545",
  SURPLUS_PULSAR_URL: "http://127.0.0.1:8080",
  SURPLUS_ALLOCATOR_KEY: KEY,
};

/** The problems a ConfigError lists for `env`. */
function problems(env: Record<string, string | undefined>, role?: "allocator" | "verifier-bridge"): string[] {
  try {
    parseConfig(env, role);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("parseConfig accepted it");
}

describe("parseConfig", () => {
  it("reads a complete allocator configuration, with the defaults for what is unset", () => {
    const config = parseConfig(allocatorEnv);

    expect(domainOf(config)).toEqual({
      chainId: 31337n,
      verifyingContract: allocatorEnv.SURPLUS_MARKET_ADDRESS,
    });
    expect(config.delays).toBeUndefined();
    expect(config.signingLeadSeconds).toBe(0);
    expect(config.bounds).toEqual(DEFAULT_MARKET_BOUNDS);
    expect(config.cadence).toEqual({ intervalMs: 1000, periodMs: 60_000, marginMs: 5000 });
    expect(config.chain).toMatchObject({ startBlock: 0, confirmations: 2 });
    expect(config.signer).toEqual({ key: KEY });
  });

  it("takes every variable that is set", () => {
    const config = parseConfig({
      ...allocatorEnv,
      SURPLUS_ALLOC_SECONDS: "70",
      SURPLUS_SIGNING_LEAD_SECONDS: "3",
      SURPLUS_MAX_PRICE_PER_MI: "1000000000000000000000000000",
      SURPLUS_MAX_REPLICAS: "4",
      SURPLUS_ROUND_INTERVAL_MS: "250",
      SURPLUS_SCHEDULE_PERIOD_SECONDS: "120",
      SURPLUS_STOP_MARGIN_MS: "8000",
      SURPLUS_OFFERS_TOPIC: "persistent://t/n/offers",
      SURPLUS_TABLE_PREFIX: "m1-",
    });

    // One delay set: the other keeps its default, as the handler always read them.
    expect(config.delays).toEqual({ allocSeconds: 70, setupSeconds: 5 });
    expect(config.signingLeadSeconds).toBe(3);
    expect(config.bounds.maxPricePerMi).toBe(10n ** 27n);
    expect(config.bounds.maxReplicas).toBe(4);
    expect(config.cadence).toEqual({ intervalMs: 250, periodMs: 120_000, marginMs: 8000 });
    expect(config.pulsar.offersTopic).toBe("persistent://t/n/offers");
    expect(config.tables.prefix).toBe("m1-");
  });

  it("takes the market's channel layout, checked as Pulsar names", () => {
    const config = parseConfig({
      ...allocatorEnv,
      SURPLUS_PULSAR_TENANT: "city",
      SURPLUS_PULSAR_NAMESPACE: "m-1",
    });

    expect(config.pulsar).toMatchObject({ tenant: "city", namespace: "m-1" });
    expect(problems({ ...allocatorEnv, SURPLUS_PULSAR_TENANT: "city/evil" })).toEqual([
      "SURPLUS_PULSAR_TENANT: expected a Pulsar name (letters, digits, _ . -), got 'city/evil'",
    ]);
  });

  it("names the variable and what is wrong with it instead of reading NaN", () => {
    expect(problems({ ...allocatorEnv, SURPLUS_ALLOC_SECONDS: "abc" })).toEqual([
      "SURPLUS_ALLOC_SECONDS: expected a positive integer, got 'abc'",
    ]);
    expect(problems({ ...allocatorEnv, SURPLUS_ALLOC_SECONDS: "0" })).toEqual([
      "SURPLUS_ALLOC_SECONDS: expected a positive integer, got '0'",
    ]);
    expect(problems({ ...allocatorEnv, SURPLUS_SETUP_SECONDS: "-1" })).toEqual([
      "SURPLUS_SETUP_SECONDS: expected a non-negative integer, got '-1'",
    ]);
    expect(problems({ ...allocatorEnv, SURPLUS_ROUND_INTERVAL_MS: "1e3" })).toEqual([
      "SURPLUS_ROUND_INTERVAL_MS: expected a positive integer, got '1e3'",
    ]);
    expect(problems({ ...allocatorEnv, SURPLUS_MAX_PRICE_PER_MI: "1.5" })).toEqual([
      "SURPLUS_MAX_PRICE_PER_MI: expected a positive integer, got '1.5'",
    ]);
    expect(problems({ ...allocatorEnv, SURPLUS_MARKET_ADDRESS: "0x1234" })).toEqual([
      "SURPLUS_MARKET_ADDRESS: expected a 0x-prefixed 20-byte address, got '0x1234'",
    ]);
    expect(problems({ ...allocatorEnv, SURPLUS_CHAIN_RPC_URL: "localhost 8545" })).toEqual([
      "SURPLUS_CHAIN_RPC_URL: expected a URL, got 'localhost 8545'",
    ]);
  });

  it("lists every problem at once, the missing variables by role", () => {
    expect(problems({ SURPLUS_ALLOC_SECONDS: "x" })).toEqual([
      "SURPLUS_ALLOC_SECONDS: expected a positive integer, got 'x'",
      "SURPLUS_CHAIN_RPC_URL: required by the allocator, not set",
      "SURPLUS_MARKET_ADDRESS: required by the allocator, not set",
      "SURPLUS_CHAIN_ID: required by the allocator, not set",
      "SURPLUS_PULSAR_URL: required by the allocator, not set",
      "SURPLUS_SIGNER_SECRET_ARN: required by the allocator (or SURPLUS_ALLOCATOR_KEY locally), not set",
    ]);
    // The bridge signs nothing: no chain id, no key.
    const { SURPLUS_CHAIN_ID, SURPLUS_ALLOCATOR_KEY, ...bridgeEnv } = allocatorEnv;
    expect(parseConfig(bridgeEnv, "verifier-bridge").chain.market).toBe(allocatorEnv.SURPLUS_MARKET_ADDRESS);
    expect(problems({ ...bridgeEnv, SURPLUS_PULSAR_URL: "" }, "verifier-bridge")).toEqual([
      "SURPLUS_PULSAR_URL: required by the verifier-bridge, not set",
    ]);
  });

  it("never shows a malformed private key", () => {
    const secret = "deadbeef".repeat(7);
    const [problem] = problems({ ...allocatorEnv, SURPLUS_ALLOCATOR_KEY: secret });

    expect(problem).toBe("SURPLUS_ALLOCATOR_KEY: expected a 32-byte hex private key (value not shown)");
    expect(problem).not.toContain(secret);
  });
});
