// AllocatorRegistry over DynamoDB (tables.ts). The guarantees the Allocator relies on:
// - recordOffer is a put-if-absent on the offer id: replaying the channel stores nothing twice;
// - commit (and commitGroup, for several Customer offers) is one TransactWriteItems: the Customer
//   offer and every Supplier offer are updated
//   only if still open at the version the round read, and each allocation is put only if absent;
//   so two rounds (a retry, or a concurrent invocation) can never both allocate the same offer or
//   the same Supplier capacity — the second transaction is cancelled as a whole;
// - allocations enter an outbox (sparse GSI) in the same transaction and leave it only after they
//   were published, so a crash between commit and publish loses nothing;
// - cursors move with compare-and-set.
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  type Allocation,
  type AllocatorRegistry,
  allocation as allocationSchema,
  type Bytes32,
  type Commitment,
  type CustomerCommit,
  customerOffer,
  type GroupCommit,
  type PendingPublication,
  type RecordedOffer,
  supplierOffer,
  type TimeWindow,
  toWire,
  type VersionedCustomer,
  type VersionedSupplier,
  type VoidAllocation,
  voidAllocation as voidSchema,
} from "@surplus/core";
import { ALLOCATIONS_BY_OUTBOX, OFFERS_BY_OPEN_KIND, type TableNames, tableNames } from "./tables.ts";

/** Env var with the DynamoDB endpoint (the local one, moto); unset in AWS. */
export const DYNAMODB_ENDPOINT_ENV = "SURPLUS_DYNAMODB_ENDPOINT";

/**
 * A DynamoDB client for the configured endpoint: the local one (moto, with placeholder credentials it
 * does not check) when SURPLUS_DYNAMODB_ENDPOINT or `endpoint` is set, AWS otherwise.
 */
