// The market console's read model (issue 17), one for both consoles: the local one
// (`./surplus market`) and the deployed one (lambdas/console/handler.ts). It reads the registries
// (offer statuses, allocation terms, the bridge's mirror of each allocation, reputations) and the
// chain (free balances) through the ports it is given, and folds them into what the page shows.
// Read-only: nothing here writes.
import type { Address, Allocation, Bytes32, OfferStatus, Reputation } from "@surplus/core";

/** ISurplusMarket.CloseReason, as the page words it. */
const CLOSE_REASONS = ["settled", "mediated", "mediator timeout", "reveal timeout", "signing failed"];

export interface MarketReadSources {
  readonly statuses: { statuses(): Promise<OfferStatus[]> };
  readonly reputations: { reputations(): Promise<Map<Address, Reputation>> };
  /** The chain state and event history the verifier-bridge mirrored for an allocation. */
  readonly mirror: {
    chainStateOf(
      id: Bytes32,
    ): Promise<{ state?: string; history: Array<Record<string, unknown>> } | undefined>;
  };
  /** An allocation's terms as the Allocator recorded them. */
  readonly terms: (id: Bytes32) => Promise<Allocation | undefined>;
  /** Free balances in the market contract; absent: the view has none. */
  readonly balances?: { freeBalances(accounts: readonly Address[]): Promise<Map<Address, bigint>> };
}

export interface AllocationView {
  readonly id: Bytes32;
  readonly customer: string;
  readonly suppliers: string[];
  readonly mediator: string;
  readonly pricePerMi: string;
  readonly testCount: number;
  readonly state?: string;
  readonly timeline: Array<{ event: string; block: number; at: number; args: Record<string, unknown> }>;
  readonly verification?: string;
  readonly closeReason?: string;
  readonly payouts?: Record<string, string>;
}

export interface MarketView {
  readonly offers: Array<OfferStatus & { name: string }>;
  readonly allocations: AllocationView[];
  /** Every account seen in an offer or a reputation, with its reputation and free balance. */
  readonly accounts: Array<{ name: string; address: Address; reputation?: Reputation; balance?: string }>;
  /** Reputations by lower-cased address. */
  readonly reputations: Map<Address, Reputation>;
}

export interface ReadOptions {
  /** A display name for an account (the local market names its parties). @default the address */
  readonly nameOf?: (account: Address) => string;
  /** The allocations to show. @default every allocation an offer status names */
  readonly allocationIds?: readonly Bytes32[];
}

const bits = (mask: unknown, n: number) =>
  Array.from({ length: n }, (_, i) => ((Number(mask ?? 0) >> i) & 1) === 1);
const parse = (args: unknown): Record<string, unknown> =>
  typeof args === "string"
    ? (JSON.parse(args) as Record<string, unknown>)
    : ((args ?? {}) as Record<string, unknown>);

/** One allocation as the page shows it: terms, mirrored timeline, verification and payouts. */
export function allocationView(
  id: Bytes32,
  a: Allocation,
  mirrored: { state?: string; history: Array<Record<string, unknown>> } | undefined,
  nameOf: (account: Address) => string,
): AllocationView {
  const timeline = (mirrored?.history ?? []).map((h) => ({
    event: String(h["event"]),
    block: Number(h["blockNumber"]),
    at: Number(h["timestamp"]) * 1000,
    args: parse(h["args"]),
  }));
  const find = (name: string) => timeline.find((h) => h.event === name)?.args;
  const n = a.suppliers.length;
  const settled = find("AllocationSettled");
  const mediated = find("AllocationMediated");
  const closed = find("AllocationClosed");
  const verification = settled
    ? a.suppliers
        .map((s, i) => {
          const matched = bits(settled["matched"], n)[i];
          const faulty = mediated && bits(mediated["faultySuppliers"], n)[i];
          return `${nameOf(s)}: ${faulty ? "faulty (mediation)" : matched ? "seal matched γ_c" : "seal did not match"}`;
        })
        .join("; ")
    : undefined;
  const payouts: Record<string, string> = {};
  if (closed) {
    const supplierPayouts = (closed["supplierPayouts"] as unknown[] | undefined) ?? [];
    a.suppliers.forEach((s, i) => {
      payouts[nameOf(s)] = String(supplierPayouts[i] ?? "0");
    });
    payouts[nameOf(a.customer)] = String(closed["customerPayout"] ?? "0");
    payouts[nameOf(a.mediator)] = String(closed["mediatorPayout"] ?? "0");
    payouts["treasury"] = String(closed["treasuryPayout"] ?? "0");
  }
  return {
    id,
    customer: nameOf(a.customer),
    suppliers: a.suppliers.map(nameOf),
    mediator: nameOf(a.mediator),
    pricePerMi: a.pricePerMi.toString(),
    testCount: a.testCount,
    ...(mirrored?.state ? { state: mirrored.state } : {}),
    timeline,
    ...(verification ? { verification } : {}),
    ...(closed ? { closeReason: CLOSE_REASONS[Number(closed["reason"])] ?? "?", payouts } : {}),
  };
}

/** Reads the market's offers, allocations and accounts from the registries and the chain. */
export async function readMarket(src: MarketReadSources, options: ReadOptions = {}): Promise<MarketView> {
  const nameOf = options.nameOf ?? ((a: Address) => a);
  const [statuses, reputations] = await Promise.all([src.statuses.statuses(), src.reputations.reputations()]);
  const ids = options.allocationIds ?? [...new Set(statuses.flatMap((s) => s.allocations))].sort();
  const allocations = (
    await Promise.all(
      ids.map(async (id) => {
        const [terms, mirrored] = await Promise.all([src.terms(id), src.mirror.chainStateOf(id)]);
        return terms ? allocationView(id, terms, mirrored, nameOf) : undefined;
      }),
    )
  ).filter((a) => a !== undefined);
  const addresses = [
    ...new Set([...statuses.map((s) => s.account.toLowerCase()), ...reputations.keys()]),
  ].sort() as Address[];
  const balances = src.balances ? await src.balances.freeBalances(addresses) : undefined;
  return {
    offers: statuses.map((s) => ({ ...s, name: nameOf(s.account) })),
    allocations,
    accounts: addresses.map((address) => {
      const reputation = reputations.get(address);
      const balance = balances?.get(address);
      return {
        name: nameOf(address),
        address,
        ...(reputation ? { reputation } : {}),
        ...(balance === undefined ? {} : { balance: balance.toString() }),
      };
    }),
    reputations,
  };
}
