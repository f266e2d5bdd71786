// The verifier-bridge keeps reputation (issue 17): at each AllocationClosed it folds the
// allocation's history into every party's record, once per allocation even when a run is retried.
import type {
  Address,
  AppliedEvent,
  Bytes32,
  CloseRecord,
  Reputation,
  ReputationLedger,
} from "@surplus/core";
import { emptyReputation, withClose } from "@surplus/core";
import { describe, expect, it } from "vitest";
import type { MarketEvent } from "../src/ports.ts";
import { type BridgeDeps, runBridge } from "../src/verifier-bridge/bridge.ts";
import { MemoryBridgeRegistry } from "./support/memory-registry.ts";

const id = `0x${"aa".repeat(32)}` as Bytes32;
const honest = "0x00000000000000000000000000000000000000a1" as Address;
const cheat = "0x00000000000000000000000000000000000000a2" as Address;
const customer = "0x00000000000000000000000000000000000000c1" as Address;
const mediator = "0x00000000000000000000000000000000000000d1" as Address;
const terms = { customer, mediator, suppliers: [honest, cheat] } as never;

let log = 0;
const ev = (name: string, blockNumber: number, args: Record<string, unknown>): MarketEvent => ({
  name,
  allocationId: id,
  args,
  blockNumber,
  logIndex: log++,
  transactionHash: `0x${blockNumber.toString(16).padStart(64, "0")}`,
  timestamp: 1_000 + blockNumber,
});
const CHAIN = [
  ev("AllocationOpened", 1, {}),
  ev("AllocationSigned", 1, { suppliers: 3n, customer: true, mediator: true }),
  ev("AllocationRunning", 2, { suppliers: 3n }),
  ev("AllocationSettled", 3, { matched: 1n }),
  ev("MediationRequested", 3, { suppliers: 2n, disputed: 2n }),
  ev("AllocationMediated", 4, { faultySuppliers: 2n, customerAtFault: false }),
  ev("AllocationClosed", 4, { reason: 1n }),
];

class MemoryLedger implements ReputationLedger {
  readonly book = new Map<Address, Reputation>();
  async recordClose(account: Address, close: CloseRecord) {
    this.book.set(account, withClose(this.book.get(account) ?? emptyReputation(account), close));
  }
  async reputations() {
    return this.book;
  }
}

function world() {
  const registry = new MemoryBridgeRegistry(() => terms);
  const history: AppliedEvent[] = [];
  const apply = registry.applyEvent.bind(registry);
  registry.applyEvent = async (a: AppliedEvent) => {
    const fresh = await apply(a);
    if (fresh) history.push(a);
    return fresh;
  };
  const ledger = new MemoryLedger();
  const deps: BridgeDeps = {
    chain: {
      headBlock: async () => 10,
      events: async (from, to) => CHAIN.filter((e) => e.blockNumber >= from && e.blockNumber <= to),
    },
    registry,
    announcer: { announce: async () => undefined },
    channels: { provision: async () => undefined, revoke: async () => undefined },
    reputation: {
      ledger,
      historyOf: async (allocationId) => history.filter((h) => h.allocationId === allocationId),
    },
  };
  return { deps, registry, ledger };
}

describe("verifier-bridge reputation", () => {
  it("records each party's close: the cheater lost a mediation, the honest Supplier passed", async () => {
    const w = world();
    await runBridge(w.deps, { confirmations: 0 });
    expect(w.ledger.book.get(honest)).toMatchObject({
      allocationsRun: 1,
      testsPassed: 1,
      testsFailed: 0,
      mediationsLost: 0,
    });
    expect(w.ledger.book.get(cheat)).toMatchObject({
      allocationsRun: 1,
      testsPassed: 0,
      testsFailed: 1,
      mediationsLost: 1,
      disputes: 1,
    });
    expect(w.ledger.book.get(customer)).toMatchObject({ disputes: 1, disputesLost: 0 });
  });

  it("counts the close once when a run is replayed from an older cursor", async () => {
    const w = world();
    await runBridge(w.deps, { confirmations: 0 });
    await w.registry.advanceCursor("verifier-bridge", 10, 0); // as if the cursor write had been lost
    const replay = await runBridge(w.deps, { confirmations: 0 });
    expect(replay).toMatchObject({ events: CHAIN.length, duplicates: CHAIN.length });
    expect(w.ledger.book.get(cheat)).toMatchObject({ allocationsRun: 1, mediationsLost: 1 });
  });
});
