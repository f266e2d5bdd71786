// The verifier-bridge's Pulsar side: announcements on the allocations channel, and the
// per-allocation channels with Table 4's grants (adapters/src/pulsar/channels.ts).
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  type MessageBus,
  type Producer,
  type PulsarAdmin,
  provisionAllocationChannels,
  revokeAllocationChannels,
} from "@surplus/adapters/pulsar";
import { type Allocation, type Bytes32, toWire } from "@surplus/core";
import type { Announcer, ChannelProvisioner, StateAnnouncement } from "./bridge.ts";

/** Announces state changes as JSON on the allocations channel, with `dedupKey` as a property. */
export class PulsarAnnouncer implements Announcer {
  readonly #bus: MessageBus;
  readonly #topic: string;
  #producer: Promise<Producer> | undefined;

  constructor(bus: MessageBus, topic: string) {
    this.#bus = bus;
    this.#topic = topic;
  }

  async announce(announcement: StateAnnouncement, dedupKey: string): Promise<void> {
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
export class PulsarChannelProvisioner implements ChannelProvisioner {
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
