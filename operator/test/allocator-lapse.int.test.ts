// What a lapsed allocation gives back, on the local DynamoDB endpoint, moto (started by localstack's global setup):
// the same cases as the unit tests, with the lapse and the give-back in one transaction.

import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import {
  createTables,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters";
import type { Allocation, Bytes32 } from "@surplus/core";
import { describe, expect, inject, it } from "vitest";
import { runAllocatorRound } from "../src/allocator/offer-round.ts";
import {
  config,
  customerBody,
  MemoryOfferSource,
  MemoryPublisher,
  NOW_MS,
  signedOffer,
  supplierBody,
} from "./support/allocator-scenario.ts";
import { lapseReleaseCases } from "./support/lapse-release-cases.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
let run = 0;

lapseReleaseCases(async () => {
  const names = tableNames(`lapse-${process.pid}-${run++}-`);
  await createTables(client, names);
  const db = documentClient(client);
  return { offers: new DynamoAllocatorRegistry(db, names), accepts: new DynamoAcceptRegistry(db, names) };
});

describe("DynamoAcceptRegistry.markLapsed", () => {
  it("gives back over an offer round that changed a Supplier offer between its read and its transaction", async () => {
    const names = tableNames(`lapse-race-${process.pid}-`);
    await createTables(client, names);
    const plain = documentClient(client);
    const offers = new DynamoAllocatorRegistry(plain, names);
    const source = new MemoryOfferSource();
    for (let i = 0; i < 2; i++) source.append(await signedOffer(i, supplierBody(i)));
    source.append(await signedOffer(10, customerBody(10)));
    const publisher = new MemoryPublisher();
    await runAllocatorRound({ source, registry: offers, publisher }, config, NOW_MS);
    const [[id, a]] = [...publisher.allocations] as [[Bytes32, Allocation]];
    const other = { start: a.start, end: a.end, mips: 1, ramMb: 1 };
    // Another round's commit lands on the first Supplier offer just before the lapse's transaction.
    let raced = false;
    const racing = new Proxy(plain, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key !== "send") return typeof value === "function" ? value.bind(target) : value;
        return async (command: Parameters<typeof plain.send>[0]) => {
          if (!raced && command instanceof TransactWriteCommand) {
            raced = true;
            const s = (await offers.openOffers()).suppliers.find((x) => x.offerId === a.supplierOffers[0])!;
            const landed = await offers.commitGroup({
              customers: [],
              suppliers: [
                { offerId: s.offerId, expectedVersion: s.version, commitments: [...s.commitments, other] },
              ],
              allocations: [],
            });
            expect(landed).toBe(true);
          }
          return target.send(command as never);
        };
      },
    });

    const lapsed = await new DynamoAcceptRegistry(racing, names).markLapsed(id, {
      atMs: a.start * 1000,
      reason: "test",
    });

    expect(raced).toBe(true);
    expect(lapsed).toBe(true);
    const suppliers = new Map((await offers.openOffers()).suppliers.map((s) => [s.offerId, s]));
    expect(suppliers.get(a.supplierOffers[0]!)!.commitments).toEqual([other]);
    expect(suppliers.get(a.supplierOffers[1]!)!.commitments).toEqual([]);
  });
});
