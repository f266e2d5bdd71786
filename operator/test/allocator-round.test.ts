import { allocatorRoundCases } from "./support/allocator-round-cases.ts";
import { MemoryAllocatorRegistry } from "./support/memory-allocator-registry.ts";

allocatorRoundCases(async () => new MemoryAllocatorRegistry());
