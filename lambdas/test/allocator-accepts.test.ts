import { acceptRoundCases } from "./support/accept-round-cases.ts";
import { idOf } from "./support/accept-scenario.ts";
import { MemoryAcceptRegistry } from "./support/memory-accept-registry.ts";

acceptRoundCases(async (allocations) => {
  const registry = new MemoryAcceptRegistry();
  for (const a of allocations) registry.add(idOf(a), a);
  return registry;
});
