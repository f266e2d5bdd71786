// The validation pipeline on a real allocation channel, as a Supplier with its own token: each
// kind of bad message is dead-lettered with its reason and counted, and the consumer keeps going.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AllocationParties,
  allocationChannels,
  DeadLetterProperty,
  deadLetterTopicOf,
  type MessageBus,
  provisionAllocationChannels,
  RejectionCode,
  ValidatingConsumer,
  type Validation,
} from "../src/pulsar/index.ts";
import { broker, busAs, randomAddress, str, text } from "./pulsar-support.ts";

interface Job {
  readonly n: number;
}

/** Stands in for core's schema + signature validator. */
function parseJob(payload: Uint8Array): Validation<Job> {
  let value: unknown;
  try {
    value = JSON.parse(str(payload));
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof value === "object" && value !== null && "boom" in value) throw new Error("validator bug");
  if (typeof value !== "object" || value === null || typeof (value as { n?: unknown }).n !== "number") {
    return { ok: false, reason: "schema: n must be a number" };
  }
  return { ok: true, value: value as Job };
}

const parties: AllocationParties = {
  allocationId: `val-${Date.now().toString(36)}`,
  customer: randomAddress(),
  suppliers: [randomAddress()],
  mediator: randomAddress(),
  allocator: randomAddress(),
};
let customer: MessageBus;
let supplier: MessageBus;
let admin: MessageBus;

beforeAll(async () => {
  await provisionAllocationChannels(broker().admin, parties);
  customer = await busAs(parties.customer as `0x${string}`);
  supplier = await busAs(parties.suppliers[0] as `0x${string}`);
  admin = await busAs("admin");
});
afterAll(async () => {
  await Promise.all([customer.close(), supplier.close(), admin.close()]);
});

describe("ValidatingConsumer", () => {
  it("dead-letters each kind of bad message with its reason, counts it, and keeps consuming", async () => {
    const { input } = allocationChannels(parties.allocationId, parties.suppliers);
    const validating = new ValidatingConsumer<Job>(
      await supplier.subscribe(input, "work", { initialPosition: "Earliest" }),
      {
        validator: parseJob,
        deadLetter: await supplier.createProducer(deadLetterTopicOf(input)),
        policy: { maxPayloadBytes: 1024, maxAgeMs: 60_000, maxFutureSkewMs: 5_000 },
      },
    );
    const producer = await customer.createProducer(input);
    const now = Date.now();
    const sent: Array<[string, Uint8Array, number | undefined, RejectionCode | "ok"]> = [
      ["first", text('{"n":1}'), now, "ok"],
      ["too large", text(`{"n":2,"pad":"${"x".repeat(2000)}"}`), now, RejectionCode.TooLarge],
      ["no event time", text('{"n":3}'), undefined, RejectionCode.MissingEventTime],
      ["stale", text('{"n":4}'), now - 120_000, RejectionCode.Stale],
      ["from the future", text('{"n":5}'), now + 60_000, RejectionCode.FromTheFuture],
      ["not JSON", text("{n:"), now, RejectionCode.Invalid],
      ["wrong schema", text('{"n":"six"}'), now, RejectionCode.Invalid],
      ["validator throws", text('{"boom":true}'), now, RejectionCode.ValidatorFailed],
      ["replayed", text('{"n":1}'), now, RejectionCode.Duplicate],
      ["last", text('{"n":10}'), now, "ok"],
    ];
    for (const [label, payload, eventTime] of sent) {
      await producer.send({
        payload,
        properties: { label },
        ...(eventTime !== undefined ? { eventTime } : {}),
      });
    }

    const first = await validating.receive(10_000);
    await validating.ack(first);
    const last = await validating.receive(10_000);
    await validating.ack(last);

    expect([first.value.n, last.value.n]).toEqual([1, 10]);
    expect(validating.stats.accepted).toBe(2);
    expect(validating.stats.rejected).toBe(8);
    expect(validating.stats.byCode).toMatchObject({
      [RejectionCode.TooLarge]: 1,
      [RejectionCode.MissingEventTime]: 1,
      [RejectionCode.Stale]: 1,
      [RejectionCode.FromTheFuture]: 1,
      [RejectionCode.Invalid]: 2,
      [RejectionCode.ValidatorFailed]: 1,
      [RejectionCode.Duplicate]: 1,
    });

    // The operator (admin) audits the dead-letter topic.
    const dlq = await admin.createReader(deadLetterTopicOf(input), { startMessageId: "earliest" });
    const parked = [];
    for (let i = 0; i < 8; i++) parked.push(await dlq.readNext(10_000));
    expect(parked.map((m) => [m.properties.label, m.properties[DeadLetterProperty.Code]])).toEqual(
      sent.filter(([, , , code]) => code !== "ok").map(([label, , , code]) => [label, code]),
    );
    for (const m of parked) {
      expect(m.properties[DeadLetterProperty.Reason]).toBeTruthy();
      expect(m.properties[DeadLetterProperty.SourceTopic]).toBe(input);
    }
    expect(parked[1]?.properties[DeadLetterProperty.Reason]).toMatch(/event time/);
    expect(
      parked.find((m) => m.properties.label === "validator throws")?.properties[DeadLetterProperty.Reason],
    ).toBe("validator threw: validator bug");
  });
});
