import { DEFAULT_TABLE_PREFIX, TABLES, type TableName, tableNames } from "@surplus/adapters/dynamodb";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import { SurplusConfigError } from "../errors.ts";
import {
  type IndexDefinition,
  type KeyDefinition,
  registryTables,
  type TableDefinition,
} from "../registries/tables.ts";

export interface RegistriesProps {
  /**
   * What happens to the tables and their key when the stack is deleted or they leave it.
   * RETAIN keeps the market's books (allocations, deposits owed) if someone runs `cdk destroy`
   * by mistake and turns on deletion protection; DESTROY is for throw-away environments.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Encrypt the tables with this customer-managed key instead of creating one.
   * @default a new key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Physical table names are `${tablePrefix}${registry}` (`surplus-offers`, …): the handlers
   * find them through `SURPLUS_TABLE_PREFIX`, as they do on the local endpoint (moto). Two markets in one
   * account and region need different prefixes.
   * @default "surplus-"
   */
  readonly tablePrefix?: string;
  /**
   * Point-in-time recovery window in days (1–35).
   * @default 35
   */
  readonly recoveryPeriodInDays?: number;
}

/** A registry's table and the names of its global secondary indexes. */
export interface RegistryTable {
  readonly table: dynamodb.Table;
  readonly indexNames: readonly string[];
}

const TABLE_PREFIX = /^[A-Za-z0-9_.-]{1,200}$/;

const PROJECTIONS: Readonly<Record<IndexDefinition["projection"], dynamodb.ProjectionType>> = {
  ALL: dynamodb.ProjectionType.ALL,
  KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
  INCLUDE: dynamodb.ProjectionType.INCLUDE,
};

const ATTRIBUTE_TYPES: Readonly<Record<KeyDefinition["type"], dynamodb.AttributeType>> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

function attribute(key: KeyDefinition): dynamodb.Attribute {
  return { name: key.name, type: ATTRIBUTE_TYPES[key.type] };
}

/**
 * The market's DynamoDB registries (keys and indexes from @surplus/adapters' `tableDefinitions`): on-demand, encrypted with one
 * customer-managed KMS key, point-in-time recovery on, TTL where records expire.
 *
 * Why a customer-managed key rather than the AWS-managed `aws/dynamodb`: its key policy is a
 * second gate beside IAM on who can read the market's books, every use of it shows in CloudTrail
 * under one key id, and disabling or scheduling it for deletion crypto-shreds retained tables
 * after a teardown. It costs $1 a month plus requests, which DynamoDB caches to a few per hour.
 */
export class Registries extends Construct {
  /** The tables by registry name, each with the names of its indexes. */
  readonly tables: Readonly<Record<TableName, RegistryTable>>;
  /** What the physical table names start with (`SURPLUS_TABLE_PREFIX`). */
  readonly tablePrefix: string;
  /** The key every table is encrypted with. */
  readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: RegistriesProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const recoveryPeriodInDays = props.recoveryPeriodInDays ?? 35;
    if (!Number.isInteger(recoveryPeriodInDays) || recoveryPeriodInDays < 1 || recoveryPeriodInDays > 35) {
      throw new SurplusConfigError(
        `Registries: recoveryPeriodInDays must be an integer in 1..35, got ${recoveryPeriodInDays}`,
      );
    }
    const tablePrefix = props.tablePrefix ?? DEFAULT_TABLE_PREFIX;
    if (!TABLE_PREFIX.test(tablePrefix)) {
      throw new SurplusConfigError(
        `Registries: tablePrefix must match ${TABLE_PREFIX}, got "${tablePrefix}"`,
      );
    }
    this.tablePrefix = tablePrefix;
    const names = tableNames(tablePrefix);
    const definitions = registryTables();
    const retain = removalPolicy === RemovalPolicy.RETAIN || removalPolicy === RemovalPolicy.SNAPSHOT;

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, "Key", {
        description: "Encrypts the Surplus market registries (DynamoDB)",
        enableKeyRotation: true,
        // Deleting the key makes retained tables unreadable: keep it whenever the tables are kept.
        removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        pendingWindow: Duration.days(30),
      });

    const tables: Partial<Record<TableName, RegistryTable>> = {};
    for (const name of TABLES) {
      const definition: TableDefinition = definitions[name];
      const table = new dynamodb.Table(this, `${name[0]!.toUpperCase()}${name.slice(1)}Table`, {
        tableName: names[name],
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey === undefined ? {} : { sortKey: attribute(definition.sortKey) }),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.encryptionKey,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays },
        ...(definition.ttlAttribute === undefined ? {} : { timeToLiveAttribute: definition.ttlAttribute }),
        removalPolicy,
        deletionProtection: retain,
      });
      for (const index of definition.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey === undefined ? {} : { sortKey: attribute(index.sortKey) }),
          projectionType: PROJECTIONS[index.projection],
          ...(index.nonKeyAttributes ? { nonKeyAttributes: [...index.nonKeyAttributes] } : {}),
        });
      }
      tables[name] = { table, indexNames: definition.indexes.map((index) => index.indexName) };
    }
    this.tables = tables as Record<TableName, RegistryTable>;
  }
}
