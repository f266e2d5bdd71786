// Table 4 enforced by the broker itself: every (channel, party, produce/consume) cell of a
// provisioned allocation is tried over the WebSocket API with that party's own token, and the
// broker must allow exactly the granted ones; grants disappear when the allocation is revoked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AllocationChannels,
  type AllocationParties,
  admitParticipant,
  allocationGrants,
  allocationTopics,
  allowedActions,
  inputSubscription,
  MAX_MARKET_MESSAGE_BYTES,
  type MessageBus,
  marketChannels,
  mintParticipantToken,
  ownSubscription,
  PulsarAdmin,
  PulsarAuthenticationError,
  PulsarAuthorizationError,
  type PulsarError,
  provisionAllocationChannels,
  provisionMarket,
  revokeAllocationChannels,
} from "../src/pulsar/index.ts";
import { broker, busAs, randomAddress, str, text } from "./pulsar-support.ts";

const parties: AllocationParties = {
  allocationId: `t4-${Date.now().toString(36)}`,
  customer: randomAddress(),
  suppliers: [randomAddress(), randomAddress()],
  mediator: randomAddress(),
  allocator: randomAddress(),
};
const [s1, s2] = parties.suppliers as [`0x${string}`, `0x${string}`];
/** A Supplier of some other allocation. */
const outsider = randomAddress();
const roles = {
  customer: parties.customer,
  "supplier 1": s1,
  "supplier 2": s2,
  mediator: parties.mediator,
  allocator: parties.allocator,
  outsider,
} as Record<string, `0x${string}`>;

const buses = new Map<string, MessageBus>();
let channels: AllocationChannels;
let probe = 0;

async function can(
  who: string,
  op: "produce" | "consume" | "consume-as",
  topic: string,
  subscription?: string,
): Promise<boolean> {
  const bus = buses.get(who) as MessageBus;
  try {
    const link =
      op === "produce"
        ? await bus.createProducer(topic, { sendTimeoutMs: 5_000 })
        : await bus.subscribe(topic, subscription ?? ownSubscription(roles[who]!, `probe-${probe++}`));
    await link.close();
    return true;
  } catch (error) {
    if (error instanceof PulsarAuthorizationError) return false;
    throw error;
  }
}

beforeAll(async () => {
  const { admin } = broker();
  await provisionMarket(admin);
  for (const [kind, address] of [
    ["customer", parties.customer],
    ["supplier", s1],
    ["supplier", s2],
    ["mediator", parties.mediator],
    ["allocator", parties.allocator],
    ["supplier", outsider],
  ] as const) {
    await admitParticipant(admin, { address, kind });
  }
  channels = await provisionAllocationChannels(admin, parties);
  for (const [name, address] of Object.entries(roles)) buses.set(name, await busAs(address));
});

afterAll(async () => {
  for (const bus of buses.values()) await bus.close();
});

