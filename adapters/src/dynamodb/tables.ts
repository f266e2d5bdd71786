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
// allocations    PK allocationId (S): the EIP-712 digest of the allocation, or `void#<offerId>`.
//                Attributes: kind (allocation | void), body (S, wire JSON),
//                commitment (S, JSON: the share it took of each Supplier offer, given back if it
//                lapses), status (committed | published), createdAtMs, and outbox (S = "pending")
//                until published.
//                GSI byOutbox: PK outbox, SK allocationId — sparse: what is left to publish.
//                Accept round (accept-registry.ts): `accept:<address>` (M) per party that accepted
//                (signature, commitment, envelope, recordedAtMs), openStatus (awaiting |
//                submitting | opened | lapsed), openClaimedAtMs, openTx, openedAtMs, lapsedAtMs,
//                lapsedReason,
//                and awaitingOpen (S = "awaiting") until the allocation is opened or lapses.
//                GSI byAwaitingOpen: PK awaitingOpen, SK allocationId — sparse, keys only: the
//                allocations still collecting accepts or being opened.
// participants   PK account (S): kinds (SS), firstSeenMs, lastOfferMs, offers (N).
// cursors        PK name (S): position (S), updatedAtMs (N) — moved with compare-and-set.
// idempotency    PK id (S): Powertools idempotency records and the verifier-bridge's applied-event
//                markers; TTL on `expiration`.
// Names, keys, indexes and TTL are defined here only: the local tables (createTables) and the CDK
// stacks (infra/src/registries/tables.ts) are both built from these definitions.
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

/** The registries by logical name; a table's physical name is `${prefix}${name}`. */
export const TABLES = ["offers", "allocations", "participants", "cursors", "idempotency"] as const;
export type TableName = (typeof TABLES)[number];
export type TableNames = { readonly [name in TableName]: string };

/** Env var with the table-name prefix (the CDK stack sets the real names through the same prefix). */
export const TABLE_PREFIX_ENV = "SURPLUS_TABLE_PREFIX";
/** The prefix when none is configured (local market, tests, and the CDK construct's default). */
export const DEFAULT_TABLE_PREFIX = "surplus-";

/**
 * The idempotency table's TTL attribute (epoch seconds): Powertools' idempotency records and the
 * verifier-bridge's applied-event markers both expire by it. The one name the adapters, the local
 * tables and the CDK stacks use.
 */
export const IDEMPOTENCY_TTL_ATTRIBUTE = "expiration";

/**
 * The tables whose items DynamoDB's TTL deletes, with the attribute it reads. The other
 * registries are the market's books and are kept.
 */
export const TTL_ATTRIBUTES: { readonly [name in TableName]?: string } = {
  idempotency: IDEMPOTENCY_TTL_ATTRIBUTE,
};

export function tableNames(prefix = process.env[TABLE_PREFIX_ENV] ?? DEFAULT_TABLE_PREFIX): TableNames {
  return Object.fromEntries(TABLES.map((name) => [name, `${prefix}${name}`])) as Record<TableName, string>;
}

export const OFFERS_BY_OPEN_KIND = "byOpenKind";
export const ALLOCATIONS_BY_OUTBOX = "byOutbox";
export const ALLOCATIONS_BY_AWAITING_OPEN = "byAwaitingOpen";

/** A global secondary index: keyed by `hash` (S), sorted by its table's key. */
interface Index {
  readonly name: string;
  readonly hash: string;
  readonly projection: "ALL" | "KEYS_ONLY";
}

/** An on-demand table keyed by `key` (S), with its indexes. */
function table(name: string, key: string, indexes: readonly Index[] = []): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
    AttributeDefinitions: [key, ...indexes.map((i) => i.hash)].map((attribute) => ({
      AttributeName: attribute,
      AttributeType: "S",
    })),
    ...(indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: indexes.map((i) => ({
            IndexName: i.name,
            KeySchema: [
              { AttributeName: i.hash, KeyType: "HASH" },
              { AttributeName: key, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: i.projection },
          })),
        }),
  };
}

/** The CreateTable requests of every table (also what infra/ mirrors in CDK). */
export function tableDefinitions(names: TableNames): CreateTableCommandInput[] {
  return [
    table(names.offers, "offerId", [{ name: OFFERS_BY_OPEN_KIND, hash: "openKind", projection: "ALL" }]),
    table(names.allocations, "allocationId", [
      { name: ALLOCATIONS_BY_OUTBOX, hash: "outbox", projection: "ALL" },
      { name: ALLOCATIONS_BY_AWAITING_OPEN, hash: "awaitingOpen", projection: "KEYS_ONLY" },
    ]),
    table(names.participants, "account"),
    table(names.cursors, "name"),
    table(names.idempotency, "id"),
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
  for (const [name, attribute] of Object.entries(TTL_ATTRIBUTES) as Array<[TableName, string]>) {
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName: names[name],
          TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
        }),
      )
      .catch((err: Error) => {
        // Enabling TTL twice is rejected; anything else is real.
        if (!/already enabled|TimeToLive is already/i.test(err.message)) throw err;
      });
  }
}
