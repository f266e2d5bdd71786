import { defineConfig } from "vitest/config";

// Two projects:
// - unit: pure and in-memory tests, no services;
// - integration: tests against the real services (Pulsar, DynamoDB on moto, a Hardhat node),
//   which localstack's global setup starts once per run and shares.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["*/test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/*.int.test.ts", "**/*.e2e.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["*/test/**/*.int.test.ts", "test/**/*.e2e.test.ts"],
          exclude: ["**/node_modules/**"],
          globalSetup: ["localstack/src/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
