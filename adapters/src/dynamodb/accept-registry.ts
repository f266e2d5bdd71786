// The Allocator's accept round on DynamoDB: accepts and the `open` submission live on the
// allocation's own item (tables.ts), so one strongly consistent read gives everything a run needs.
// The guarantees the round relies on:
// - an accept is a conditional update that sets `accept:<address>` only if absent and only while
//   the allocation collects accepts: a replayed channel or a concurrent run stores it once;
// - the `open` submission is claimed with compare-and-set on openStatus (awaiting → submitting),
//   so two runs never both send it; a claim whose run crashed is taken over by naming its time;
// - opened and lapsed are terminal, and leave the sparse byAwaitingOpen index;
// - a lapse writes, in the same transaction, what core's `giveBack` says to give back (the
//   allocation's commitment on each Supplier offer, its window on the Customer offer), each write
//   conditioned on the offer's version as read: so it is given back exactly once, by the run whose
//   lapse landed, and never over an offer round's concurrent commit (that cancels it; it is
//   rebuilt and retried).
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  type AcceptRecording,
  type AcceptRegistry,
  type Address,
  type Allocation,
  allocation as allocationSchema,
  type Bytes32,
  type Commitment,
  customerOffer as customerOfferSchema,
  DEFAULT_DELAYS,
  giveBack,
  type Hex,
  type LapsingCustomer,
  type OpenProgress,
  type OpenStatus,
  type ProtocolDelays,
  type RecordedAccept,
  RecordRefusedError,
  type TimeWindow,
} from "@surplus/core";
import { DynamoAllocatorRegistry } from "./registry.ts";
import { ALLOCATIONS_BY_AWAITING_OPEN, type TableNames, tableNames } from "./tables.ts";

const AWAITING: OpenStatus = "awaiting";
const SUBMITTING: OpenStatus = "submitting";
const OPENED: OpenStatus = "opened";
const LAPSED: OpenStatus = "lapsed";
const ACCEPT_PREFIX = "accept:";
const OFFER_OPEN = "open";
/** Transactions a lapse tries before giving up for this run (each loses only to an offer round's commit). */
const MAX_GIVE_BACK_ATTEMPTS = 5;

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** Still collecting accepts (or being opened); also true of allocations committed before the accept round existed. */
const COLLECTING = "(attribute_not_exists(openStatus) OR openStatus IN (:awaiting, :submitting))";

export class DynamoAcceptRegistry implements AcceptRegistry {
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;
  readonly #allocations: DynamoAllocatorRegistry;

  constructor(db: DynamoDBDocumentClient, names: TableNames = tableNames()) {
    this.#db = db;
    this.#t = names;
    this.#allocations = new DynamoAllocatorRegistry(db, names);
  }

  allocation(allocationId: Bytes32): Promise<Allocation | undefined> {
    return this.#allocations.allocation(allocationId);
  }

