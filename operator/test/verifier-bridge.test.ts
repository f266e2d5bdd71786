import type { Allocation, Bytes32 } from "@surplus/core";
import { describe, expect, it } from "vitest";
import type { MarketEvent } from "../src/ports.ts";
import { type BridgeDeps, runBridge } from "../src/verifier-bridge/bridge.ts";
import { MemoryBridgeRegistry } from "./support/memory-registry.ts";

const idA = `0x${"aa".repeat(32)}` as Bytes32;
const idB = `0x${"bb".repeat(32)}` as Bytes32;
const foreign = `0x${"cc".repeat(32)}` as Bytes32;
const terms = { nonce: 1n } as unknown as Allocation;

const ev = (
  name: string,
  allocationId: Bytes32 | undefined,
  blockNumber: number,
  logIndex = 0,
): MarketEvent => ({
  name,
  ...(allocationId ? { allocationId } : {}),
  args: {},
  blockNumber,
  logIndex,
  transactionHash: `0x${blockNumber.toString(16).padStart(64, "0")}`,
  timestamp: 1_000 + blockNumber,
});

const CHAIN: MarketEvent[] = [
  ev("Deposited", undefined, 1),
  ev("AllocationOpened", idA, 2),
  ev("AllocationRunning", idA, 2, 1),
  ev("AllocationOpened", idB, 3),
  ev("AllocationOpened", foreign, 3, 1),
  ev("AllocationSettled", idA, 5),
  ev("AllocationClosed", idA, 5, 1),
  ev("MediationRequested", idB, 7),
];

function world(head: number) {
  const registry = new MemoryBridgeRegistry((id) => (id === foreign ? undefined : terms));
  const announced: Array<{ event: string; key: string }> = [];
  const provisioned: string[] = [];
  const chain = { head };
  const deps: BridgeDeps = {
    chain: {
      headBlock: async () => chain.head,
      events: async (from, to) => CHAIN.filter((e) => e.blockNumber >= from && e.blockNumber <= to),
    },
    registry,
    announcer: { announce: async (a, key) => void announced.push({ event: a.event, key }) },
    channels: {
      provision: async (id) => void provisioned.push(`+${id.slice(0, 4)}`),
      revoke: async (id) => void provisioned.push(`-${id.slice(0, 4)}`),
    },
  };
  return { deps, registry, announced, provisioned, chain };
}

describe("verifier-bridge", () => {
  it("mirrors each allocation's state, provisions channels on open and revokes them on close", async () => {
    const w = world(10);
    const r = await runBridge(w.deps, { confirmations: 2 });
    expect(r).toMatchObject({
      fromBlock: 0,
      toBlock: 8,
      events: 8,
      applied: 6,
      duplicates: 0,
      unknown: 1,
      lostRace: false,
    });
    expect(w.registry.states.get(idA)).toBe("Closed");
    expect(w.registry.states.get(idB)).toBe("MediationRequested");
    expect(w.provisioned).toEqual(["+0xaa", "+0xbb", "-0xaa"]);
  });

  it("leaves blocks within the confirmation depth for a later run", async () => {
    const w = world(6);
    await runBridge(w.deps, { confirmations: 2 });
    expect(w.registry.states.get(idB)).toBe("Signing");
    w.chain.head = 9;
    const second = await runBridge(w.deps, { confirmations: 2 });
    expect(second.fromBlock).toBe(5);
    expect(w.registry.states.get(idB)).toBe("MediationRequested");
  });

  it("applies nothing twice when a run crashes before moving its cursor and is retried", async () => {
    const w = world(10);
    w.registry.crashBeforeCursor = true;
    await expect(runBridge(w.deps)).rejects.toThrow("crashed");
    const retry = await runBridge(w.deps);
    expect(retry).toMatchObject({ applied: 0, duplicates: 6 });
    expect(w.registry.applied.size).toBe(6);
    // Side effects were repeated, which is safe: repeated announcements carry the same dedup key.
    const keys = w.announced.map((a) => a.key);
    expect(keys.length).toBe(12);
    expect(new Set(keys).size).toBe(6);
  });

  it("lets one of two concurrent runs win and applies every event once", async () => {
    const w = world(10);
    const [a, b] = await Promise.all([runBridge(w.deps), runBridge(w.deps)]);
    expect([a.lostRace, b.lostRace].sort()).toEqual([false, true]);
    expect(a.applied + b.applied).toBe(6);
    expect(w.registry.applied.size).toBe(6);
  });
});
