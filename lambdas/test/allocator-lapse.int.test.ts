// What a lapsed allocation gives back, on DynamoDB Local (started by localstack's global setup):
// the same cases as the unit tests, with the lapse and the give-back in one transaction.
import {
  createTables,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters";
import { inject } from "vitest";
import { lapseReleaseCases } from "./support/lapse-release-cases.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
let run = 0;

lapseReleaseCases(async () => {
  const names = tableNames(`lapse-${process.pid}-${run++}-`);
  await createTables(client, names);
  const db = documentClient(client);
  return { offers: new DynamoAllocatorRegistry(db, names), accepts: new DynamoAcceptRegistry(db, names) };
});