  async #item(allocationId: Bytes32): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#t.allocations, Key: { allocationId }, ConsistentRead: true }),
    );
    return Item;
  }

  /** Runs a conditional update; false when its condition failed. */
  async #conditional(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    try {
      await this.#db.send(new UpdateCommand(input));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async recordAccept(a: RecordedAccept): Promise<AcceptRecording> {
    const stored = await this.#conditional({
      TableName: this.#t.allocations,
      Key: { allocationId: a.allocationId },
      UpdateExpression:
        "SET #accept = :accept, awaitingOpen = if_not_exists(awaitingOpen, :awaiting), openStatus = if_not_exists(openStatus, :awaiting)",
      ConditionExpression: `kind = :allocation AND attribute_not_exists(#accept) AND ${COLLECTING}`,
      ExpressionAttributeNames: { "#accept": `${ACCEPT_PREFIX}${a.account}` },
      ExpressionAttributeValues: {
        ":accept": {
          signature: a.signature,
          commitment: a.commitment,
          envelope: a.envelope,
          recordedAtMs: a.recordedAtMs,
        },
        ":allocation": "allocation",
        ":awaiting": AWAITING,
        ":submitting": SUBMITTING,
      },
    }).catch((err: unknown) => {
      // DynamoDB refuses an item it can never store (over 400 KB): the accept is refused, not retried.
      throw (err as Error).name === "ValidationException"
        ? new RecordRefusedError((err as Error).message)
        : err;
    });
    if (stored) return "recorded";
    const item = await this.#item(a.allocationId);
    if (item?.["kind"] !== "allocation") return "unknown-allocation";
    if (item[`${ACCEPT_PREFIX}${a.account}`] !== undefined) return "duplicate";
    return "finished";
  }

  async awaitingOpen(): Promise<Bytes32[]> {
    const ids: Bytes32[] = [];
    const pages = paginateQuery(
      { client: this.#db },
      {
        TableName: this.#t.allocations,
        IndexName: ALLOCATIONS_BY_AWAITING_OPEN,
        KeyConditionExpression: "awaitingOpen = :a",
        ExpressionAttributeValues: { ":a": AWAITING },
      },
    );
    for await (const page of pages) for (const i of page.Items ?? []) ids.push(i["allocationId"] as Bytes32);
    return ids;
  }

  async progress(allocationId: Bytes32): Promise<OpenProgress | undefined> {
    const item = await this.#item(allocationId);
    if (item?.["kind"] !== "allocation") return undefined;
    const accepts = new Map<Address, RecordedAccept>();
    for (const [name, value] of Object.entries(item)) {
      if (!name.startsWith(ACCEPT_PREFIX)) continue;
      const v = value as { signature: Hex; commitment: Bytes32; envelope: string; recordedAtMs: number };
      const account = name.slice(ACCEPT_PREFIX.length) as Address;
      accepts.set(account, { allocationId, account, ...v });
    }
    return {
      allocationId,
      allocation: allocationSchema.parse(JSON.parse(item["body"] as string)),
      accepts,
      status: (item["openStatus"] as OpenStatus | undefined) ?? AWAITING,
      ...(item["openClaimedAtMs"] !== undefined ? { claimedAtMs: item["openClaimedAtMs"] as number } : {}),
      ...(item["openTx"] !== undefined ? { transactionHash: item["openTx"] as string } : {}),
    };
  }

  claimOpen(allocationId: Bytes32, nowMs: number, staleClaimAtMs?: number): Promise<boolean> {
    return this.#conditional({
      TableName: this.#t.allocations,
      Key: { allocationId },
      UpdateExpression: "SET openStatus = :submitting, openClaimedAtMs = :now",
      ConditionExpression:
        staleClaimAtMs === undefined
          ? "kind = :allocation AND (attribute_not_exists(openStatus) OR openStatus = :awaiting)"
          : "kind = :allocation AND openStatus = :submitting AND openClaimedAtMs = :stale",
      ExpressionAttributeValues: {
        ":submitting": SUBMITTING,
        ":now": nowMs,
        ":allocation": "allocation",
        ...(staleClaimAtMs === undefined ? { ":awaiting": AWAITING } : { ":stale": staleClaimAtMs }),
      },
    });
  }

  async releaseOpen(allocationId: Bytes32, claimedAtMs: number): Promise<void> {
    await this.#conditional({
      TableName: this.#t.allocations,
      Key: { allocationId },
      UpdateExpression: "SET openStatus = :awaiting REMOVE openClaimedAtMs",
      ConditionExpression: "openStatus = :submitting AND openClaimedAtMs = :claimed",
      ExpressionAttributeValues: {
        ":awaiting": AWAITING,
        ":submitting": SUBMITTING,
        ":claimed": claimedAtMs,
      },
    });
  }

  async recordOpenSent(allocationId: Bytes32, transactionHash: string): Promise<void> {
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#t.allocations,
        Key: { allocationId },
        UpdateExpression: "SET openTx = :tx",
        ExpressionAttributeValues: { ":tx": transactionHash },
      }),
    );
  }

  async markOpened(allocationId: Bytes32, opened: { atMs: number; transactionHash?: string }): Promise<void> {
    // Unconditional: the chain says it is open, whatever a run recorded before.
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#t.allocations,
        Key: { allocationId },
        UpdateExpression: `SET openStatus = :opened, openedAtMs = :at${opened.transactionHash ? ", openTx = :tx" : ""} REMOVE awaitingOpen`,
        ExpressionAttributeValues: {
          ":opened": OPENED,
          ":at": opened.atMs,
          ...(opened.transactionHash ? { ":tx": opened.transactionHash } : {}),
        },
      }),
    );
  }

  async markLapsed(
    allocationId: Bytes32,
    lapsed: { atMs: number; reason: string; claimedAtMs?: number; delays?: ProtocolDelays },
  ): Promise<boolean> {
    const unclaimed = "attribute_not_exists(openStatus) OR openStatus = :awaiting";
    const lapse: TransactItem = {
      Update: {
        TableName: this.#t.allocations,
        Key: { allocationId },
        UpdateExpression:
          "SET openStatus = :lapsed, lapsedAtMs = :at, lapsedReason = :reason REMOVE awaitingOpen, openClaimedAtMs",
        ConditionExpression:
          lapsed.claimedAtMs === undefined
            ? `kind = :allocation AND (${unclaimed})`
            : `kind = :allocation AND (${unclaimed} OR (openStatus = :submitting AND openClaimedAtMs = :claimed))`,
        ExpressionAttributeValues: {
          ":lapsed": LAPSED,
          ":at": lapsed.atMs,
          ":reason": lapsed.reason,
          ":allocation": "allocation",
          ":awaiting": AWAITING,
          ...(lapsed.claimedAtMs === undefined
            ? {}
            : { ":submitting": SUBMITTING, ":claimed": lapsed.claimedAtMs }),
        },
      },
    };
    // The give-back is conditioned on the offers' versions as read: an offer round that changed
    // one meanwhile cancels the transaction, and it is rebuilt from what that round left.
    for (let attempt = 1; ; attempt++) {
      const item = await this.#item(allocationId);
      if (item?.["kind"] !== "allocation") return false;
      const giveBack = await this.#giveBack(item, lapsed.atMs, lapsed.delays ?? DEFAULT_DELAYS);
      try {
        await this.#db.send(new TransactWriteCommand({ TransactItems: [lapse, ...giveBack] }));
        return true;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        // Lapsed, opened or claimed by another run: it gave back whatever there was.
        if (err.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed") return false;
        if (attempt >= MAX_GIVE_BACK_ATTEMPTS)
          throw new Error(`could not lapse ${allocationId}: its offers kept changing`, { cause: err });
      }
    }
  }

  /** The conditional updates that write core's give-back of a lapsing allocation to its offers. */
  async #giveBack(
    item: Record<string, unknown>,
    atMs: number,
    delays: ProtocolDelays,
  ): Promise<TransactItem[]> {
    const a = allocationSchema.parse(JSON.parse(item["body"] as string));
    const supplierIds = [...new Set(a.supplierOffers)];
    const [customer, ...suppliers] = await Promise.all(
      [a.customerOffer, ...supplierIds].map(async (offerId) => {
        const { Item } = await this.#db.send(
          new GetCommand({ TableName: this.#t.offers, Key: { offerId }, ConsistentRead: true }),
        );
        return Item;
      }),
    );
    const back = giveBack({
      allocation: a,
      ...(item["commitment"] !== undefined
        ? { share: JSON.parse(item["commitment"] as string) as Commitment }
        : {}),
      ...(customer
        ? {
            customer: {
              offer: customerOfferSchema.parse(JSON.parse(customer["offer"] as string)),
              status: customer["status"] as LapsingCustomer["status"],
              openWindows: JSON.parse(customer["openWindows"] as string) as TimeWindow[],
            },
          }
        : {}),
      suppliers: suppliers.flatMap((s) =>
        s
          ? [
              {
                offerId: s["offerId"] as Bytes32,
                commitments: JSON.parse(s["commitments"] as string) as Commitment[],
              },
            ]
          : [],
      ),
      nowMs: atMs,
      delays,
    });
    // Each write is conditioned on the version read, so it lands over nothing a round did since.
    const versions = new Map(
      [customer, ...suppliers].flatMap((i) => (i ? [[i["offerId"] as string, i["version"] as number]] : [])),
    );
    const versioned = (offerId: string, set: string, values: Record<string, unknown>): TransactItem => {
      const version = versions.get(offerId)!;
      return {
        Update: {
          TableName: this.#t.offers,
          Key: { offerId },
          ConditionExpression: "version = :v",
          UpdateExpression: `SET version = :next, ${set}`,
          ...(set.includes("#s") ? { ExpressionAttributeNames: { "#s": "status" } } : {}),
          ExpressionAttributeValues: { ":v": version, ":next": version + 1, ...values },
        },
      };
    };
    return [
      ...back.suppliers.map((s) =>
        versioned(s.offerId, "commitments = :c", { ":c": JSON.stringify(s.commitments) }),
      ),
      ...(back.customer
        ? [
            versioned(back.customer.offerId, "openWindows = :w, #s = :open, openKind = :kind", {
              ":w": JSON.stringify(back.customer.openWindows),
              ":open": OFFER_OPEN,
              ":kind": "customer",
            }),
          ]
        : []),
    ];
  }

  cursor(name: string): Promise<string | undefined> {
    return this.#allocations.cursor(name);
  }

  advanceCursor(name: string, from: string | undefined, to: string): Promise<boolean> {
    return this.#allocations.advanceCursor(name, from, to);
  }
}
