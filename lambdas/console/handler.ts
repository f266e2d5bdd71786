// The deployed market console's read-only API (issue 17): `GET /api/market` behind a Lambda
// function URL with AuthType AWS_IAM (infra/src/stacks/console-stack.ts), answering what the local
// console answers, from the same read model (@surplus/adapters/console) over the DynamoDB
// registries and the chain. What only a local run knows (balance changes since its start, gas per
// call, stage times, stream counters) is left out. Nothing here writes.
//
// Environment: SURPLUS_TABLE_PREFIX (and SURPLUS_DYNAMODB_ENDPOINT locally), SURPLUS_CHAIN_RPC_URL,
// SURPLUS_MARKET_ADDRESS.

import { ContractFreeBalances } from "@surplus/adapters/chain";
import { type MarketReadSources, readMarket } from "@surplus/adapters/console";
import {
  DynamoAllocatorRegistry,
  DynamoBridgeRegistry,
  DynamoOfferStatuses,
  DynamoReputationLedger,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import { toWire } from "@surplus/core";
import { JsonRpcProvider } from "ethers";

/** The parts of a function URL event (payload 2.0) the API reads. */
export interface UrlEvent {
  readonly rawPath?: string;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
}
export interface UrlResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const reply = (statusCode: number, body: string, type = "text/plain"): UrlResult => ({
  statusCode,
  headers: { "content-type": type, "cache-control": "no-store" },
  body,
});

/** The API over `sources`; `market` is the contract address the page names. */
export function consoleApi(sources: MarketReadSources, market: string) {
  return async (event: UrlEvent): Promise<UrlResult> => {
    if ((event.requestContext?.http?.method ?? "GET") !== "GET") return reply(405, "read-only");
    if (event.rawPath !== "/api/market") return reply(404, "not found");
    const view = await readMarket(sources);
    const kinds = new Map(view.offers.map((o) => [o.account.toLowerCase(), o.kind]));
    return reply(
      200,
      toWire({
        at: Date.now(),
        phase: "running",
        market,
        participants: view.accounts.map((a) => ({
          name: a.name,
          kind: kinds.get(a.address) ?? "—",
          address: a.address,
          balance: a.balance ?? "—",
          ...(a.reputation ? { reputation: a.reputation } : {}),
        })),
        offers: view.offers,
        allocations: view.allocations.map((a) => ({ ...a, gas: [] })),
        latencies: [],
        throughput: [],
      }),
      "application/json",
    );
  };
}

const market = process.env["SURPLUS_MARKET_ADDRESS"] ?? "";
const dynamo = dynamoDbClient();
const db = documentClient(dynamo);
const names = tableNames();
const allocations = new DynamoAllocatorRegistry(db, names);
const rpcUrl = process.env["SURPLUS_CHAIN_RPC_URL"];

export const handler = consoleApi(
  {
    statuses: new DynamoOfferStatuses(db, names),
    reputations: new DynamoReputationLedger(db, names),
    mirror: new DynamoBridgeRegistry(dynamo, names),
    terms: (id) => allocations.allocation(id),
    ...(rpcUrl && market ? { balances: new ContractFreeBalances(new JsonRpcProvider(rpcUrl), market) } : {}),
  },
  market,
);
