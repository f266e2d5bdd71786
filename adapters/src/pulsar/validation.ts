// Validation of every received message, at the boundary. A ValidatingConsumer wraps a Consumer:
//   1. size:       payload ≤ maxPayloadBytes;
//   2. freshness:  the producer's event time is present and within [now − maxAgeMs, now + maxFutureSkewMs];
//   3. validator:  the caller's schema + signature check (core provides them), which also yields
//                  the typed value;
//   4. replay:     a message whose replay key (default: SHA-256 of the payload) was already accepted
//                  under another message id is a duplicate.
// A message failing any step is published to the dead-letter topic with the reason in its
// properties, acknowledged on the source (so it is not redelivered), and counted; the consumer
// carries on with the next message. Nothing a sender puts on the wire can stop it.
import { createHash } from "node:crypto";
import { PulsarClosedError } from "./errors.ts";
import { BoundedMap } from "./lru.ts";
import type { Consumer, Producer, ReceivedMessage } from "./ports.ts";

export type Validation<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** What a validator may look at besides the payload. */
export type MessageMeta = Omit<ReceivedMessage, "payload">;

/** Schema + signature check; returns the typed value or why the message is bad. May be async. */
export type Validator<T> = (payload: Uint8Array, meta: MessageMeta) => Validation<T> | Promise<Validation<T>>;

export const RejectionCode = {
  TooLarge: "too-large",
  MissingEventTime: "missing-event-time",
  Stale: "stale",
  FromTheFuture: "from-the-future",
  Invalid: "invalid",
  ValidatorFailed: "validator-failed",
  Duplicate: "duplicate",
} as const;
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

export interface ValidationPolicy {
  /** @default 262144 (256 KiB) */
  readonly maxPayloadBytes: number;
  /** Oldest acceptable event time, relative to now. @default 300000 (5 min) */
  readonly maxAgeMs: number;
  /** Newest acceptable event time, relative to now (clock skew). @default 30000 */
  readonly maxFutureSkewMs: number;
  /** Replay keys remembered. @default 100000 */
  readonly replayWindow: number;
}

export const DEFAULT_POLICY: ValidationPolicy = {
  maxPayloadBytes: 256 * 1024,
  maxAgeMs: 5 * 60_000,
  maxFutureSkewMs: 30_000,
  replayWindow: 100_000,
};

export interface Rejection {
  readonly code: RejectionCode;
  readonly reason: string;
}

/** Steps 1–2: pure checks of size and event time. */
export function checkEnvelope(
  message: Pick<ReceivedMessage, "payload" | "eventTime">,
  policy: ValidationPolicy,
  now: number,
): Rejection | undefined {
  if (message.payload.byteLength > policy.maxPayloadBytes) {
    return {
      code: RejectionCode.TooLarge,
      reason: `payload of ${message.payload.byteLength} bytes exceeds ${policy.maxPayloadBytes}`,
    };
  }
  if (message.eventTime === undefined) {
    return { code: RejectionCode.MissingEventTime, reason: "no event time: freshness cannot be checked" };
  }
  if (message.eventTime < now - policy.maxAgeMs) {
    return {
      code: RejectionCode.Stale,
      reason: `event time ${new Date(message.eventTime).toISOString()} is ${now - message.eventTime} ms old (max ${policy.maxAgeMs})`,
    };
  }
  if (message.eventTime > now + policy.maxFutureSkewMs) {
    return {
      code: RejectionCode.FromTheFuture,
      reason: `event time ${new Date(message.eventTime).toISOString()} is ${message.eventTime - now} ms ahead (max ${policy.maxFutureSkewMs})`,
    };
  }
  return undefined;
}

/** Properties of a dead-lettered message (besides the original ones). */
export const DeadLetterProperty = {
  Code: "surplus-dlq-code",
  Reason: "surplus-dlq-reason",
  SourceTopic: "surplus-dlq-source-topic",
  SourceMessageId: "surplus-dlq-source-message-id",
  RejectedAt: "surplus-dlq-rejected-at",
} as const;

export interface ValidatedMessage<T> {
  readonly value: T;
  readonly message: ReceivedMessage;
}

export interface ValidationStats {
  accepted: number;
  rejected: number;
  readonly byCode: Record<RejectionCode, number>;
  /** Dead-letter publishes that failed (the message was negatively acknowledged, to retry). */
  deadLetterFailures: number;
}

