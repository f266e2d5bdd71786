// The environment the market functions get, named in one place (no CDK import).
//
// Plain settings are values (the chain's RPC URL and the contract address are resolved from SSM
// when the stack deploys); secrets are never put in the environment (anyone allowed
// lambda:GetFunctionConfiguration could read them): the functions get the secret's ARN and
// read it at start-up with their role's grant.
import { TABLE_PREFIX_ENV } from "@surplus/adapters/dynamodb";

/** Variables set on the allocator and the verifier-bridge. */
export const MARKET_ENV = {
  /** The market's name (resource names, SSM paths). */
  market: "SURPLUS_MARKET",
  /** Table-name prefix the adapters' `tableNames()` reads (`${market}-`). */
  tablePrefix: TABLE_PREFIX_ENV,
  offersTable: "SURPLUS_OFFERS_TABLE",
  allocationsTable: "SURPLUS_ALLOCATIONS_TABLE",
  participantsTable: "SURPLUS_PARTICIPANTS_TABLE",
  cursorsTable: "SURPLUS_CURSORS_TABLE",
  idempotencyTable: "SURPLUS_IDEMPOTENCY_TABLE",
  /** Pulsar's web service (https): WebSocket and admin REST, what the adapters' message bus uses. */
  pulsarUrl: "SURPLUS_PULSAR_URL",
  /** Pulsar's binary protocol URL (pulsar+ssl), for native clients, where one is offered (managed). */
  pulsarServiceUrl: "SURPLUS_PULSAR_SERVICE_URL",
  /** ARN of the secret holding the Pulsar admin token. */
  pulsarTokenSecretArn: "SURPLUS_PULSAR_TOKEN_SECRET_ARN",
  /** The EIP-712 domain's chain id. */
  chainId: "SURPLUS_CHAIN_ID",
  /** The market contract's address, resolved at deploy time from its SSM parameter. */
  marketAddress: "SURPLUS_MARKET_ADDRESS",
  /** The chain's JSON-RPC URL, resolved at deploy time from its SSM parameter. */
  chainRpcUrl: "SURPLUS_CHAIN_RPC_URL",
  /** δ_alloc in seconds: how far after its round an allocation may start at the earliest. Allocator only. */
  allocSeconds: "SURPLUS_ALLOC_SECONDS",
  /** Milliseconds between two rounds within one scheduled invocation (operator/src/cadence.ts). */
  roundIntervalMs: "SURPLUS_ROUND_INTERVAL_MS",
  /** The schedule's period in seconds: the slot an invocation runs rounds for. */
  schedulePeriodSeconds: "SURPLUS_SCHEDULE_PERIOD_SECONDS",
  /** No round starts with less than this many milliseconds left before the function's timeout. */
  stopMarginMs: "SURPLUS_STOP_MARGIN_MS",
  /** ARN of the secret holding the allocator's signing key (hex). Allocator only. */
  signerSecretArn: "SURPLUS_SIGNER_SECRET_ARN",
} as const;

/** The SSM parameter names an operator writes once the contract is deployed. */
export function chainParameterNames(market: string): { rpcUrl: string; contractAddress: string } {
  return {
    rpcUrl: `/surplus/${market}/chain/rpc-url`,
    contractAddress: `/surplus/${market}/chain/contract-address`,
  };
}
