// The deployed operator's adapters, from its configuration: DynamoDB tables, the Pulsar bus with the
// token from Secrets Manager, the chain through its JSON-RPC endpoint. What the handlers hand to
// the operator's compose functions (the local market builds the same adapters over its own stack).
import {
  type ChannelLayout,
  ContractFreeBalances,
  DEFAULT_LAYOUT,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  DynamoBridgeRegistry,
  DynamoOfferStatuses,
  DynamoParticipants,
  DynamoReputationLedger,
  DynamoStandingRegistry,
  documentClient,
  dynamoDbClient,
  MarketAllocationOpener,
  MarketEventReader,
  marketChannels,
  PulsarAdmin,
  PulsarAllocationPublisher,
  PulsarAnnouncer,
  PulsarChannelProvisioner,
  PulsarOfferSource,
  PulsarStatusPublisher,
  readMarketFees,
  tableNames,
  WebSocketMessageBus,
} from "@surplus/adapters";
import type { Address } from "@surplus/core";
import {
  type AllocatorAdapters,
  type BridgeAdapters,
  domainOf,
  type OperatorConfig,
} from "@surplus/operator";
import { JsonRpcProvider, Wallet } from "ethers";
import { secretFromEnv } from "./secrets.ts";

/** The tables and their client, as configured. */
export function tables(config: OperatorConfig) {
  const dynamo = dynamoDbClient(config.tables.dynamodbEndpoint);
  return { dynamo, db: documentClient(dynamo), names: tableNames(config.tables.prefix) };
}

/** The market's channel layout, the default one unless configured. */
function layoutOf(config: OperatorConfig): ChannelLayout {
  return {
    ...DEFAULT_LAYOUT,
    ...(config.pulsar.tenant ? { tenant: config.pulsar.tenant } : {}),
    ...(config.pulsar.namespace ? { publicNamespace: config.pulsar.namespace } : {}),
  };
}

async function bus(config: OperatorConfig, env: NodeJS.ProcessEnv) {
  const token = await secretFromEnv(env, "SURPLUS_PULSAR_TOKEN", "SURPLUS_PULSAR_TOKEN_SECRET_ARN");
  const auth = { url: config.pulsar.url, ...(token ? { token } : {}) };
  return { bus: new WebSocketMessageBus(auth), admin: () => new PulsarAdmin(auth) };
}

export async function allocatorAdapters(
  config: OperatorConfig,
  env: NodeJS.ProcessEnv,
): Promise<AllocatorAdapters> {
  const key = await secretFromEnv(env, "SURPLUS_ALLOCATOR_KEY", "SURPLUS_SIGNER_SECRET_ARN");
  if (!key)
    throw new Error("the allocator needs SURPLUS_SIGNER_SECRET_ARN (or SURPLUS_ALLOCATOR_KEY locally)");
  const provider = new JsonRpcProvider(config.chain.rpcUrl);
  // The generated secret is bare hex; ethers wants the 0x prefix. Connected: it pays for `open`.
  const signer = new Wallet(key.startsWith("0x") ? key : `0x${key}`, provider);
  const { db, names } = tables(config);
  const { bus: pulsar } = await bus(config, env);
  const layout = layoutOf(config);
  const channels = marketChannels(layout);
  const market = config.chain.market;
  return {
    allocator: signer.address as Address,
    offers: new PulsarOfferSource(pulsar, config.pulsar.offersTopic ?? channels.offers),
    accepts: new PulsarOfferSource(pulsar, config.pulsar.acceptTopic ?? channels.accept),
    registry: new DynamoAllocatorRegistry(db, names),
    acceptRegistry: new DynamoAcceptRegistry(db, names),
    publisher: new PulsarAllocationPublisher(
      pulsar,
      config.pulsar.allocationsTopic ?? channels.allocations,
      signer,
      domainOf(config),
    ),
    opener: new MarketAllocationOpener(signer, market),
    balances: new ContractFreeBalances(provider, market),
    standing: new DynamoStandingRegistry(db, names),
    participants: new DynamoParticipants(db, names),
    statuses: new DynamoOfferStatuses(db, names),
    statusChannel: new PulsarStatusPublisher(pulsar, layout),
    reputation: new DynamoReputationLedger(db, names),
    readFees: () => readMarketFees(provider, market),
  };
}

export async function bridgeAdapters(
  config: OperatorConfig,
  env: NodeJS.ProcessEnv,
): Promise<BridgeAdapters> {
  const { dynamo, db, names } = tables(config);
  const { bus: pulsar, admin } = await bus(config, env);
  const layout = layoutOf(config);
  return {
    chain: new MarketEventReader(new JsonRpcProvider(config.chain.rpcUrl), config.chain.market),
    registry: new DynamoBridgeRegistry(dynamo, names),
    announcer: new PulsarAnnouncer(
      pulsar,
      config.pulsar.allocationsTopic ?? marketChannels(layout).allocations,
    ),
    channels: new PulsarChannelProvisioner(admin(), layout),
    reputation: new DynamoReputationLedger(db, names),
  };
}
