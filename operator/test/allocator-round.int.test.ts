// The allocator round against the local DynamoDB endpoint, moto (started by localstack's global setup): the same
// cases as the unit tests, with real conditional writes and transactions.
import {
  createTables,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters";
import { inject } from "vitest";
import { allocatorRoundCases } from "./support/allocator-round-cases.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
let run = 0;

allocatorRoundCases(async () => {
  const names = tableNames(`alloc-${process.pid}-${run++}-`);
  await createTables(client, names);
  return new DynamoAllocatorRegistry(documentClient(client), names);
});
