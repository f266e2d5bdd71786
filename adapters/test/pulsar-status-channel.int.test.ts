// A participant's offer-status channel (issue 17) on the real broker: the Allocator publishes,
// the participant reads its statuses (the last per offer), and neither another participant nor
// the participant itself can do what its grant does not allow.
import { type Address, type Bytes32, OfferState, type OfferStatus } from "@surplus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  type MessageBus,
  PulsarAuthorizationError,
  PulsarStatusPublisher,
  provisionMarket,
  provisionStatusChannel,
  readStatuses,
  statusChannel,
} from "../src/pulsar/index.ts";
import { broker, busAs, randomAddress } from "./pulsar-support.ts";

const layout: ChannelLayout = { ...DEFAULT_LAYOUT, tenant: `status-${Date.now().toString(36)}` };
const participant = randomAddress();
const other = randomAddress();
const allocator = randomAddress();
const buses: MessageBus[] = [];
const as = async (who: `0x${string}`) => {
  const bus = await busAs(who);
  buses.push(bus);
  return bus;
};

beforeAll(async () => {
  const { admin } = broker();
  await provisionMarket(admin, layout);
  await provisionStatusChannel(admin, participant, allocator, layout);
  await provisionStatusChannel(admin, other, allocator, layout);
});
afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
});

const status = (offer: number, state: OfferStatus["state"], reason?: string): OfferStatus => ({
  offerId: `0x${offer.toString(16).padStart(64, "0")}` as Bytes32,
  account: participant as Address,
  kind: "customer",
  state,
  ...(reason ? { reason } : {}),
  allocations: [],
  updatedAtMs: Date.now(),
});

describe("offer-status channel", () => {
  it("carries the Allocator's statuses to their participant, the last one per offer", async () => {
    const publisher = new PulsarStatusPublisher(await as(allocator), layout);
    await publisher.publish([status(1, OfferState.Open, "no Supplier under a Mediator it trusts")]);
    await publisher.publish([
      status(1, OfferState.Matched),
      status(2, OfferState.Rejected, "insufficient free balance"),
    ]);
    await publisher.close();

    const mine = await readStatuses(await as(participant), participant, { layout });
    expect(mine.map((s) => [s.state, s.reason ?? null]).sort()).toEqual([
      [OfferState.Matched, null],
      [OfferState.Rejected, "insufficient free balance"],
    ]);
  });

  it("is closed to every other participant, and the participant cannot write its own statuses", async () => {
    await expect(readStatuses(await as(other), participant, { layout })).rejects.toBeInstanceOf(
      PulsarAuthorizationError,
    );
    const forged = (await as(participant)).createProducer(statusChannel(participant, layout), {
      sendTimeoutMs: 5_000,
    });
    await expect(forged).rejects.toBeInstanceOf(PulsarAuthorizationError);
    await expect(
      new PulsarStatusPublisher(await as(other), layout).publish([status(3, OfferState.Matched)]),
    ).rejects.toBeInstanceOf(PulsarAuthorizationError);
  });
});
