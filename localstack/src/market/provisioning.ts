// A local market's own resources on the shared services: its market contract on the chain, its
// Pulsar tenant with the market's channels, its DynamoDB tables, and each participant's grants.
import {
  createTables,
  DynamoParticipants,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  type MarketChannels,
  type ParticipantKind,
  PulsarAdmin,
  provisionMarket,
  provisionStatusChannel,
} from "@surplus/adapters/pulsar";
import { type DeployedMarket, deployMarket, type MarketParameters } from "@surplus/contracts";
import type { Address } from "@surplus/core";
import { admit } from "@surplus/operator";
import type { Wallet } from "ethers";
import { LOCAL_PARAMETERS, type Stack } from "./scenario.ts";

/** The market contract (and its token), deployed by this market's funder. */
export function deployContract(
  funder: Wallet,
  treasury: Address,
  parameters: Partial<MarketParameters> | undefined,
): Promise<DeployedMarket> {
  return deployMarket(funder, { treasury, parameters: { ...LOCAL_PARAMETERS, ...parameters } });
}

export interface Provisioned {
  readonly admin: PulsarAdmin;
  readonly layout: ChannelLayout;
  readonly channels: MarketChannels;
  readonly dynamo: ReturnType<typeof dynamoDbClient>;
  /** The operator's admission records (docs/front-door.md). */
  readonly admitted: DynamoParticipants;
}

/** Market `id`'s Pulsar tenant and channels, and its DynamoDB tables (named with `prefix`). */
export async function provisionServices(stack: Stack, id: string, prefix: string): Promise<Provisioned> {
  const admin = new PulsarAdmin({ url: stack.pulsar.webUrl, token: stack.pulsar.adminToken });
  // A tenant of its own: offers left on a reused broker by an earlier run are not matched again.
  const layout = { ...DEFAULT_LAYOUT, tenant: `market-${id}` };
  const channels = await provisionMarket(admin, layout);
  const dynamo = dynamoDbClient(stack.dynamodbEndpoint);
  const admitted = new DynamoParticipants(documentClient(dynamo), tableNames(prefix));
  await createTables(dynamo, tableNames(prefix));
  return { admin, layout, channels, dynamo, admitted };
}

/**
 * A participant's grants: its offer-status channel (issue 17: the Allocator writes, it alone reads;
 * only once the Allocator is known) and the operator's admission (docs/front-door.md), recorded for
 * the Allocator and granted on the broker.
 */
export async function grantParticipant(
  provisioned: Provisioned,
  p: { readonly address: Address; readonly kind: ParticipantKind },
  allocator: Address | undefined,
): Promise<void> {
  const { admin, admitted, layout } = provisioned;
  if (allocator) await provisionStatusChannel(admin, p.address, allocator, layout);
  await admit(
    { admin, record: admitted },
    { address: p.address, kind: p.kind },
    { nowMs: Date.now(), layout },
  );
}
