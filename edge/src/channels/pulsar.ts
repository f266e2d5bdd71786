// The role agents' ports over the Pulsar channel layer (adapters/src/pulsar). Stream messages
// carry the raw bytes as payload and the input's sequence number as the `seq` property.
//
// Exactly-once outputs: the WebSocket producer numbers a session's messages
// initialSequenceId + 1, + 2, … and the broker drops ids it already stored. A Supplier publishes
// its outputs in input order, so opening its output producer with initialSequenceId = the first
// seq it has not recorded makes each output's id seq + 1: an output published just before a crash
// (and not yet recorded) is published again after the restart under the same id, and dropped.
import {
  type Consumer,
  type MessageBus,
  type Producer,
  PulsarTimeoutError,
  type ReceivedMessage,
} from "@surplus/adapters/pulsar";
import type {
  InputPublisher,
  InputSubscription,
  OutputPublisher,
  PublishedOutput,
  ReceivedInput,
} from "../ports.ts";

/** The `seq` property of a stream message; undefined when missing or malformed. */
export function seqOf(m: Pick<ReceivedMessage, "properties">): bigint | undefined {
  const raw = m.properties.seq;
  return raw !== undefined && /^\d{1,19}$/.test(raw) ? BigInt(raw) : undefined;
}

export interface PulsarInputSubscription extends InputSubscription {
  /** Stream messages without a valid `seq` property, acknowledged and dropped. */
  readonly malformed: number;
  close(): Promise<void>;
}

/** A Supplier's (or the Mediator's) durable subscription to the input channel. */
export async function subscribeInputs(
  bus: MessageBus,
  topic: string,
  subscription: string,
): Promise<PulsarInputSubscription> {
  const consumer: Consumer = await bus.subscribe(topic, subscription, {
    subscriptionType: "Exclusive",
    initialPosition: "Earliest",
    receiverQueueSize: 2000,
  });
  let malformed = 0;
  const next = async (waitMs: number): Promise<ReceivedMessage | undefined> => {
    try {
      return await consumer.receive(waitMs);
    } catch (error) {
      if (error instanceof PulsarTimeoutError) return undefined;
      throw error;
    }
  };
  return {
    get malformed() {
      return malformed;
    },
    async receive(max, waitMs) {
      const out: ReceivedInput[] = [];
      let m = await next(waitMs);
      while (m) {
        const message = m;
        const seq = seqOf(message);
        if (seq === undefined) {
          malformed++;
          await consumer.ack(message);
        } else {
          out.push({ seq, payload: message.payload, ack: () => consumer.ack(message) });
        }
        if (out.length >= max) break;
        m = await next(0);
      }
      return out;
    },
    close: () => consumer.close(),
  };
}

export interface PulsarOutputPublisher extends OutputPublisher {
  close(): Promise<void>;
}

/**
 * A Supplier's output channel. `nextSeq` is the first input whose output is not yet recorded;
 * outputs must then be published in input order (see the note at the top).
 */
export async function outputPublisher(
  bus: MessageBus,
  topic: string,
  producerName: string,
  nextSeq: bigint,
): Promise<PulsarOutputPublisher> {
  const producer: Producer = await bus.createProducer(topic, {
    producerName,
    initialSequenceId: Number(nextSeq),
    maxPendingMessages: 1000,
  });
  return {
    async publish(outputs: readonly PublishedOutput[]) {
      await Promise.all(
        outputs.map((o) =>
          producer.send({
            payload: o.payload,
            properties: o.error ? { seq: o.seq.toString(), error: o.error } : { seq: o.seq.toString() },
          }),
        ),
      );
    },
    close: () => producer.close(),
  };
}

export interface PulsarInputPublisher extends InputPublisher {
  close(): Promise<void>;
}

/**
 * The Customer's input channel, batched (a high-rate stream: one broker entry per `publish`
 * call instead of one per input). Deduplication holds per entry within one producer's life, so
 * sequence ids start above any earlier session's (the time-based default) rather than at the
 * first seq: an entry re-cut after a restart must never be taken for one stored before (that
 * would drop inputs). A Customer restarted between an entry's acknowledgement and saving its
 * progress therefore sends those inputs again; Suppliers and the Mediator take each seq once
 * (SupplierJob, readStream).
 */
export async function inputPublisher(
  bus: MessageBus,
  topic: string,
  producerName: string,
): Promise<PulsarInputPublisher> {
  const producer: Producer = await bus.createProducer(topic, {
    producerName,
    maxPendingMessages: 1000,
    batching: true,
  });
  return {
    async publish(inputs) {
      await Promise.all(
        inputs.map((i) =>
          producer.send({
            payload: i.payload,
            eventTime: i.eventTimeMs,
            properties: { seq: i.seq.toString() },
          }),
        ),
      );
    },
    close: () => producer.close(),
  };
}

/** Reads a retained stream topic from the start: the Mediator's view of inputs and outputs. */
export async function readStream(
  bus: MessageBus,
  topic: string,
  wanted: ReadonlySet<bigint>,
  idleMs = 1_000,
): Promise<Map<bigint, ReceivedMessage>> {
  const reader = await bus.createReader(topic, { startMessageId: "earliest" });
  const found = new Map<bigint, ReceivedMessage>();
  try {
    while (found.size < wanted.size) {
      let m: ReceivedMessage;
      try {
        m = await reader.readNext(idleMs);
      } catch (error) {
        if (error instanceof PulsarTimeoutError) break; // the end of what the topic holds
        throw error;
      }
      const seq = seqOf(m);
      if (seq !== undefined && wanted.has(seq) && !found.has(seq)) found.set(seq, m);
    }
  } finally {
    await reader.close();
  }
  return found;
}
