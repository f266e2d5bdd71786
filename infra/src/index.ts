export { CONTEXT_KEYS, type ContextReader, readConfig, type SurplusConfig } from "./config.ts";
export { ManagedPulsar, type ManagedPulsarProps } from "./constructs/managed-pulsar.ts";
export {
  LOG_LEVELS,
  type LogLevel,
  MarketFunction,
  type MarketFunctionProps,
  TableAccess,
} from "./constructs/market-function.ts";
export type { PulsarEndpoint } from "./constructs/pulsar-endpoint.ts";
export { Registries, type RegistriesProps } from "./constructs/registries.ts";
export {
  PULSAR_PORTS,
  SelfHostedPulsar,
  type SelfHostedPulsarProps,
} from "./constructs/self-hosted-pulsar.ts";
export { chainParameterNames, MARKET_ENV } from "./environment.ts";
export { SurplusConfigError } from "./errors.ts";
export { fromCreateTable, registryTables, type TableDefinition } from "./registries/tables.ts";
export { CONSOLE_SOURCES, ConsoleStack, type ConsoleStackProps } from "./stacks/console-stack.ts";
export {
  DEFAULT_ENTRIES,
  MarketFunctionsStack,
  type MarketFunctionsStackProps,
} from "./stacks/market-functions-stack.ts";
export { MessagingStack, type MessagingStackProps, type PulsarChoice } from "./stacks/messaging-stack.ts";
export { RegistriesStack, type RegistriesStackProps } from "./stacks/registries-stack.ts";
export { type AddSurplusOptions, addSurplusStacks, type SurplusStacks } from "./surplus-app.ts";
