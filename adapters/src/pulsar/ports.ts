// The message-bus ports the rest of Surplus programs against. The WebSocket adapter
// (ws-client.ts) implements them over a real Pulsar broker; a native `pulsar-client` adapter
// could implement the same interfaces where that package installs.

/** Properties travel as string → string, as in Pulsar. */
export type Properties = Readonly<Record<string, string>>;

export interface OutgoingMessage {
  readonly payload: Uint8Array;
  readonly properties?: Properties;
  /** Partition / ordering key. */
  readonly key?: string;
  /** When the event happened (ms since epoch); receivers use it for freshness checks. */
  readonly eventTime?: number;
}

export interface SendReceipt {
  /** Pulsar's message id (base64 of MessageIdData), usable as a reader start position. */
  readonly messageId: string;
  /** With the producer name, the broker's deduplication key. */
  readonly sequenceId: number;
  /** The broker recognised the (producerName, sequenceId) pair as already stored and dropped it. */
  readonly duplicate: boolean;
}

export interface Producer {
  readonly topic: string;
  readonly producerName: string;
  /** Sends waiting for the broker's acknowledgement (bounded by `maxPendingMessages`). */
  readonly pending: number;
  /**
   * Publishes one message and resolves when the broker has stored it. Waits for a free slot when
   * `maxPendingMessages` sends are already in flight (backpressure).
   */
  send(message: OutgoingMessage): Promise<SendReceipt>;
  /** Resolves when every send issued so far has been acknowledged (or failed). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ReceivedMessage {
  readonly topic: string;
  readonly messageId: string;
  readonly payload: Uint8Array;
  readonly properties: Properties;
  readonly key?: string;
  /** When the broker stored the message (ms since epoch). */
  readonly publishTime: number;
  /** The producer-set event time (ms since epoch), if any. */
  readonly eventTime?: number;
  /** How many times this message was delivered before (0 on first delivery). */
  readonly redeliveryCount: number;
}

export const SubscriptionType = {
  Exclusive: "Exclusive",
  Shared: "Shared",
  Failover: "Failover",
  KeyShared: "Key_Shared",
} as const;
export type SubscriptionType = (typeof SubscriptionType)[keyof typeof SubscriptionType];

export interface Consumer extends AsyncIterable<ReceivedMessage> {
  readonly topic: string;
  readonly subscription: string;
  /** Next message; rejects with PulsarTimeoutError after `timeoutMs` if given. */
  receive(timeoutMs?: number): Promise<ReceivedMessage>;
  /** Acknowledges one message: the broker will not deliver it to this subscription again. */
  ack(message: ReceivedMessage | string): Promise<void>;
  /** Negative acknowledgement: the broker redelivers the message after the nack delay. */
  nack(message: ReceivedMessage | string): Promise<void>;
  close(): Promise<void>;
}

export interface Reader extends AsyncIterable<ReceivedMessage> {
  readonly topic: string;
  /** Next message; rejects with PulsarTimeoutError after `timeoutMs` if given. */
  readNext(timeoutMs?: number): Promise<ReceivedMessage>;
  close(): Promise<void>;
}

/** Limits of one batch entry (ProducerOptions.batching). */
export interface BatchingOptions {
  /** Messages in one entry at most. @default 1000 */
  readonly maxMessages?: number;
  /** Bytes in one entry at most (capped by the bus's frame limit). @default 131072 */
  readonly maxBytes?: number;
}

export interface ProducerOptions {
  /** Stable name: the broker deduplicates on (producerName, sequenceId). @default random */
  readonly producerName?: string;
  /**
   * Sequence id of the message before the first one: messages are numbered initialSequenceId
   * + 1, + 2, … in send order. Re-sending the same messages under the same producer name from
   * the same initial id makes the broker drop those it already stored.
   * @default the current time in microseconds (continues above an earlier producer's ids)
   */
  readonly initialSequenceId?: number;
  /** Sends in flight before `send` waits. @default 1000 */
  readonly maxPendingMessages?: number;
  /** When the window is full: wait (true) or throw PulsarProducerQueueFullError. @default true */
  readonly blockIfQueueFull?: boolean;
  /** A send that the broker has not acknowledged by then fails. @default 30000 */
  readonly sendTimeoutMs?: number;
  /**
   * Client-side batching (batching.ts): the messages sent within one tick travel as one broker
   * entry, up to `maxMessages` / `maxBytes`. For high-rate streams; deduplication then holds per
   * entry within this producer's life, not across restarts of the application. @default false
   */
  readonly batching?: boolean | BatchingOptions;
}

export interface ConsumerOptions {
  /** @default Exclusive */
  readonly subscriptionType?: SubscriptionType;
  /** Where a new subscription starts. @default "Latest" */
  readonly initialPosition?: "Earliest" | "Latest";
  /** Messages the broker may push before the application takes them. @default 1000 */
  readonly receiverQueueSize?: number;
  /** Unacknowledged messages are redelivered after this long (0 = never). @default 0 */
  readonly ackTimeoutMs?: number;
  /** Delay before a negatively acknowledged message is redelivered. @default 1000 */
  readonly negativeAckRedeliveryDelayMs?: number;
  /**
   * After this many redeliveries the broker moves the message to `deadLetterTopic`
   * (Shared / Key_Shared subscriptions). @default no dead-lettering
   */
  readonly maxRedeliverCount?: number;
  readonly deadLetterTopic?: string;
  readonly consumerName?: string;
}

export interface ReaderOptions {
  /** "earliest", "latest", or a message id (the reader starts after it). @default "earliest" */
  readonly startMessageId?: "earliest" | "latest" | string;
  /** @default 1000 */
  readonly receiverQueueSize?: number;
}

/** The message bus: one authenticated connection factory to a broker. */
export interface MessageBus {
  createProducer(topic: string, options?: ProducerOptions): Promise<Producer>;
  subscribe(topic: string, subscription: string, options?: ConsumerOptions): Promise<Consumer>;
  createReader(topic: string, options?: ReaderOptions): Promise<Reader>;
  /** Closes every producer, consumer and reader created by this bus. */
  close(): Promise<void>;
}
