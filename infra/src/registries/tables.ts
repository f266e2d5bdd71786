// The market's DynamoDB registries, from the one definition the handlers and the local stack use:
// `tableDefinitions()` in @surplus/adapters (adapters/src/dynamodb/tables.ts, the allocator's
// CreateTable requests). This module only translates those requests into CDK table settings;
// what the CDK adds on top — encryption, point-in-time recovery, TTL, removal policy — is
// deployment policy, decided in the Registries construct.
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { IDEMPOTENCY_TTL_ATTRIBUTE, type TableNames, tableDefinitions } from "@surplus/adapters/dynamodb";

/** The logical name of a registry table. */
export type RegistryName = keyof TableNames;

export const REGISTRY_NAMES: readonly RegistryName[] = [
  "offers",
  "allocations",
  "participants",
  "cursors",
  "idempotency",
] as const;

/**
 * Attributes DynamoDB's TTL deletes expired items by (epoch seconds). Only Powertools
 * idempotency records expire (the adapters enable the same TTL on the local tables); offers,
 * allocations, participants and cursors are the market's books and are kept.
 */
export const TTL_ATTRIBUTES: Readonly<Partial<Record<RegistryName, string>>> = {
  idempotency: IDEMPOTENCY_TTL_ATTRIBUTE,
};

export interface KeyDefinition {
  readonly name: string;
  readonly type: "S" | "N" | "B";
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey?: KeyDefinition;
  readonly projection: "ALL" | "KEYS_ONLY" | "INCLUDE";
  readonly nonKeyAttributes?: readonly string[];
}

export interface TableDefinition {
  readonly partitionKey: KeyDefinition;
  readonly sortKey?: KeyDefinition;
  readonly indexes: readonly IndexDefinition[];
  readonly ttlAttribute?: string;
}

/** The physical table names for a market: `${market}-offers`, … (what SURPLUS_TABLE_PREFIX gives the handlers). */
export function registryTableNames(tablePrefix: string): TableNames {
  return {
    offers: `${tablePrefix}offers`,
    allocations: `${tablePrefix}allocations`,
    participants: `${tablePrefix}participants`,
    cursors: `${tablePrefix}cursors`,
    idempotency: `${tablePrefix}idempotency`,
  };
}

function keys(
  request: { KeySchema?: { AttributeName?: string; KeyType?: string }[] | undefined },
  types: ReadonlyMap<string, string>,
  where: string,
): { partitionKey: KeyDefinition; sortKey?: KeyDefinition } {
  const key = (kind: "HASH" | "RANGE"): KeyDefinition | undefined => {
    const element = request.KeySchema?.find((k) => k.KeyType === kind);
    if (!element?.AttributeName) return undefined;
    const type = types.get(element.AttributeName);
    if (type !== "S" && type !== "N" && type !== "B") {
      throw new Error(`${where}: attribute ${element.AttributeName} has no S/N/B definition`);
    }
    return { name: element.AttributeName, type };
  };
  const partitionKey = key("HASH");
  if (!partitionKey) throw new Error(`${where}: no HASH key`);
  const sortKey = key("RANGE");
  return sortKey ? { partitionKey, sortKey } : { partitionKey };
}

/** Translates one CreateTable request of the adapters into CDK-ready settings. */
export function fromCreateTable(name: RegistryName, request: CreateTableCommandInput): TableDefinition {
  const types = new Map(
    (request.AttributeDefinitions ?? []).map((a) => [a.AttributeName ?? "", a.AttributeType ?? ""]),
  );
  const indexes = (request.GlobalSecondaryIndexes ?? []).map((gsi): IndexDefinition => {
    const projection = gsi.Projection?.ProjectionType ?? "ALL";
    return {
      indexName: gsi.IndexName ?? "",
      ...keys(gsi, types, `${name} index ${gsi.IndexName}`),
      projection,
      ...(gsi.Projection?.NonKeyAttributes ? { nonKeyAttributes: gsi.Projection.NonKeyAttributes } : {}),
    };
  });
  const ttlAttribute = TTL_ATTRIBUTES[name];
  return {
    ...keys(request, types, `table ${name}`),
    indexes,
    ...(ttlAttribute === undefined ? {} : { ttlAttribute }),
  };
}

/** Every registry's settings, read from the adapters' definitions. */
export function registryTables(): Readonly<Record<RegistryName, TableDefinition>> {
  // Names are only used to pair each request with its registry.
  const names = registryTableNames("");
  const requests = tableDefinitions(names);
  const byName = new Map(requests.map((r) => [r.TableName, r]));
  const result: Partial<Record<RegistryName, TableDefinition>> = {};
  for (const name of REGISTRY_NAMES) {
    const request = byName.get(names[name]);
    if (!request) throw new Error(`@surplus/adapters defines no ${name} table`);
    result[name] = fromCreateTable(name, request);
  }
  if (requests.length !== REGISTRY_NAMES.length) {
    throw new Error(
      `@surplus/adapters defines ${requests.length} tables; infra knows ${REGISTRY_NAMES.join(", ")}`,
    );
  }
  return result as Record<RegistryName, TableDefinition>;
}
