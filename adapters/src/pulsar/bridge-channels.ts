// The verifier-bridge's Pulsar side (the operator's ports Announcer and ChannelProvisioner, which
// these classes fit by shape): announcements on the allocations channel, and the per-allocation
// channels with Table 4's grants (channels.ts).
import { type Allocation, type AllocationState, type Bytes32, toWire } from "@surplus/core";
import type { PulsarAdmin } from "./admin.ts";
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  provisionAllocationChannels,
  revokeAllocationChannels,
} from "./channels.ts";
import type { MessageBus, Producer } from "./ports.ts";

/** The body of an `AllocationStateChanged` message on the allocations channel. */
export interface AllocationStateChange {
  readonly allocationId: Bytes32;
  readonly event: string;
  readonly state?: AllocationState;
  readonly blockNumber: number;
  readonly transactionHash: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** Announces state changes as JSON on the allocations channel, with `dedupKey` as a property. */
export class PulsarAnnouncer {
  readonly #bus: MessageBus;
  readonly #topic: string;
  #producer: Promise<Producer> | undefined;

  constructor(bus: MessageBus, topic: string) {
    this.#bus = bus;
    this.#topic = topic;
  }

  async announce(announcement: AllocationStateChange, dedupKey: string): Promise<void> {
    this.#producer ??= this.#bus.createProducer(this.#topic, { producerName: "verifier-bridge" });
    const producer = await this.#producer;
    await producer.send({
      payload: new TextEncoder().encode(toWire({ type: "AllocationStateChanged", ...announcement })),
      properties: { type: "AllocationStateChanged", dedupKey, allocationId: announcement.allocationId },
      key: announcement.allocationId,
    });
  }
}

/** Provisions and revokes an allocation's private channels as the super-user. */
export class PulsarChannelProvisioner {
  readonly #admin: PulsarAdmin;
  readonly #layout: ChannelLayout;
  constructor(admin: PulsarAdmin, layout: ChannelLayout = DEFAULT_LAYOUT) {
    this.#admin = admin;
    this.#layout = layout;
  }
  async provision(allocationId: Bytes32, terms: Allocation): Promise<void> {
    await provisionAllocationChannels(this.#admin, { allocationId, ...parties(terms) }, this.#layout);
  }
  async revoke(allocationId: Bytes32, terms: Allocation): Promise<void> {
    await revokeAllocationChannels(this.#admin, { allocationId, ...parties(terms) }, {}, this.#layout);
  }
}

function parties(t: Allocation) {
  return { customer: t.customer, suppliers: t.suppliers, mediator: t.mediator, allocator: t.allocator };
}
