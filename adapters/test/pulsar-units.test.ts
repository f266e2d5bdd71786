// Pure pieces of the Pulsar adapter: topic names, the pending-send window, message ids, the
// bounded set and token minting.
import fc from "fast-check";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import {
  BoundedSet,
  compareMessageIds,
  decodeMessageId,
  generateTokenSecret,
  isDuplicateAckId,
  mintParticipantToken,
  namespaceOf,
  PendingWindow,
  parseTopic,
  participantRole,
  topicName,
  topicPath,
  WebSocketMessageBus,
} from "../src/pulsar/index.ts";

describe("topic names", () => {
  it("builds and parses fully qualified names", () => {
    const name = topicName({ persistent: true, tenant: "market", namespace: "public", local: "offers" });
    expect(name).toBe("persistent://market/public/offers");
    expect(parseTopic(name)).toEqual({
      persistent: true,
      tenant: "market",
      namespace: "public",
      local: "offers",
    });
    expect(parseTopic("non-persistent://a/b/c").persistent).toBe(false);
    expect(topicPath(name)).toBe("persistent/market/public/offers");
    expect(namespaceOf(name)).toBe("market/public");
  });

  it("rejects segments Pulsar does not allow", () => {
    expect(() => topicName({ persistent: true, tenant: "a b", namespace: "n", local: "t" })).toThrow(
      /tenant/,
    );
    expect(() => parseTopic("persistent://a/b")).toThrow(/not a Pulsar topic/);
  });

  it("round-trips any valid name", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_=:.-]{1,20}$/);
    fc.assert(
      fc.property(fc.boolean(), segment, segment, segment, (persistent, tenant, namespace, local) => {
        const parts = { persistent, tenant, namespace, local };
        expect(parseTopic(topicName(parts))).toEqual(parts);
      }),
    );
  });
});

describe("PendingWindow", () => {
  it("never lets more than `capacity` holders in, and serves waiters in order", async () => {
    const window = new PendingWindow(3);
    const order: number[] = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await window.acquire();
        order.push(i);
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 1));
        inside--;
        window.release();
      }),
    );
    expect(maxInside).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(window.inFlight).toBe(0);
  });

  it("tryAcquire fails when full and drained() waits for the last release", async () => {
    const window = new PendingWindow(1);
    expect(window.tryAcquire()).toBe(true);
    expect(window.tryAcquire()).toBe(false);
    let drained = false;
    const done = window.drained().then(() => {
      drained = true;
    });
    await Promise.resolve();
    expect(drained).toBe(false);
    window.release();
    await done;
    expect(drained).toBe(true);
  });

  it("rejects waiters on close and refuses an unmatched release", async () => {
    const window = new PendingWindow(1);
    await window.acquire();
    const waiting = window.acquire();
    window.rejectWaiters(new Error("closed"));
    await expect(waiting).rejects.toThrow("closed");
    window.release();
    expect(() => window.release()).toThrow(/without a matching acquire/);
  });

  it("holds the invariant 0 ≤ inFlight ≤ capacity under any acquire/release sequence", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.boolean(), { maxLength: 200 }),
        (capacity, ops) => {
          const window = new PendingWindow(capacity);
          let held = 0;
          for (const acquire of ops) {
            if (acquire) {
              if (window.tryAcquire()) held++;
            } else if (held > 0) {
              window.release();
              held--;
            }
            expect(window.inFlight).toBe(held);
            expect(window.inFlight).toBeLessThanOrEqual(capacity);
          }
        },
      ),
    );
  });
});

describe("message ids", () => {
  it("decodes ledger and entry ids and orders ids", () => {
    // ledgerId 6, entryId 0 / 1, as the broker returned them in a test run
    expect(decodeMessageId("CAYQADAA")).toMatchObject({ ledgerId: 6n, entryId: 0n });
    expect(compareMessageIds("CAYQADAA", "CAYQATAA")).toBe(-1);
    expect(compareMessageIds("CAYQATAA", "CAYQATAA")).toBe(0);
  });

  it("recognises the broker's duplicate answer (ledger -1, entry -1)", () => {
    expect(isDuplicateAckId("CP///////////wEQ////////////ATAA")).toBe(true);
    expect(isDuplicateAckId("CAYQADAA")).toBe(false);
    expect(isDuplicateAckId("not base64 !")).toBe(false);
  });

  it("decides the duplicate answer exactly as a full decode does, for any ledger and entry id", () => {
    const varint = (v: bigint): number[] => {
      const out: number[] = [];
      do {
        const low = Number(v & 0x7fn);
        v >>= 7n;
        out.push(v > 0n ? low | 0x80 : low);
      } while (v > 0n);
      return out;
    };
    const id = fc.oneof(fc.constant((1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    fc.assert(
      fc.property(id, id, fc.integer({ min: -1, max: 7 }), (ledgerId, entryId, partition) => {
        const bytes = [0x08, ...varint(ledgerId), 0x10, ...varint(entryId)];
        if (partition >= 0) bytes.push(0x18, ...varint(BigInt(partition)));
        const messageId = Buffer.from(bytes).toString("base64");
        const decoded = decodeMessageId(messageId);
        const expected = decoded?.ledgerId === (1n << 64n) - 1n && decoded.entryId === (1n << 64n) - 1n;
        expect(isDuplicateAckId(messageId)).toBe(expected);
      }),
    );
  });
});

describe("BoundedSet", () => {
  it("forgets the oldest entries beyond its capacity", () => {
    const set = new BoundedSet<string>(2);
    expect(set.add("a")).toBe(true);
    expect(set.add("b")).toBe(true);
    expect(set.add("a")).toBe(false); // refreshed: "b" is now the oldest
    set.add("c");
    expect([set.has("a"), set.has("b"), set.has("c")]).toEqual([true, false, true]);
    expect(set.size).toBe(2);
  });
});

describe("tokens", () => {
  it("gives participants their lower-cased Ethereum address as role", async () => {
    const address = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01";
    const token = await mintParticipantToken(generateTokenSecret(), address, { expiresIn: 60 });
    const claims = decodeJwt(token);
    expect(claims.sub).toBe(address.toLowerCase());
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it("refuses something that is not an address", () => {
    expect(() => participantRole("admin")).toThrow(/not an Ethereum address/);
  });
});

describe("WebSocketMessageBus endpoints", () => {
  it("derives ws:// from http:// and wss:// (TLS) from https://", () => {
    expect(new WebSocketMessageBus({ url: "http://127.0.0.1:8080" }).wsBase).toBe(
      "ws://127.0.0.1:8080/ws/v2",
    );
    expect(new WebSocketMessageBus({ url: "https://broker.example:8443/" }).wsBase).toBe(
      "wss://broker.example:8443/ws/v2",
    );
    expect(() => new WebSocketMessageBus({ url: "pulsar://127.0.0.1:6650" })).toThrow(
      /unsupported Pulsar URL scheme/,
    );
  });

  it("keeps a payload within the WebSocket frame once base64-encoded", () => {
    const bus = new WebSocketMessageBus({ url: "http://127.0.0.1:8080", maxFrameBytes: 1_048_576 });
    expect(Math.ceil(bus.maxPayloadBytes / 3) * 4).toBeLessThan(1_048_576);
    expect(bus.maxPayloadBytes).toBeGreaterThan(700_000);
  });
});
