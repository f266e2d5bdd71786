// Vitest global setup for the integration project: starts the real local services once per
// run and shares them between test files (their endpoints reach tests through `inject()` and env
// vars). This file and pulsar/test-setup.ts are the only ones here that know vitest: the services'
// own modules (dynamodb.ts, pulsar/, chain.ts) are plain runtime code.
import type { TestProject } from "vitest/node";
import { startChain } from "./chain.ts";
import { DYNAMODB_ENDPOINT_ENV, isDynamoDbReady, startLocalDynamoDb } from "./dynamodb.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    chainRpcUrl: string;
  }
}

type Teardown = () => Promise<void>;
type ServiceSetup = (project: TestProject) => Promise<Teardown>;

/** Reuses the endpoint in SURPLUS_DYNAMODB_ENDPOINT when it answers, otherwise starts moto on a free port. */
async function dynamodb(project: TestProject): Promise<Teardown> {
  const given = process.env[DYNAMODB_ENDPOINT_ENV];
  if (given && (await isDynamoDbReady(given))) {
    process.stderr.write(`[dynamodb] using ${given} from ${DYNAMODB_ENDPOINT_ENV}\n`);
    project.provide("dynamodbEndpoint", given);
    return async () => {};
  }
  const server = await startLocalDynamoDb();
  process.env[DYNAMODB_ENDPOINT_ENV] = server.endpoint;
  project.provide("dynamodbEndpoint", server.endpoint);
  return () => server.stop();
}

/** A chain node shared by the run (its URL is provided). */
async function chain(project: TestProject): Promise<Teardown> {
  const node = await startChain({ port: Number(process.env.SURPLUS_CHAIN_PORT ?? 18545) });
  project.provide("chainRpcUrl", node.rpcUrl);
  return () => node.stop();
}

/** The services integration tests need, started in this order and stopped in reverse. */
const services: Array<[name: string, setup: ServiceSetup]> = [
  ["dynamodb", dynamodb],
  ["pulsar", async (project) => (await import("./pulsar/test-setup.ts")).setup(project)],
  ["chain", chain],
];

const teardowns: Teardown[] = [];

export async function setup(project: TestProject): Promise<void> {
  for (const [name, start] of services) {
    const started = Date.now();
    process.stderr.write(`[localstack] starting ${name}…\n`);
    teardowns.push(await start(project));
    process.stderr.write(`[localstack] ${name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
}

export async function teardown(): Promise<void> {
  for (const stop of teardowns.reverse()) await stop();
}
