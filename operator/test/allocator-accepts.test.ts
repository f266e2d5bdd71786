import { describe, expect, it } from "vitest";
import { runAcceptRound } from "../src/allocator/accept-round.ts";
import { acceptRoundCases } from "./support/accept-round-cases.ts";
import { allocation, everyAccept, idOf, MemoryMarket } from "./support/accept-scenario.ts";
import { allocatorWallet, domain, MemoryOfferSource, NOW_MS } from "./support/allocator-scenario.ts";
import { MemoryAcceptRegistry } from "./support/memory-accept-registry.ts";

acceptRoundCases(async (allocations) => {
  const registry = new MemoryAcceptRegistry();
  for (const a of allocations) registry.add(idOf(a), a);
  return registry;
});

describe("runAcceptRound when the registry fails", () => {
  it("fails the round before the cursor moves, and the next round records the accepts it missed", async () => {
    const a = allocation();
    const registry = new MemoryAcceptRegistry();
    registry.add(idOf(a), a);
    const source = new MemoryOfferSource();
    for (const m of await everyAccept(a)) source.append(m);
    const config = { domain, allocator: allocatorWallet.address as `0x${string}` };
    const recordAccept = registry.recordAccept.bind(registry);
    let calls = 0;
    registry.recordAccept = async (r) => {
      if (++calls === 2) throw new Error("ProvisionedThroughputExceededException");
      return recordAccept(r);
    };
    const market = new MemoryMarket();
    await expect(runAcceptRound({ source, registry, opener: market }, config, NOW_MS)).rejects.toThrow(
      /ProvisionedThroughput/,
    );
    expect(market.transactions).toHaveLength(0);
    const retry = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);
    expect(retry.rejected).toEqual([]);
    expect(market.transactions).toHaveLength(1);
  });
});
