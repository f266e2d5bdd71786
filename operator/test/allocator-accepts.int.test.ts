// The accept round against the local DynamoDB endpoint, moto (started by localstack's global setup): the same cases as
// the unit tests, with the real conditional updates, the sparse byAwaitingOpen index and
// allocations committed by the offer round's own registry.
import {
  createTables,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters";
import { offerId, toWire } from "@surplus/core";
import { inject } from "vitest";
import { acceptRoundCases } from "./support/accept-round-cases.ts";
import { customerOffer, idOf } from "./support/accept-scenario.ts";
import { domain, NOW_MS } from "./support/allocator-scenario.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
let run = 0;

acceptRoundCases(async (allocations) => {
  const names = tableNames(`accepts-${process.pid}-${run++}-`);
  await createTables(client, names);
  const db = documentClient(client);
  const offers = new DynamoAllocatorRegistry(db, names);
  const id = offerId(domain, customerOffer);
  await offers.recordOffer({
    offerId: id,
    offer: customerOffer,
    envelope: toWire(customerOffer),
    recordedAtMs: NOW_MS,
  });
  const committed = await offers.commit({
    customer: { offerId: id, expectedVersion: 0, openWindows: [], closed: true },
    suppliers: [],
    allocations: allocations.map((a) => ({ allocationId: idOf(a), allocation: a })),
  });
  if (!committed) throw new Error("the allocations could not be committed");
  return new DynamoAcceptRegistry(db, names);
});
