// What the market console shows (issue 17), read from a running local market: the registries
// (offer statuses, the bridge's mirror of each allocation, reputations) through the read model the
// deployed console shares (@surplus/adapters/console), plus what only a local run knows: balance
// changes since the start, gas per call, stage times and stream counters. Read-only.
import { type AllocationView, readMarket } from "@surplus/adapters/console";
import type { Address, Allocation, Bytes32, OfferStatus, Reputation } from "@surplus/core";
import type { LocalMarket } from "../market/harness.ts";

export interface ConsoleSnapshot {
  readonly at: number;
  readonly phase: "starting" | "running";
  readonly market?: string;
  readonly participants: Array<{
    name: string;
    kind: string;
    address: Address;
    balance: string;
    change?: string;
    reputation?: Reputation;
  }>;
  readonly balanceCheck?: { sum: string; ok: boolean };
  readonly offers: Array<OfferStatus & { name: string }>;
  readonly allocations: Array<AllocationView & { gas: Array<{ call: string; by: string; gas: string }> }>;
  /** Seconds between stages, per allocation (offer → allocated → accepted → running → closed). */
  readonly latencies: Array<{ allocation: Bytes32; stage: string; seconds: number }>;
  /** Inputs sent per second per allocation, sampled every second while the page is served. */
  readonly throughput: Array<{ at: number; allocation: Bytes32; perSecond: number }>;
}

/** Samples each allocation's stream counter every second, for the throughput plot. */
export class ThroughputSampler {
  readonly series: Array<{ at: number; allocation: Bytes32; perSecond: number }> = [];
  readonly #last = new Map<Bytes32, { at: number; sent: number }>();
  #timer: NodeJS.Timeout | undefined;

  start(market: () => LocalMarket | undefined): void {
    this.#timer = setInterval(() => {
      const m = market();
      if (!m) return;
      const now = Date.now();
      for (const c of m.customers)
        for (const d of c.agent.allocations.values()) {
          const sent = Number(d.state.nextSeq ?? 0);
          const last = this.#last.get(d.id as Bytes32);
          this.#last.set(d.id as Bytes32, { at: now, sent });
          if (last && sent > last.sent)
            this.series.push({
              at: now,
              allocation: d.id as Bytes32,
              perSecond: ((sent - last.sent) * 1000) / (now - last.at),
            });
        }
      if (this.series.length > 5_000) this.series.splice(0, this.series.length - 5_000);
    }, 1_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export async function snapshot(
  m: LocalMarket | undefined,
  sampler?: ThroughputSampler,
): Promise<ConsoleSnapshot> {
  const at = Date.now();
  if (!m?.offerStatuses)
    return {
      at,
      phase: "starting",
      participants: [],
      offers: [],
      allocations: [],
      latencies: [],
      throughput: [],
    };
  const nameOf = (a: string) =>
    m.participants.find((p) => p.address.toLowerCase() === a.toLowerCase())?.name ??
    (a.toLowerCase() === m.treasury?.toLowerCase() ? "treasury" : a);
  // The Customers' agents know every allocation of the run, including any no status names yet.
  const terms = new Map<Bytes32, Allocation>();
  for (const c of m.customers)
    for (const d of c.agent.allocations.values()) terms.set(d.id as Bytes32, d.allocation);
  const [view, changes] = await Promise.all([
    readMarket(
      {
        statuses: m.offerStatuses,
        reputations: m.reputations,
        mirror: m.bridgeRegistry,
        terms: async (id) => terms.get(id),
      },
      { nameOf, allocationIds: [...terms.keys()] },
    ),
    m.balanceChanges(),
  ]);
  let sum = 0n;
  const participants = changes.map((b) => {
    sum += b.change;
    const p = m.participants.find((x) => x.name === b.name);
    const address = (p?.address ?? m.treasury) as Address;
    const reputation = view.reputations.get(address.toLowerCase() as Address);
    return {
      name: b.name,
      kind: p?.kind ?? "treasury",
      address,
      balance: b.end.toString(),
      change: b.change.toString(),
      ...(reputation ? { reputation } : {}),
    };
  });

  const latencies: ConsoleSnapshot["latencies"] = [];
  for (const c of m.customers)
    for (const d of c.agent.allocations.values()) {
      const id = d.id as Bytes32;
      // Stage times from the run's log and the Allocator's open, as the terminal summary has them.
      const first = (event: string) =>
        m.events.find((e) => e.event === event && e.fields["allocation"] === id && e.who === c.p.name)?.at;
      const stages: Array<[string, number | undefined]> = [
        ["allocated", first("allocation.delivered")],
        ["opened", m.opened.get(id)],
        ["streaming", first("stream.started")],
        ["stream ended", first("stream.ended")],
        ["closed", first("allocation.closed")],
      ];
      for (let i = 1; i < stages.length; i++) {
        const [stage, t] = stages[i]!;
        const before = stages[i - 1]![1];
        if (t !== undefined && before !== undefined)
          latencies.push({
            allocation: id,
            stage: `${stages[i - 1]![0]} → ${stage}`,
            seconds: (t - before) / 1000,
          });
      }
    }

  return {
    at,
    phase: "running",
    market: m.deployed.marketAddress,
    participants,
    balanceCheck: { sum: sum.toString(), ok: sum === 0n },
    offers: view.offers,
    allocations: view.allocations.map((a) => ({
      ...a,
      gas: m.gas
        .filter((g) => g.allocation === a.id)
        .map((g) => ({ call: g.call, by: g.by, gas: g.gas.toString() })),
    })),
    latencies,
    throughput: sampler?.series ?? [],
  };
}
