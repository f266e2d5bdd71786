// Offer statuses and reputations (issue 17) in the Allocator's tables (tables.ts):
// - an offer's status is an `offerStatus` attribute (S, JSON) of its offers item, its allocations a
//   string set `statusAllocations` they accumulate in (a later round's status keeps the earlier
//   rounds' allocations); a status equal to the stored one is not rewritten (`statusKey`);
// - a party's reputation is a `reputation` attribute (S, JSON) of its participants item, moved
//   with compare-and-set on `reputationVersion`; a close already in it is not counted again.
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, paginateScan, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import {
  type Address,
  type CloseRecord,
  emptyReputation,
  type OfferStatus,
  type OfferStatusRegistry,
  type Reputation,
  type ReputationLedger,
  withClose,
} from "@surplus/core";
import { type TableNames, tableNames } from "./tables.ts";

/** Compare-and-set attempts of one reputation update (closes of one party rarely race). */
const ATTEMPTS = 5;
/** Offers whose last status key is remembered (forgetting them only costs a conditional write each). */
const KNOWN_LIMIT = 100_000;

export class DynamoOfferStatuses implements OfferStatusRegistry {
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;
  /** The status key this instance last wrote or found per offer: an unchanged status sends no request (the condition still guards other instances). */
  readonly #known = new Map<string, string>();

  constructor(db: DynamoDBDocumentClient, names: TableNames = tableNames()) {
    this.#db = db;
    this.#t = names;
  }

  async recordStatuses(statuses: readonly OfferStatus[]): Promise<OfferStatus[]> {
    const changed = await Promise.all(statuses.map((s) => this.#record(s)));
    return statuses.filter((_s, i) => changed[i]);
  }

  async #record(s: OfferStatus): Promise<boolean> {
    const key = `${s.state}|${s.reason ?? ""}|${[...s.allocations].sort().join(",")}`;
    const { allocations, ...rest } = s;
    if (this.#known.get(s.offerId) === key) return false;
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#t.offers,
          Key: { offerId: s.offerId },
          UpdateExpression: `SET #status = :s, statusKey = :k${allocations.length ? " ADD statusAllocations :a" : ""}`,
          // Only recorded offers get a status, and only when it changed.
          ConditionExpression:
            "attribute_exists(offerId) AND (attribute_not_exists(statusKey) OR statusKey <> :k)",
          ExpressionAttributeNames: { "#status": "offerStatus" },
          ExpressionAttributeValues: {
            ":s": JSON.stringify(rest),
            ":k": key,
            ...(allocations.length ? { ":a": new Set(allocations) } : {}),
          },
        }),
      );
      if (this.#known.size >= KNOWN_LIMIT) this.#known.clear();
      this.#known.set(s.offerId, key);
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return false;
    }
  }

  async statuses(account?: Address): Promise<OfferStatus[]> {
    const out: OfferStatus[] = [];
    const pages = paginateScan(
      { client: this.#db },
      {
        TableName: this.#t.offers,
        FilterExpression: account
          ? "attribute_exists(#status) AND account = :a"
          : "attribute_exists(#status)",
        ProjectionExpression: "offerId, #status, statusAllocations",
        ExpressionAttributeNames: { "#status": "offerStatus" },
        ...(account ? { ExpressionAttributeValues: { ":a": account } } : {}),
      },
    );
    for await (const page of pages)
      for (const item of page.Items ?? []) {
        const s = JSON.parse(item["offerStatus"] as string) as Omit<OfferStatus, "allocations">;
        const allocations = item["statusAllocations"] as Set<string> | undefined;
        out.push({
          ...s,
          allocations: allocations ? ([...allocations].sort() as OfferStatus["allocations"]) : [],
        });
      }
    return out.sort((a, b) => a.updatedAtMs - b.updatedAtMs || (a.offerId < b.offerId ? -1 : 1));
  }
}

export class DynamoReputationLedger implements ReputationLedger {
  readonly #db: DynamoDBDocumentClient;
  readonly #t: TableNames;

  constructor(db: DynamoDBDocumentClient, names: TableNames = tableNames()) {
    this.#db = db;
    this.#t = names;
  }

  async recordClose(account: Address, close: CloseRecord): Promise<void> {
    const key = account.toLowerCase();
    for (let attempt = 1; ; attempt++) {
      const got = await this.#db.send(
        new GetCommand({ TableName: this.#t.participants, Key: { account: key }, ConsistentRead: true }),
      );
      const version = (got.Item?.["reputationVersion"] as number | undefined) ?? 0;
      const previous = got.Item?.["reputation"]
        ? (JSON.parse(got.Item["reputation"] as string) as Reputation)
        : emptyReputation(account);
      const next = withClose(previous, close);
      if (next === previous) return; // counted before
      try {
        await this.#db.send(
          new UpdateCommand({
            TableName: this.#t.participants,
            Key: { account: key },
            UpdateExpression: "SET reputation = :r, reputationVersion = :next",
            ConditionExpression: "attribute_not_exists(reputationVersion) OR reputationVersion = :v",
            ExpressionAttributeValues: { ":r": JSON.stringify(next), ":next": version + 1, ":v": version },
          }),
        );
        return;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException) || attempt >= ATTEMPTS) throw err;
      }
    }
  }

  async reputations(): Promise<Map<Address, Reputation>> {
    const out = new Map<Address, Reputation>();
    const pages = paginateScan(
      { client: this.#db },
      {
        TableName: this.#t.participants,
        FilterExpression: "attribute_exists(reputation)",
        ProjectionExpression: "account, reputation",
      },
    );
    for await (const page of pages)
      for (const item of page.Items ?? [])
        out.set(
          (item["account"] as string).toLowerCase() as Address,
          JSON.parse(item["reputation"] as string),
        );
    return out;
  }
}
