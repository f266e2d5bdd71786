// A scheduled function's lease in the cursors table (item `lease#<name>`): at most one invocation
// runs rounds at a time. It is held until the holder's own deadline (its Lambda timeout), so a
// holder that crashed blocks nobody past the moment it would have been stopped anyway.
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { TableNames } from "./tables.ts";

export class DynamoLease {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #key: string;

  constructor(db: DynamoDBDocumentClient, names: Pick<TableNames, "cursors">, name: string) {
    this.#db = db;
    this.#table = names.cursors;
    this.#key = `lease#${name}`;
  }

  /** Takes the lease for `holder` until `untilMs` if it is free, expired at `nowMs`, or already `holder`'s. */
  async acquire(holder: string, untilMs: number, nowMs: number): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            name: this.#key,
            holder,
            untilMs,
          },
          ConditionExpression: "attribute_not_exists(#n) OR untilMs < :now OR holder = :holder",
          ExpressionAttributeNames: { "#n": "name" },
          ExpressionAttributeValues: { ":now": nowMs, ":holder": holder },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Gives the lease back if `holder` still holds it (a successor that took an expired lease keeps it). */
  async release(holder: string): Promise<void> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { name: this.#key },
          ConditionExpression: "holder = :holder",
          ExpressionAttributeValues: { ":holder": holder },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}
