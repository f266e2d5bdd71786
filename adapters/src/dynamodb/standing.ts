// StandingRegistry over DynamoDB, in the tables the Allocator has (tables.ts): a party's standing
// is a `standing` attribute (S, JSON) of its participants item, moved with compare-and-set on
// `standingVersion`; an offer's refusal is a `refusal` attribute (S, JSON) of its offers item (only
// offers that were recorded: out-of-bounds ones never are, and are reported by the round instead).
// Admission (AdmittedParticipants) is an `admittedKinds` set (SS) and `admittedAtMs` on the
// participants item, written by the operator's admission (operator/src/allocator/admission.ts).
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  type Address,
  type AdmittedKind,
  type AdmittedParticipants,
  type BackoffPolicy,
  type Bytes32,
  type OfferRefusal,
  type Standing,
  type StandingRegistry,
  strike,
} from "@surplus/core";
import { type TableNames, tableNames } from "./tables.ts";

/**
 * The participants items of `accounts`, by key (BatchGetItem, 100 keys a request): the functions'
 * role grants item-level reads only, never Scan (infra/src/constructs/market-function.ts).
 */
async function participantItems(
  db: DynamoDBDocumentClient,
  table: string,
  accounts: readonly Address[],
  projection: string,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const unique = [...new Set(accounts)];
  for (let i = 0; i < unique.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = unique
      .slice(i, i + 100)
      .map((account) => ({ account }));
    for (let attempt = 0; keys?.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
      const got: BatchGetCommandOutput = await db.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: keys,
              ProjectionExpression: projection.replace(/\baccount\b/, "#a"),
              ExpressionAttributeNames: { "#a": "account" },
            },
          },
        }),
      );
      out.push(...(got.Responses?.[table] ?? []));
      keys = got.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return out;
}

/** Compare-and-set attempts of one strike before giving up (strikes of one party rarely race). */
const ATTEMPTS = 5;

export class DynamoStandingRegistry implements StandingRegistry {
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;

  constructor(db: DynamoDBDocumentClient, names: TableNames = tableNames()) {
    this.#db = db;
    this.#t = names;
  }

  async standings(accounts: readonly Address[]): Promise<Map<Address, Standing>> {
    const out = new Map<Address, Standing>();
    for (const item of await participantItems(this.#db, this.#t.participants, accounts, "account, standing"))
      if (item["standing"]) out.set(item["account"] as Address, JSON.parse(item["standing"] as string));
    return out;
  }

  async recordStrike(
    account: Address,
    atMs: number,
    reason: string,
    policy?: BackoffPolicy,
  ): Promise<Standing> {
    for (let attempt = 1; ; attempt++) {
      const got = await this.#db.send(
        new GetCommand({ TableName: this.#t.participants, Key: { account }, ConsistentRead: true }),
      );
      const version = (got.Item?.["standingVersion"] as number | undefined) ?? 0;
      const previous = got.Item?.["standing"]
        ? (JSON.parse(got.Item["standing"] as string) as Standing)
        : undefined;
      const next = strike(previous, account, atMs, reason, policy);
      try {
        await this.#db.send(
          new UpdateCommand({
            TableName: this.#t.participants,
            Key: { account },
            UpdateExpression: "SET standing = :s, standingVersion = :next",
            ConditionExpression: "attribute_not_exists(standingVersion) OR standingVersion = :v",
            ExpressionAttributeValues: { ":s": JSON.stringify(next), ":next": version + 1, ":v": version },
          }),
        );
        return next;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException) || attempt >= ATTEMPTS) throw err;
      }
    }
  }

  async refuseOffer(refusal: OfferRefusal): Promise<void> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#t.offers,
          Key: { offerId: refusal.offerId },
          UpdateExpression: "SET refusal = :r",
          ConditionExpression: "attribute_exists(offerId)",
          ExpressionAttributeValues: { ":r": JSON.stringify(refusal) },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async refusalOf(offerId: Bytes32): Promise<OfferRefusal | undefined> {
    const got = await this.#db.send(
      new GetCommand({ TableName: this.#t.offers, Key: { offerId }, ProjectionExpression: "refusal" }),
    );
    const r = got.Item?.["refusal"] as string | undefined;
    return r ? (JSON.parse(r) as OfferRefusal) : undefined;
  }
}

/** The admitted participants in the participants table. */
export class DynamoParticipants implements AdmittedParticipants {
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;

  constructor(db: DynamoDBDocumentClient, names: TableNames = tableNames()) {
    this.#db = db;
    this.#t = names;
  }

  /** Records `account` as admitted as `kind` (idempotent; kinds accumulate). */
  async admit(account: Address, kind: AdmittedKind, atMs: number): Promise<void> {
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#t.participants,
        Key: { account: account.toLowerCase() },
        UpdateExpression: "ADD admittedKinds :k SET admittedAtMs = if_not_exists(admittedAtMs, :now)",
        ExpressionAttributeValues: { ":k": new Set([kind]), ":now": atMs },
      }),
    );
  }

  /** Withdraws the admission (the broker grants are revoked by the same procedure). */
  async expel(account: Address): Promise<void> {
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#t.participants,
        Key: { account: account.toLowerCase() },
        UpdateExpression: "REMOVE admittedKinds, admittedAtMs",
      }),
    );
  }

  async admitted(accounts: readonly Address[]): Promise<Map<string, ReadonlySet<AdmittedKind>>> {
    const keys = [...new Set(accounts.map((a) => a.toLowerCase() as Address))];
    const out = new Map<string, ReadonlySet<AdmittedKind>>();
    for (const item of await participantItems(this.#db, this.#t.participants, keys, "account, admittedKinds"))
      if (item["admittedKinds"])
        out.set(
          (item["account"] as string).toLowerCase(),
          new Set(item["admittedKinds"] as Set<AdmittedKind>),
        );
    return out;
  }
}
