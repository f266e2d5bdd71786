import { lapseReleaseCases } from "./support/lapse-release-cases.ts";
import { MemoryAcceptRegistry } from "./support/memory-accept-registry.ts";
import { MemoryAllocatorRegistry } from "./support/memory-allocator-registry.ts";

lapseReleaseCases(async () => {
  const offers = new MemoryAllocatorRegistry();
  return { offers, accepts: new MemoryAcceptRegistry(offers) };
});
