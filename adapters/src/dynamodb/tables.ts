// The Allocator's DynamoDB tables. All are on-demand (PAY_PER_REQUEST); names are
// `${prefix}${table}` so several markets (or test runs) can share one endpoint.
//
// offers         PK offerId (S): the EIP-712 digest of the offer.
//                Attributes: kind, account, status (open | closed | void), version (N, bumped by
//                every conditional update), offer (S, wire JSON), envelope (S, as received),
//                openWindows (S, JSON, Customers), commitments (S, JSON, Suppliers), end (N),
//                recordedAtMs (N), and openKind (S = kind) only while open.
//                GSI byOpenKind: PK openKind, SK offerId — sparse: lists only open offers, so a
//                round queries them instead of scanning the table.
//                GSI byAccount: PK account, SK offerId — a participant's offers.
// allocations    PK allocationId (S): the EIP-712 digest of the allocation, or `void#<offerId>`.
//                Attributes: kind (allocation | void), body (S, wire JSON), customerOfferId,
//                commitment (S, JSON: the share it took of each Supplier offer, given back if it
//                lapses), status (committed | published), createdAtMs, and outbox (S = "pending")
//                until published.
//                GSI byOutbox: PK outbox, SK allocationId — sparse: what is left to publish.
//                GSI byCustomerOffer: PK customerOfferId, SK allocationId — the chunks of one offer.
//                Accept round (accept-registry.ts): `accept:<address>` (M) per party that accepted
//                (signature, commitment, envelope, recordedAtMs), openStatus (awaiting |
//                submitting | opened | lapsed), openClaimedAtMs, openTx, openedAtMs, lapsedAtMs,
//                lapsedReason,
//                and awaitingOpen (S = "awaiting") until the allocation is opened or lapses.
//                GSI byAwaitingOpen: PK awaitingOpen, SK allocationId — sparse, keys only: the
//                allocations still collecting accepts or being opened.
// participants   PK account (S): kinds (SS), firstSeenMs, lastOfferMs, offers (N).
// cursors        PK name (S): position (S), updatedAtMs (N) — moved with compare-and-set.
// idempotency    PK id (S): Powertools idempotency records; TTL on `expiration`.
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

export interface TableNames {
  readonly offers: string;
  readonly allocations: string;
  readonly participants: string;
  readonly cursors: string;
  readonly idempotency: string;
}

/** Env var with the table-name prefix (the CDK stack sets the real names through the same prefix). */
export const TABLE_PREFIX_ENV = "SURPLUS_TABLE_PREFIX";

/**
 * The idempotency table's TTL attribute (epoch seconds): Powertools' idempotency records and the
 * verifier-bridge's applied-event markers both expire by it. The one name the adapters, the local
 * tables and the CDK stacks use.
 */
export const IDEMPOTENCY_TTL_ATTRIBUTE = "expiration";

export function tableNames(prefix = process.env[TABLE_PREFIX_ENV] ?? "surplus-"): TableNames {
  return {
    offers: `${prefix}offers`,
    allocations: `${prefix}allocations`,
    participants: `${prefix}participants`,
    cursors: `${prefix}cursors`,
    idempotency: `${prefix}idempotency`,
  };
}

export const OFFERS_BY_OPEN_KIND = "byOpenKind";
export const OFFERS_BY_ACCOUNT = "byAccount";
export const ALLOCATIONS_BY_OUTBOX = "byOutbox";
export const ALLOCATIONS_BY_CUSTOMER_OFFER = "byCustomerOffer";
export const ALLOCATIONS_BY_AWAITING_OPEN = "byAwaitingOpen";

const S = "S" as const;
const allProjected = { ProjectionType: "ALL" as const };

/** The CreateTable requests of every table (also what infra/ mirrors in CDK). */
export function tableDefinitions(names: TableNames): CreateTableCommandInput[] {
  return [
    {
      TableName: names.offers,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "offerId", KeyType: "HASH" }],
      AttributeDefinitions: [
        { AttributeName: "offerId", AttributeType: S },
        { AttributeName: "openKind", AttributeType: S },
        { AttributeName: "account", AttributeType: S },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: OFFERS_BY_OPEN_KIND,
          KeySchema: [
            { AttributeName: "openKind", KeyType: "HASH" },
            { AttributeName: "offerId", KeyType: "RANGE" },
          ],
          Projection: allProjected,
        },
        {
          IndexName: OFFERS_BY_ACCOUNT,
          KeySchema: [
            { AttributeName: "account", KeyType: "HASH" },
            { AttributeName: "offerId", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
    },
    {
      TableName: names.allocations,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "allocationId", KeyType: "HASH" }],
      AttributeDefinitions: [
        { AttributeName: "allocationId", AttributeType: S },
        { AttributeName: "outbox", AttributeType: S },
        { AttributeName: "customerOfferId", AttributeType: S },
        { AttributeName: "awaitingOpen", AttributeType: S },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: ALLOCATIONS_BY_OUTBOX,
          KeySchema: [
            { AttributeName: "outbox", KeyType: "HASH" },
            { AttributeName: "allocationId", KeyType: "RANGE" },
          ],
          Projection: allProjected,
        },
        {
          IndexName: ALLOCATIONS_BY_CUSTOMER_OFFER,
          KeySchema: [
            { AttributeName: "customerOfferId", KeyType: "HASH" },
            { AttributeName: "allocationId", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
        {
          IndexName: ALLOCATIONS_BY_AWAITING_OPEN,
          KeySchema: [
            { AttributeName: "awaitingOpen", KeyType: "HASH" },
            { AttributeName: "allocationId", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
    },
    {
      TableName: names.participants,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "account", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "account", AttributeType: S }],
    },
    {
      TableName: names.cursors,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "name", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "name", AttributeType: S }],
    },
    {
      TableName: names.idempotency,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: S }],
    },
  ];
}

/** Creates every table that does not exist yet and waits until all are ACTIVE (idempotent). */
export async function createTables(client: DynamoDBClient, names: TableNames = tableNames()): Promise<void> {
  for (const definition of tableDefinitions(names)) {
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  for (const definition of tableDefinitions(names)) {
    for (let attempt = 0; ; attempt++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
      const ready =
        Table?.TableStatus === "ACTIVE" &&
        (Table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === "ACTIVE");
      if (ready) break;
      if (attempt > 120) throw new Error(`table ${definition.TableName} did not become ACTIVE`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: names.idempotency,
        TimeToLiveSpecification: { AttributeName: IDEMPOTENCY_TTL_ATTRIBUTE, Enabled: true },
      }),
    )
    .catch((err: Error) => {
      // Enabling TTL twice is rejected; anything else is real.
      if (!/already enabled|TimeToLive is already/i.test(err.message)) throw err;
    });
}
