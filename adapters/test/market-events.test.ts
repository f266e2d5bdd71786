// The chain reader against the real contract on an in-process Hardhat network: a full r=1
// allocation, decoded and mirrored by the verifier-bridge use case.

import {
  as,
  createNetwork,
  deployFunded,
  makeAllocation,
  openRunning,
  results,
  settleArgs,
  testAllocation,
  toEnd,
} from "@surplus/contracts/test-support";
import type { Allocation } from "@surplus/core";
import { runBridge } from "@surplus/operator";
import { MemoryBridgeRegistry } from "@surplus/operator/test-support/memory-registry";
import { beforeAll, describe, expect, it } from "vitest";
import { MarketEventReader } from "../src/chain/index.ts";

let reader: MarketEventReader;
let registry: MemoryBridgeRegistry;
let allocationId: string;

beforeAll(async () => {
  const net = await createNetwork();
  const m = await deployFunded(net);
  const a = await makeAllocation(m, { replicas: 1 });
  const d = testAllocation(m, a);
  allocationId = d.id;
  await openRunning(m, d);
  await toEnd(m, d);
  // Only the Customer settles (with its dispute mask: none here).
  await (
    await as(m, m.parties.customer).getFunction("settle")(
      ...settleArgs(d, d.outputs.gamma, await results(m, d)),
    )
  ).wait();
  reader = new MarketEventReader(net.ethers.provider, await m.market.getAddress());
  const known = new Map<string, Allocation>([[d.id.toLowerCase(), a]]);
  registry = new MemoryBridgeRegistry((id) => known.get(id));
}, 120_000);

describe("MarketEventReader", () => {
  it("decodes the market's events in chain order, with their allocation and arguments", async () => {
    const events = await reader.events(0, await reader.headBlock());
    const ours = events.filter((e) => e.allocationId === allocationId.toLowerCase()).map((e) => e.name);
    // State changes in order (the contract may also log AllocationSigned for signatures taken at open).
    expect(ours.filter((n) => n !== "AllocationSigned")).toEqual([
      "AllocationOpened",
      "AllocationRunning",
      "AllocationSettled",
      "AllocationClosed",
    ]);
    const closed = events.find((e) => e.name === "AllocationClosed")!;
    expect(closed.args.reason).toBe(0);
    expect(Array.isArray(closed.args.supplierPayouts)).toBe(true);
    expect(events.some((e) => e.name === "Deposited" && e.allocationId === undefined)).toBe(true);
    expect(closed.timestamp).toBeGreaterThan(0);
  });

  it("feeds the verifier-bridge, which mirrors the allocation to Closed", async () => {
    const announced: string[] = [];
    const result = await runBridge(
      {
        chain: reader,
        registry,
        announcer: { announce: async (a) => void announced.push(`${a.event}:${a.state ?? ""}`) },
        channels: { provision: async () => undefined, revoke: async () => undefined },
      },
      { confirmations: 0 },
    );
    const ours = (await reader.events(0, await reader.headBlock())).filter(
      (e) => e.allocationId === allocationId.toLowerCase(),
    );
    expect(result.applied).toBe(ours.length);
    expect(registry.states.get(allocationId.toLowerCase())).toBe("Closed");
    expect(announced.filter((a) => !a.startsWith("AllocationSigned"))).toEqual([
      "AllocationOpened:Signing",
      "AllocationRunning:Running",
      "AllocationSettled:",
      "AllocationClosed:Closed",
    ]);
  });
});
