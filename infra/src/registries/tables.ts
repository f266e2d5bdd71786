// The market's DynamoDB registries, from the one definition the handlers and the local stack use:
// `tableDefinitions()` in @surplus/adapters (adapters/src/dynamodb/tables.ts, the allocator's
// CreateTable requests). This module only translates those requests into CDK table settings;
// what the CDK adds on top — encryption, point-in-time recovery, TTL, removal policy — is
// deployment policy, decided in the Registries construct.
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import {
  TABLES,
  type TableName,
  TTL_ATTRIBUTES,
  tableDefinitions,
  tableNames,
} from "@surplus/adapters/dynamodb";

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
export function fromCreateTable(name: TableName, request: CreateTableCommandInput): TableDefinition {
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
export function registryTables(): Readonly<Record<TableName, TableDefinition>> {
  // Names are only used to pair each request with its registry.
  const names = tableNames("");
  const requests = tableDefinitions(names);
  const byName = new Map(requests.map((r) => [r.TableName, r]));
  const result: Partial<Record<TableName, TableDefinition>> = {};
  for (const name of TABLES) {
    const request = byName.get(names[name]);
    if (!request) throw new Error(`@surplus/adapters defines no ${name} table`);
    result[name] = fromCreateTable(name, request);
  }
  if (requests.length !== TABLES.length) {
    throw new Error(`@surplus/adapters defines ${requests.length} tables; it names ${TABLES.join(", ")}`);
  }
  return result as Record<TableName, TableDefinition>;
}
