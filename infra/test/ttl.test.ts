// The verifier-bridge's applied-event markers must carry the attribute the deployed idempotency
// table expires items by; once they were written with `expiresAt` while the table's TTL read
// `expiration`, and the markers never expired. Here the CDK table and the bridge's write meet: the
// attribute name is read from the synthesized template, the marker from the bridge's request.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoBridgeRegistry, tableNames } from "@surplus/adapters/dynamodb";
import type { AppliedEvent, Bytes32 } from "@surplus/core";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { Registries } from "../src/constructs/registries.ts";

/** The TTL attribute of the synthesized idempotency table. */
function deployedTtlAttribute(prefix: string): string | undefined {
  const stack = new Stack(new App(), "Ttl");
  new Registries(stack, "Registries", { tablePrefix: prefix });
  const [table] = Object.values(
    Template.fromStack(stack).findResources("AWS::DynamoDB::Table", {
      Properties: { TableName: tableNames(prefix).idempotency },
    }),
  );
  return table?.["Properties"].TimeToLiveSpecification?.AttributeName;
}

type Marshalled = Record<string, { S?: string; N?: string }>;

/** A DynamoDB client that sends nothing: it answers every request and keeps the inputs it was given. */
function recordingClient(): { client: DynamoDBClient; inputs: Array<Record<string, unknown>> } {
  const client = new DynamoDBClient({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const inputs: Array<Record<string, unknown>> = [];
  client.middlewareStack.add(
    () => async (args) => {
      inputs.push(args.input as Record<string, unknown>);
      return { output: { $metadata: {} }, response: {} } as never;
    },
    { step: "build", name: "recordInsteadOfSend" },
  );
  return { client, inputs };
}

describe("TTL of the verifier-bridge's applied-event markers", () => {
  it("writes each marker with the attribute the CDK table's TTL reads, in epoch seconds", async () => {
    const prefix = "ttl-";
    const ttlAttribute = deployedTtlAttribute(prefix);
    expect(ttlAttribute).toBeDefined();

    const { client, inputs } = recordingClient();
    const registry = new DynamoBridgeRegistry(client, tableNames(prefix));
    const timestamp = 1_800_000_000;
    const event: AppliedEvent = {
      dedupKey: "120:3",
      allocationId: `0x${"ab".repeat(32)}` as Bytes32,
      event: "AllocationRunning",
      state: "Running",
      blockNumber: 120,
      transactionHash: `0x${"cd".repeat(32)}`,
      timestamp,
      args: {},
    };
    expect(await registry.applyEvent(event)).toBe(true);

    const puts = inputs.flatMap(
      (input) =>
        (input["TransactItems"] as Array<{ Put?: { TableName: string; Item: Marshalled } }> | undefined) ??
        [],
    );
    const markers = puts
      .map((item) => item.Put)
      .filter((put) => put?.TableName === tableNames(prefix).idempotency);
    expect(markers).toHaveLength(1);
    const marker = markers[0]!.Item;
    expect(marker["id"]?.S).toBe("bridge#120:3");
    const expiresAt = Number(marker[ttlAttribute!]?.N);
    // DynamoDB's TTL reads epoch seconds: a marker outlives its event, and not by centuries.
    expect(expiresAt).toBeGreaterThan(timestamp);
    expect(expiresAt).toBeLessThan(timestamp + 366 * 24 * 3600);
  }, 60_000);
});
