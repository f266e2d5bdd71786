// An in-memory MessageBus for the agents' unit tests: topics are arrays, a subscription is a
// cursor that moves on ack, a reader is a cursor of its own. No broker semantics beyond that.
import {
  type Consumer,
  type MessageBus,
  type Producer,
  PulsarTimeoutError,
  type Reader,
  type ReceivedMessage,
} from "@surplus/adapters/pulsar";

export class MemoryBus implements MessageBus {
  readonly topics = new Map<string, ReceivedMessage[]>();
  /** Subscription cursors: `topic|subscription` → index of the next unacknowledged message. */
  readonly #cursors = new Map<string, number>();

  messages(topic: string): ReceivedMessage[] {
    const t = this.topics.get(topic) ?? [];
    this.topics.set(topic, t);
    return t;
  }

  async createProducer(topic: string): Promise<Producer> {
    const list = this.messages(topic);
    return {
      topic,
      send: async (m: { payload: Uint8Array; properties?: Record<string, string>; key?: string }) => {
        const id = `${list.length}`;
        list.push({
          topic,
          messageId: id,
          payload: m.payload,
          properties: m.properties ?? {},
          ...(m.key ? { key: m.key } : {}),
          publishTime: Date.now(),
          redeliveryCount: 0,
        });
        return id;
      },
      close: async () => undefined,
    } as unknown as Producer;
  }

  async subscribe(topic: string, subscription: string): Promise<Consumer> {
    const key = `${topic}|${subscription}`;
    const list = this.messages(topic);
    let next = this.#cursors.get(key) ?? 0;
    const read = async (timeoutMs = 0) => {
      const until = Date.now() + timeoutMs;
      while (next >= list.length) {
        if (Date.now() >= until) throw new PulsarTimeoutError(`receive on ${topic}`, timeoutMs);
        await new Promise((r) => setTimeout(r, 5));
      }
      return list[next++]!;
    };
    return {
      topic,
      subscription,
      receive: read,
      ack: async () => void this.#cursors.set(key, next),
      nack: async () => undefined,
      close: async () => undefined,
      [Symbol.asyncIterator]: () => {
        throw new Error("not used");
      },
    } as Consumer;
  }

  async createReader(topic: string): Promise<Reader> {
    const list = this.messages(topic);
    let next = 0;
    return {
      topic,
      readNext: async (timeoutMs = 0) => {
        const until = Date.now() + timeoutMs;
        while (next >= list.length) {
          if (Date.now() >= until) throw new PulsarTimeoutError(`read on ${topic}`, timeoutMs);
          await new Promise((r) => setTimeout(r, 5));
        }
        return list[next++]!;
      },
      close: async () => undefined,
      [Symbol.asyncIterator]: () => {
        throw new Error("not used");
      },
    } as Reader;
  }

  async close(): Promise<void> {}
}