export interface ValidatingConsumerOptions<T> {
  readonly validator: Validator<T>;
  /** A producer on the dead-letter topic (`deadLetterTopicOf(topic)` for provisioned channels). */
  readonly deadLetter: Producer;
  readonly policy?: Partial<ValidationPolicy>;
  /** Replay key of an accepted message. @default SHA-256 of the payload */
  readonly replayKey?: (value: T, message: ReceivedMessage) => string;
  /** @default Date.now */
  readonly clock?: () => number;
  /** Called for every rejected message (logging, metrics); must not throw. */
  readonly onRejected?: (rejection: Rejection, message: ReceivedMessage) => void;
}

export class ValidatingConsumer<T> implements AsyncIterable<ValidatedMessage<T>> {
  readonly consumer: Consumer;
  readonly policy: ValidationPolicy;
  readonly stats: ValidationStats = {
    accepted: 0,
    rejected: 0,
    byCode: Object.fromEntries(Object.values(RejectionCode).map((c) => [c, 0])) as Record<
      RejectionCode,
      number
    >,
    deadLetterFailures: 0,
  };
  readonly #options: ValidatingConsumerOptions<T>;
  /** replay key → message id it was accepted under (a redelivery of that id is not a replay). */
  readonly #seen: BoundedMap<string, string>;

  constructor(consumer: Consumer, options: ValidatingConsumerOptions<T>) {
    this.consumer = consumer;
    this.#options = options;
    this.policy = { ...DEFAULT_POLICY, ...options.policy };
    this.#seen = new BoundedMap(this.policy.replayWindow);
  }

  /** The next valid message; bad ones on the way are dead-lettered and skipped. */
  async receive(timeoutMs?: number): Promise<ValidatedMessage<T>> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      const left = deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
      const message = await this.consumer.receive(left);
      const verdict = await this.#judge(message);
      if (verdict.ok) {
        this.stats.accepted++;
        return { value: verdict.value, message };
      }
      await this.#reject(message, verdict.rejection);
    }
  }

  ack(message: ValidatedMessage<T> | ReceivedMessage): Promise<void> {
    return this.consumer.ack("message" in message ? message.message : message);
  }

  nack(message: ValidatedMessage<T> | ReceivedMessage): Promise<void> {
    return this.consumer.nack("message" in message ? message.message : message);
  }

  close(): Promise<void> {
    return this.consumer.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ValidatedMessage<T>> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof PulsarClosedError) return;
        throw error;
      }
    }
  }

  async #judge(
    message: ReceivedMessage,
  ): Promise<{ ok: true; value: T } | { ok: false; rejection: Rejection }> {
    const now = (this.#options.clock ?? Date.now)();
    const envelope = checkEnvelope(message, this.policy, now);
    if (envelope) return { ok: false, rejection: envelope };
    let result: Validation<T>;
    try {
      const { payload, ...meta } = message;
      result = await this.#options.validator(payload, meta);
    } catch (error) {
      return {
        ok: false,
        rejection: {
          code: RejectionCode.ValidatorFailed,
          reason: `validator threw: ${(error as Error)?.message ?? error}`,
        },
      };
    }
    if (!result.ok) return { ok: false, rejection: { code: RejectionCode.Invalid, reason: result.reason } };
    const key =
      this.#options.replayKey?.(result.value, message) ??
      createHash("sha256").update(message.payload).digest("hex");
    const firstId = this.#seen.get(key);
    if (firstId !== undefined && firstId !== message.messageId) {
      return {
        ok: false,
        rejection: { code: RejectionCode.Duplicate, reason: `replay of the message accepted as ${firstId}` },
      };
    }
    this.#seen.set(key, message.messageId);
    return { ok: true, value: result.value };
  }

  async #reject(message: ReceivedMessage, rejection: Rejection): Promise<void> {
    this.stats.rejected++;
    this.stats.byCode[rejection.code]++;
    try {
      this.#options.onRejected?.(rejection, message);
    } catch {
      // observers must not stop the consumer
    }
    try {
      await this.#options.deadLetter.send({
        payload: message.payload,
        properties: {
          ...message.properties,
          [DeadLetterProperty.Code]: rejection.code,
          [DeadLetterProperty.Reason]: rejection.reason.slice(0, 1000),
          [DeadLetterProperty.SourceTopic]: message.topic,
          [DeadLetterProperty.SourceMessageId]: message.messageId,
          [DeadLetterProperty.RejectedAt]: new Date((this.#options.clock ?? Date.now)()).toISOString(),
        },
        ...(message.key !== undefined ? { key: message.key } : {}),
        ...(message.eventTime !== undefined ? { eventTime: message.eventTime } : {}),
      });
      await this.consumer.ack(message);
    } catch (error) {
      if (error instanceof PulsarClosedError) throw error;
      // Could not park it: leave it to be redelivered and judged again later.
      this.stats.deadLetterFailures++;
      await this.consumer.nack(message).catch(() => {});
    }
  }
}