export function dynamoDbClient(endpoint = process.env[DYNAMODB_ENDPOINT_ENV]): DynamoDBClient {
  if (!endpoint) return new DynamoDBClient({});
  return new DynamoDBClient({
    endpoint,
    region: process.env["AWS_REGION"] ?? "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const OPEN = "open";
/** DynamoDB's TransactWriteItems limit. */
const MAX_TRANSACTION_ITEMS = 100;
const PENDING = "pending";

export class DynamoAllocatorRegistry implements AllocatorRegistry {
  readonly maxCommitItems = MAX_TRANSACTION_ITEMS;
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;

  constructor(db: DynamoDBDocumentClient, names: TableNames = tableNames()) {
    this.#db = db;
    this.#t = names;
  }

  #offerItem(r: RecordedOffer) {
    const o = r.offer;
    return {
      TableName: this.#t.offers,
      Item: {
        offerId: r.offerId,
        kind: o.kind,
        account: o.account,
        status: OPEN,
        openKind: o.kind,
        version: 0,
        offer: toWire(o),
        envelope: r.envelope,
        end: o.end,
        recordedAtMs: r.recordedAtMs,
        ...(o.kind === "customer" ? { openWindows: JSON.stringify([{ start: o.start, end: o.end }]) } : {}),
        ...(o.kind === "supplier" ? { commitments: "[]" } : {}),
      },
      ConditionExpression: "attribute_not_exists(offerId)",
    };
  }

  /**
   * One transaction per chunk (its offers' puts and one participants update per account, 100
   * items at most). A put of an offer stored before cancels it: the transaction is sent again
   * without the offers its cancellation reasons name, so only new offers are counted.
   */
  async recordOffers(records: readonly RecordedOffer[]): Promise<boolean[]> {
    const stored = records.map(() => false);
    const chunks: number[][] = [];
    let accounts = new Set<string>();
    const seen = new Set<string>();
    for (const [i, r] of records.entries()) {
      // The same offer twice in a batch (a replayed message): one put (a transaction may not
      // touch an item twice); the copy is not stored now.
      if (seen.has(r.offerId)) continue;
      seen.add(r.offerId);
      const last = chunks.at(-1);
      const extra = accounts.has(r.offer.account) ? 0 : 1;
      if (last && last.length + accounts.size + 1 + extra <= MAX_TRANSACTION_ITEMS) {
        last.push(i);
        accounts.add(r.offer.account);
      } else {
        chunks.push([i]);
        accounts = new Set([r.offer.account]);
      }
    }
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending = chunk;
        for (let attempt = 1; pending.length > 0; attempt++) {
          const byAccount = new Map<string, { kinds: Set<string>; offers: number; at: number }>();
          for (const i of pending) {
            const r = records[i]!;
            const p = byAccount.get(r.offer.account) ?? { kinds: new Set(), offers: 0, at: r.recordedAtMs };
            p.kinds.add(r.offer.kind);
            p.offers++;
            p.at = Math.max(p.at, r.recordedAtMs);
            byAccount.set(r.offer.account, p);
          }
          try {
            await this.#db.send(
              new TransactWriteCommand({
                TransactItems: [
                  ...pending.map((i) => ({ Put: this.#offerItem(records[i]!) })),
                  ...[...byAccount].map(([account, p]) => ({
                    Update: this.#participant(account, p.kinds, p.offers, p.at),
                  })),
                ],
              }),
            );
            for (const i of pending) stored[i] = true;
            return;
          } catch (err) {
            if (!(err instanceof TransactionCanceledException)) throw err;
            const reasons = err.CancellationReasons ?? [];
            const duplicates = new Set(
              pending.filter((_, k) => reasons[k]?.Code === "ConditionalCheckFailed"),
            );
            // Otherwise a concurrent write to a participant (TransactionConflict): send it again.
            if (duplicates.size === 0 && attempt >= 5) throw err;
            pending = pending.filter((i) => !duplicates.has(i));
          }
        }
      }),
    );
    return stored;
  }

  #participant(account: string, kinds: Set<string>, offers: number, atMs: number) {
    return {
      TableName: this.#t.participants,
      Key: { account },
      UpdateExpression:
        "ADD kinds :kind, offers :n SET lastOfferMs = :now, firstSeenMs = if_not_exists(firstSeenMs, :now)",
      ExpressionAttributeValues: { ":kind": kinds, ":n": offers, ":now": atMs },
    };
  }

  async recordOffer(r: RecordedOffer): Promise<boolean> {
    try {
      await this.#db.send(new PutCommand(this.#offerItem(r)));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
    await this.#db.send(
      new UpdateCommand(this.#participant(r.offer.account, new Set([r.offer.kind]), 1, r.recordedAtMs)),
    );
    return true;
  }

  async #queryOpen(kind: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    const pages = paginateQuery(
      { client: this.#db },
      {
        TableName: this.#t.offers,
        IndexName: OFFERS_BY_OPEN_KIND,
        KeyConditionExpression: "openKind = :k",
        ExpressionAttributeValues: { ":k": kind },
      },
    );
    for await (const page of pages) items.push(...(page.Items ?? []));
    return items;
  }

  async openOffers(): Promise<{ customers: VersionedCustomer[]; suppliers: VersionedSupplier[] }> {
    const [cs, ss] = await Promise.all([this.#queryOpen("customer"), this.#queryOpen("supplier")]);
    return {
      customers: cs.map((i) => ({
        offerId: i["offerId"] as Bytes32,
        offer: customerOffer.parse(JSON.parse(i["offer"] as string)),
        version: i["version"] as number,
        openWindows: JSON.parse(i["openWindows"] as string) as TimeWindow[],
      })),
      suppliers: ss.map((i) => ({
        offerId: i["offerId"] as Bytes32,
        offer: supplierOffer.parse(JSON.parse(i["offer"] as string)),
        version: i["version"] as number,
        commitments: JSON.parse(i["commitments"] as string) as Commitment[],
      })),
    };
  }

  commit(c: CustomerCommit): Promise<boolean> {
    return this.commitGroup({ customers: [c.customer], suppliers: c.suppliers, allocations: c.allocations });
  }

  async commitGroup(c: GroupCommit): Promise<boolean> {
    const now = Date.now();
    const items: NonNullable<TransactWriteCommandInput["TransactItems"]> = [];
    for (const customer of c.customers) {
      items.push({
        Update: {
          TableName: this.#t.offers,
          Key: { offerId: customer.offerId },
          ConditionExpression: "#s = :open AND version = :v",
          UpdateExpression: customer.closed
            ? "SET version = :next, openWindows = :w, #s = :closed REMOVE openKind"
            : "SET version = :next, openWindows = :w",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: {
            ":open": OPEN,
            ":v": customer.expectedVersion,
            ":next": customer.expectedVersion + 1,
            ":w": JSON.stringify(customer.openWindows),
            ...(customer.closed ? { ":closed": "closed" } : {}),
          },
        },
      });
    }
    for (const s of c.suppliers) {
      items.push({
        Update: {
          TableName: this.#t.offers,
          Key: { offerId: s.offerId },
          ConditionExpression: "#s = :open AND version = :v",
          UpdateExpression: "SET version = :next, commitments = :c",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: {
            ":open": OPEN,
            ":v": s.expectedVersion,
            ":next": s.expectedVersion + 1,
            ":c": JSON.stringify(s.commitments),
          },
        },
      });
    }
    for (const a of c.allocations) {
      items.push({
        Put: {
          TableName: this.#t.allocations,
          Item: {
            allocationId: a.allocationId,
            kind: "allocation",
            body: toWire(a.allocation),
            ...(a.commitment ? { commitment: JSON.stringify(a.commitment) } : {}),
            status: "committed",
            outbox: PENDING,
            // Collecting accepts from now on (accept-registry.ts); leaves the index when opened or lapsed.
            awaitingOpen: "awaiting",
            openStatus: "awaiting",
            createdAtMs: now,
          },
          ConditionExpression: "attribute_not_exists(allocationId)",
        },
      });
    }
    try {
      await this.#db.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (err) {
      if (err instanceof TransactionCanceledException) return false;
      throw err;
    }
  }

  async voidOffer(offerId: Bytes32, expectedVersion: number, v: VoidAllocation): Promise<boolean> {
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#t.offers,
                Key: { offerId },
                ConditionExpression: "#s = :open AND version = :v",
                UpdateExpression: "SET version = :next, #s = :void REMOVE openKind",
                ExpressionAttributeNames: { "#s": "status" },
                ExpressionAttributeValues: {
                  ":open": OPEN,
                  ":v": expectedVersion,
                  ":next": expectedVersion + 1,
                  ":void": "void",
                },
              },
            },
            {
              Put: {
                TableName: this.#t.allocations,
                Item: {
                  allocationId: `void#${offerId}`,
                  kind: "void",
                  body: toWire(v),
                  status: "committed",
                  outbox: PENDING,
                  createdAtMs: Date.now(),
                },
                ConditionExpression: "attribute_not_exists(allocationId)",
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof TransactionCanceledException) return false;
      throw err;
    }
  }

  async pending(): Promise<PendingPublication[]> {
    const out: PendingPublication[] = [];
    const pages = paginateQuery(
      { client: this.#db },
      {
        TableName: this.#t.allocations,
        IndexName: ALLOCATIONS_BY_OUTBOX,
        KeyConditionExpression: "outbox = :p",
        ExpressionAttributeValues: { ":p": PENDING },
      },
    );
    for await (const page of pages) {
      for (const i of page.Items ?? []) {
        const key = i["allocationId"] as string;
        const body = JSON.parse(i["body"] as string);
        if (i["kind"] === "void") out.push({ kind: "void", key, voidAllocation: voidSchema.parse(body) });
        else
          out.push({
            kind: "allocation",
            allocationId: key as Bytes32,
            allocation: allocationSchema.parse(body) as Allocation,
          });
      }
    }
    return out;
  }

  #published(key: string) {
    return {
      TableName: this.#t.allocations,
      Key: { allocationId: key },
      UpdateExpression: "SET #s = :published REMOVE outbox",
      ExpressionAttributeNames: { "#s": "status" },
      ExpressionAttributeValues: { ":published": "published" },
    };
  }

  async markPublished(key: string): Promise<void> {
    await this.#db.send(new UpdateCommand(this.#published(key)));
  }

  /**
   * One transaction per 100 keys. An accept recorded on one of the items at the same moment
   * cancels it (TransactionConflict): that chunk is then marked one item at a time.
   */
  async markAllPublished(keys: readonly string[]): Promise<void> {
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
    await Promise.all(
      chunks.map(async (chunk) => {
        if (chunk.length === 1) return this.markPublished(chunk[0]!);
        try {
          await this.#db.send(
            new TransactWriteCommand({
              TransactItems: chunk.map((key) => ({ Update: this.#published(key) })),
            }),
          );
        } catch (err) {
          if (!(err instanceof TransactionCanceledException)) throw err;
          await Promise.all(chunk.map((key) => this.markPublished(key)));
        }
      }),
    );
  }

  /** The stored allocation terms (e.g. for the verifier-bridge's termsOf). */
  async allocation(allocationId: Bytes32): Promise<Allocation | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#t.allocations, Key: { allocationId } }),
    );
    if (Item?.["kind"] !== "allocation") return undefined;
    return allocationSchema.parse(JSON.parse(Item["body"] as string));
  }

  async cursor(name: string): Promise<string | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#t.cursors, Key: { name }, ConsistentRead: true }),
    );
    return Item?.["position"] as string | undefined;
  }

  async advanceCursor(name: string, from: string | undefined, to: string): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#t.cursors,
          Item: { name, position: to, updatedAtMs: Date.now() },
          ConditionExpression: from === undefined ? "attribute_not_exists(#n)" : "#p = :from",
          ExpressionAttributeNames: from === undefined ? { "#n": "name" } : { "#p": "position" },
          ...(from === undefined ? {} : { ExpressionAttributeValues: { ":from": from } }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
