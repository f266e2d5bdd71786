// Each participant's offer-status channel (issue 17): `status-<address>` in the market's public
// namespace, granted like a Table 4 cell — the Allocator produces, the participant alone consumes
// (the broker enforces it: no other role holds a grant on the topic). The Allocator publishes
// every status it records there; the participant reads them with a Reader from the earliest
// message, the last one per offer being the current status.
import type { OfferStatus } from "@surplus/core";
import { toWire } from "@surplus/core";
import { AuthAction, type PulsarAdmin } from "./admin.ts";
import { participantRole } from "./auth.ts";
import { type ChannelLayout, DEFAULT_LAYOUT } from "./channels.ts";
import type { MessageBus, Producer } from "./ports.ts";
import { topicName } from "./topics.ts";

/** The status channel of `address`. */
export function statusChannel(address: string, layout: ChannelLayout = DEFAULT_LAYOUT): string {
  return topicName({
    persistent: true,
    tenant: layout.tenant,
    namespace: layout.publicNamespace,
    local: `status-${address.toLowerCase()}`,
  });
}

/** Creates `participant`'s status channel with its two grants (idempotent). */
export async function provisionStatusChannel(
  admin: PulsarAdmin,
  participant: string,
  allocator: string,
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Promise<string> {
  const topic = statusChannel(participant, layout);
  await admin.ensureTopic(topic);
  await admin.grantTopic(topic, participantRole(participant), [AuthAction.Consume]);
  await admin.grantTopic(topic, participantRole(allocator), [AuthAction.Produce]);
  return topic;
}

/** Publishes statuses on their senders' channels (one producer per channel, kept open). */
export class PulsarStatusPublisher {
  readonly #bus: MessageBus;
  readonly #layout: ChannelLayout;
  readonly #producers = new Map<string, Promise<Producer>>();

  constructor(bus: MessageBus, layout: ChannelLayout = DEFAULT_LAYOUT) {
    this.#bus = bus;
    this.#layout = layout;
  }

  async publish(statuses: readonly OfferStatus[]): Promise<void> {
    await Promise.all(
      statuses.map(async (s) => {
        const topic = statusChannel(s.account, this.#layout);
        let producer = this.#producers.get(topic);
        if (!producer) {
          producer = this.#bus.createProducer(topic);
          this.#producers.set(topic, producer);
          producer.catch(() => this.#producers.delete(topic));
        }
        await (await producer).send({
          payload: new TextEncoder().encode(toWire(s)),
          key: s.offerId,
          eventTime: s.updatedAtMs,
        });
      }),
    );
  }

  async close(): Promise<void> {
    for (const p of this.#producers.values()) await (await p.catch(() => undefined))?.close();
    this.#producers.clear();
  }
}

/** `address`'s offer statuses as its channel has them now: the last per offer. */
export async function readStatuses(
  bus: MessageBus,
  address: string,
  options: { layout?: ChannelLayout; idleMs?: number } = {},
): Promise<OfferStatus[]> {
  const reader = await bus.createReader(statusChannel(address, options.layout), {
    startMessageId: "earliest",
  });
  const latest = new Map<string, OfferStatus>();
  try {
    for (;;) {
      const m = await reader.readNext(options.idleMs ?? 1_000).catch(() => undefined);
      if (!m) break;
      const s = JSON.parse(new TextDecoder().decode(m.payload)) as OfferStatus;
      latest.set(s.offerId, s);
    }
  } finally {
    await reader.close();
  }
  return [...latest.values()];
}
