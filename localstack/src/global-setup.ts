// Vitest global setup for the integration project: starts the real local services once per
// run and shares them between test files (their endpoints reach tests through env vars).
// Each service lives in its own module under localstack/src and exports `setup()`, which
// starts the service (or reuses a running one) and returns a teardown function.
import type { TestProject } from "vitest/node";

type Teardown = () => Promise<void>;
type ServiceSetup = (project: TestProject) => Promise<Teardown>;

/** The services integration tests need, started in this order and stopped in reverse. */
const services: Array<[name: string, load: () => Promise<{ setup: ServiceSetup }>]> = [
  ["dynamodb", () => import("./dynamodb.ts")],
  ["pulsar", () => import("./pulsar/test-setup.ts")],
  ["chain", () => import("./chain.ts")],
];

const teardowns: Teardown[] = [];

export async function setup(project: TestProject): Promise<void> {
  for (const [name, load] of services) {
    const started = Date.now();
    process.stderr.write(`[localstack] starting ${name}…\n`);
    const mod = await load();
    teardowns.push(await mod.setup(project));
    process.stderr.write(`[localstack] ${name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
}

export async function teardown(): Promise<void> {
  for (const stop of teardowns.reverse()) await stop();
}
