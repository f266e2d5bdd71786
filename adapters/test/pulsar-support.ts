// Shared helpers of the Pulsar integration tests: the broker started by the global setup
// (localstack/src/pulsar.ts) and fresh, uniquely named topics so test files never interfere.
import { inject } from "vitest";
import {
  type MessageBus,
  mintParticipantToken,
  PulsarAdmin,
  type WebSocketBusOptions,
  WebSocketMessageBus,
} from "../src/pulsar/index.ts";

export function broker() {
  const info = inject("pulsar");
  return {
    ...info,
    secret: new Uint8Array(Buffer.from(info.tokenSecret, "base64")),
    admin: new PulsarAdmin({ url: info.webUrl, token: info.adminToken }),
  };
}

/** A bus authenticated as the super-user, or as a participant address. */
export async function busAs(
  who: "admin" | "anonymous" | `0x${string}`,
  extra: Partial<WebSocketBusOptions> = {},
): Promise<MessageBus> {
  const b = broker();
  const token =
    who === "admin"
      ? b.adminToken
      : who === "anonymous"
        ? undefined
        : await mintParticipantToken(b.secret, who);
  return new WebSocketMessageBus({ url: b.webUrl, ...(token ? { token } : {}), ...extra });
}

let counter = 0;
/** A new topic in public/default (created by the admin: auto-creation is off). */
export async function freshTopic(label: string): Promise<string> {
  const topic = `persistent://public/default/${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  await broker().admin.createTopic(topic);
  return topic;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A random Ethereum-style address (lower-case hex). */
export function randomAddress(): `0x${string}` {
  return `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(20))).toString("hex")}`;
}
