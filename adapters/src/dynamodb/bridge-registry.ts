// The verifier-bridge's registry on DynamoDB. It shares the Allocator's tables (tables.ts):
// - terms: the allocation item the Allocator wrote (read through DynamoAllocatorRegistry);
// - applied events: one TransactWriteItems per event — a put-if-absent marker `bridge#<block>:<log>`
//   in the idempotency table, and the allocation item's chain state and history updated — so an
//   event is applied exactly once however often a run is retried;
// - the block cursor: the cursors table's compare-and-set, with the block number as position.
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { Allocation, AppliedEvent, BridgeRegistry, Bytes32 } from "@surplus/core";
import { DynamoAllocatorRegistry, documentClient } from "./registry.ts";
import { IDEMPOTENCY_TTL_ATTRIBUTE, type TableNames, tableNames } from "./tables.ts";

/** Markers of applied events expire after this long (the cursor has long moved past them). */
const MARKER_TTL_SECONDS = 30 * 24 * 3600;

export class DynamoBridgeRegistry implements BridgeRegistry {
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;
  readonly #allocations: DynamoAllocatorRegistry;

  constructor(client: DynamoDBClient, names: TableNames = tableNames()) {
    this.#db = documentClient(client);
    this.#t = names;
    this.#allocations = new DynamoAllocatorRegistry(this.#db, names);
  }

  termsOf(allocationId: Bytes32): Promise<Allocation | undefined> {
    return this.#allocations.allocation(allocationId);
  }

  async applyEvent(a: AppliedEvent): Promise<boolean> {
    const entry = {
      event: a.event,
      ...(a.state ? { state: a.state } : {}),
      blockNumber: a.blockNumber,
      transactionHash: a.transactionHash,
      timestamp: a.timestamp,
      args: JSON.stringify(a.args, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
    };
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#t.idempotency,
                Item: {
                  id: `bridge#${a.dedupKey}`,
                  allocationId: a.allocationId,
                  // The table's TTL attribute, so DynamoDB deletes old markers.
                  [IDEMPOTENCY_TTL_ATTRIBUTE]: a.timestamp + MARKER_TTL_SECONDS,
                },
                ConditionExpression: "attribute_not_exists(id)",
              },
            },
            {
              Update: {
                TableName: this.#t.allocations,
                Key: { allocationId: a.allocationId },
                UpdateExpression: `SET history = list_append(if_not_exists(history, :none), :entry), lastBlock = :block${
                  a.state ? ", chainState = :state" : ""
                }`,
                ConditionExpression: "attribute_exists(allocationId)",
                ExpressionAttributeValues: {
                  ":none": [],
                  ":entry": [entry],
                  ":block": a.blockNumber,
                  ...(a.state ? { ":state": a.state } : {}),
                },
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (
        err instanceof TransactionCanceledException &&
        err.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed"
      ) {
        return false; // applied before
      }
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** The chain state and history the bridge recorded for an allocation. */
  async chainStateOf(
    allocationId: Bytes32,
  ): Promise<{ state?: string; history: Array<Record<string, unknown>> } | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#t.allocations, Key: { allocationId }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      state: Item["chainState"] as string | undefined,
      history: (Item["history"] as Array<Record<string, unknown>>) ?? [],
    };
  }

  async cursor(name: string): Promise<number | undefined> {
    const position = await this.#allocations.cursor(name);
    return position === undefined ? undefined : Number(position);
  }

  advanceCursor(name: string, from: number | undefined, to: number): Promise<boolean> {
    return this.#allocations.advanceCursor(name, from === undefined ? undefined : String(from), String(to));
  }
}