describe("the broker enforces Table 4 on an allocation's private channels", () => {
  it("allows exactly the granted produce/consume cells, for every channel and party", async () => {
    const grants = allocationGrants(parties);
    const mismatches: string[] = [];
    let checked = 0;
    for (const topic of allocationTopics(channels)) {
      for (const [who, address] of Object.entries(roles)) {
        for (const op of ["produce", "consume"] as const) {
          const expected = allowedActions(grants, topic, address).includes(op);
          const actual = await can(who, op, topic);
          checked++;
          if (actual !== expected)
            mismatches.push(`${who} ${op} ${topic}: broker ${actual}, table ${expected}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(6 * 6 * 2);
  });

  it("refuses a Supplier publishing on another Supplier's output channel", async () => {
    await expect(can("supplier 2", "produce", channels.outputs[s1] as string)).resolves.toBe(false);
    await expect(can("supplier 1", "produce", channels.outputs[s1] as string)).resolves.toBe(true);
  });

  it("refuses a Supplier of another allocation reading the private input channel", async () => {
    await expect(can("outsider", "consume", channels.input)).resolves.toBe(false);
    await expect(can("supplier 1", "produce", channels.input)).resolves.toBe(false);
  });

  it("refuses an unauthenticated client on every channel", async () => {
    const anonymous = await busAs("anonymous");
    await expect(anonymous.createProducer(channels.input)).rejects.toBeInstanceOf(PulsarAuthenticationError);
    await expect(anonymous.subscribe(marketChannels().offers, "anon")).rejects.toBeInstanceOf(
      PulsarAuthenticationError,
    );
    await anonymous.close();
  });

  it("carries the Customer's input to a Supplier and the Supplier's output back", async () => {
    const customer = buses.get("customer") as MessageBus;
    const supplier = buses.get("supplier 1") as MessageBus;
    const inbound = await supplier.subscribe(channels.input, "work", { initialPosition: "Earliest" });
    const outbound = await customer.subscribe(channels.outputs[s1] as string, "results", {
      initialPosition: "Earliest",
    });
    await (await customer.createProducer(channels.input)).send({ payload: text("2+2") });
    const job = await inbound.receive(10_000);
    await (await supplier.createProducer(channels.outputs[s1] as string)).send({ payload: text("4") });
    await inbound.ack(job);
    expect(new TextDecoder().decode((await outbound.receive(10_000)).payload)).toBe("4");
  });

  it("lets every participant read the offers, but only the Allocator publish allocations", async () => {
    const m = marketChannels();
    await expect(can("supplier 1", "produce", m.offers)).resolves.toBe(true);
    await expect(can("mediator", "consume", m.offers)).resolves.toBe(true);
    await expect(can("supplier 1", "produce", m.allocations)).resolves.toBe(false);
    await expect(can("allocator", "produce", m.allocations)).resolves.toBe(true);
  });
});

describe("subscriptions belong to their owner (issue 16)", () => {
  /** The admin REST API as a participant: what its consume grant lets it do to subscriptions. */
  const adminAs = async (address: `0x${string}`) =>
    new PulsarAdmin({ url: broker().webUrl, token: await mintParticipantToken(broker().secret, address) });
  const denied = (e: unknown) =>
    e instanceof PulsarAuthorizationError || e instanceof PulsarAuthenticationError
      ? `denied: ${(e as PulsarError).message}`
      : `failed otherwise: ${String(e)}`;
  const attempt = (op: Promise<unknown>) => op.then(() => "allowed", denied);

  it("denies a Supplier peek, skip, reset and delete on the Customer's durable subscription", async () => {
    const m = marketChannels();
    const mine = ownSubscription(parties.customer, "agent");
    const customer = buses.get("customer") as MessageBus;
    await (await customer.subscribe(m.allocations, mine, { initialPosition: "Latest" })).close();
    const producer = await (buses.get("allocator") as MessageBus).createProducer(m.allocations);
    for (const n of [1, 2, 3]) await producer.send({ payload: text(`allocation ${n}`) });
    await producer.close();
    const supplier = await adminAs(s1);

    const tried = {
      peek: await attempt(supplier.peekMessage(m.allocations, mine)),
      skip: await attempt(supplier.skipAllMessages(m.allocations, mine)),
      reset: await attempt(supplier.resetCursor(m.allocations, mine, Date.now())),
      delete: await attempt(supplier.deleteSubscription(m.allocations, mine)),
      consume: (await can("supplier 1", "consume-as", m.allocations, mine)) ? "allowed" : "denied",
    };

    for (const [op, outcome] of Object.entries(tried))
      expect(`${op}: ${outcome}`).toMatch(new RegExp(`^${op}: denied`));
    // The Customer's backlog is intact, and the Customer itself may look at it.
    const own = await adminAs(parties.customer as `0x${string}`);
    expect(str(await own.peekMessage(m.allocations, mine))).toBe("allocation 1");
    const stats = (await broker().admin.topicStats(m.allocations)) as {
      subscriptions: Record<string, { msgBacklog: number }>;
    };
    expect(stats.subscriptions[mine]?.msgBacklog).toBe(3);
  });

  it("denies a Supplier peek, skip, reset, delete and consume on another Supplier's input subscription", async () => {
    // The input channel is consumed by every Supplier of the allocation: without a subscription
    // grant, Supplier 1 could empty Supplier 2's backlog, which then fails its hidden tests.
    const theirs = inputSubscription(s2);
    const victim = buses.get("supplier 2") as MessageBus;
    await (await victim.subscribe(channels.input, theirs, { initialPosition: "Latest" })).close();
    const before = Date.now();
    const producer = await (buses.get("customer") as MessageBus).createProducer(channels.input);
    for (const n of [1, 2, 3]) await producer.send({ payload: text(`input ${n}`) });
    await producer.close();
    const rival = await adminAs(s1);

    const tried = {
      peek: await attempt(rival.peekMessage(channels.input, theirs)),
      skip: await attempt(rival.skipAllMessages(channels.input, theirs)),
      reset: await attempt(rival.resetCursor(channels.input, theirs, Date.now())),
      delete: await attempt(rival.deleteSubscription(channels.input, theirs)),
      consume: (await can("supplier 1", "consume-as", channels.input, theirs)) ? "allowed" : "denied",
    };

    for (const [op, outcome] of Object.entries(tried))
      expect(`${op}: ${outcome}`).toMatch(new RegExp(`^${op}: denied`));
    expect(await broker().admin.subscriptionPermissions(channels.namespace)).toEqual({
      [inputSubscription(s1)]: [s1.toLowerCase()],
      [inputSubscription(s2)]: [s2.toLowerCase()],
    });
    const backlog = async () =>
      (
        (await broker().admin.topicStats(channels.input)) as {
          subscriptions: Record<string, { msgBacklog: number }>;
        }
      ).subscriptions[theirs]?.msgBacklog;
    expect(await backlog()).toBe(3);
    // The owner's own operations still work: peek, skip, reset back, delete.
    const owner = await adminAs(s2);
    expect(str(await owner.peekMessage(channels.input, theirs))).toBe("input 1");
    await owner.skipAllMessages(channels.input, theirs);
    expect(await backlog()).toBe(0);
    await owner.resetCursor(channels.input, theirs, before);
    expect(await backlog()).toBe(3);
    await owner.deleteSubscription(channels.input, theirs);
    expect(await backlog()).toBeUndefined();
    // And it consumes on it over the WebSocket API, as the edge Supplier does.
    await expect(can("supplier 2", "consume-as", channels.input, theirs)).resolves.toBe(true);
  });

  it("lets the Customer skip, reset and delete its own durable subscription", async () => {
    const m = marketChannels();
    const mine = ownSubscription(parties.customer, "agent");
    const customer = buses.get("customer") as MessageBus;
    await (await customer.subscribe(m.allocations, mine, { initialPosition: "Latest" })).close();
    const own = await adminAs(parties.customer as `0x${string}`);
    await own.skipAllMessages(m.allocations, mine);
    await own.resetCursor(m.allocations, mine, Date.now());
    await own.deleteSubscription(m.allocations, mine);
    expect(await broker().admin.subscriptions(m.allocations)).not.toContain(mine);
  });

  it("refuses messages over 64 KiB on the public channels at the broker", async () => {
    const m = marketChannels();
    const producer = await (buses.get("supplier 1") as MessageBus).createProducer(m.offers, {
      sendTimeoutMs: 10_000,
    });
    await expect(
      producer.send({ payload: new Uint8Array(MAX_MARKET_MESSAGE_BYTES + 1024) }),
    ).rejects.toThrow();
    await producer.send({ payload: new Uint8Array(4_096) });
    await producer.close();
  });

  it("lets each party consume on its own subscription of every public channel, and only its own", async () => {
    const m = marketChannels();
    for (const topic of [m.offers, m.allocations, m.accept]) {
      await expect(can("supplier 2", "consume-as", topic, ownSubscription(s2, "agent"))).resolves.toBe(true);
      await expect(can("supplier 2", "consume-as", topic, ownSubscription(s1, "agent"))).resolves.toBe(false);
    }
  });
});

describe("closing the allocation", () => {
  it("revokes every grant: former parties are refused afterwards", async () => {
    await revokeAllocationChannels(broker().admin, parties);
    const after = await Promise.all([
      can("customer", "produce", channels.input),
      can("supplier 1", "consume", channels.input),
      can("supplier 1", "produce", channels.outputs[s1] as string),
      can("mediator", "produce", channels.mediation),
      can("allocator", "produce", channels.cleanup),
    ]);
    expect(after).toEqual([false, false, false, false, false]);
    // The Suppliers' input-subscription grants go too.
    expect(await broker().admin.subscriptionPermissions(channels.namespace)).toEqual({});
  });
});
