// The edge runtime's configuration: a JSON file, overridable by environment variables, validated
// at start-up with errors that name the field at fault.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { address, InvalidMessageError, parse } from "@surplus/core";
import { z } from "zod";

export const Role = { Supplier: "supplier", Customer: "customer", Mediator: "mediator" } as const;
export type Role = (typeof Role)[keyof typeof Role];

const url = (schemes: string[]) =>
  z
    .string()
    .url()
    .refine((u) => schemes.includes(new URL(u).protocol), `expected a ${schemes.join(" or ")} URL`);

export const edgeConfig = z
  .object({
    role: z.enum([Role.Supplier, Role.Customer, Role.Mediator]),
    /**
     * Encrypted Ethereum keystore (JSON, scrypt); the systemd credential `keystore`, when there is
     * one, is used instead. Its password comes from SURPLUS_KEYSTORE_PASSWORD, the credential
     * `keystore-password` or a prompt.
     */
    keystore: z.string().min(1),
    /** Where the runtime keeps its state (output ledgers, cursors). */
    dataDir: z.string().min(1).default(".surplus-edge"),
    pulsar: z
      .object({
        /** The broker's web service: http(s):// for admin, ws(s):// derived from it. */
        url: url(["http:", "https:"]),
        /** The participant's JWT (role = its Ethereum address); or SURPLUS_PULSAR_TOKEN, or the systemd credential pulsar-token. */
        token: z.string().min(1).optional(),
        /** The market's Pulsar tenant and the namespace of its public channels (offers, allocations, accept). */
        tenant: z.string().min(1).default("market"),
        namespace: z.string().min(1).default("public"),
      })
      .strict(),
    chain: z
      .object({
        rpcUrl: url(["http:", "https:", "ws:", "wss:"]),
        market: address,
        /** Blocks to wait before acting on an event. @default 1 */
        confirmations: z.number().int().min(0).max(64).default(1),
      })
      .strict(),
    /** Allocators whose allocations this participant accepts. @default any */
    allocators: z.array(address).default([]),
    /** Where services are found by hash: a folder (default <dataDir>/services) and/or an HTTP(S) base URL. */
    services: z
      .object({ dir: z.string().min(1).optional(), url: url(["http:", "https:"]).optional() })
      .strict()
      .default({}),
    supplier: z
      .object({
        /** I_s offered, million instructions per second. */
        capacityMips: z.number().int().positive(),
        ramMb: z.number().int().positive(),
        minPricePerMi: z.string().regex(/^\d+$/),
        mediators: z.array(address).min(1),
        /** Seconds of availability offered from now. @default 3600 */
        windowSeconds: z.number().int().positive().default(3600),
        /** P(s) and how to cheat otherwise — for experiments only. */
        strategy: z
          .object({
            processProbability: z.number().min(0).max(1).default(1),
            cheatMode: z.enum(["skip", "corrupt"]).default("skip"),
            seed: z.number().int().default(0),
          })
          .strict()
          .default({ processProbability: 1, cheatMode: "skip", seed: 0 }),
        sandbox: z
          .object({
            memoryCapMb: z.number().int().positive().max(4096).default(64),
            timeBudgetMs: z.number().int().positive().default(100),
            /** inline: a vm context with a time limit (default, least memory); worker: a worker thread. */
            isolation: z.enum(["inline", "worker"]).default("inline"),
          })
          .strict()
          .default({ memoryCapMb: 64, timeBudgetMs: 100, isolation: "inline" }),
        /** Inputs per sandbox batch. @default 50 */
        batchSize: z.number().int().positive().max(10_000).default(50),
      })
      .strict()
      .optional(),
    customer: z
      .object({
        /** The service's WebAssembly module (path). */
        service: z.string().min(1),
        serviceName: z.string().min(1).max(64).optional(),
        /** I_c, million instructions per input. */
        miPerInput: z.number().int().positive(),
        ramMb: z.number().int().positive(),
        /** λ, inputs per second. */
        inputsPerSecond: z.number().int().positive().max(100_000),
        /** How long the service should run. */
        seconds: z.number().int().positive(),
        /** Seconds from posting the offer to the stream's start (time to match and open). @default 12 */
        startInSeconds: z.number().int().min(0).default(12),
        maxPricePerMi: z.string().regex(/^\d+$/),
        replicas: z.number().int().min(1).max(16).default(1),
        minReplicas: z.number().int().min(1).max(16).default(1),
        minServiceSeconds: z.number().int().positive().optional(),
        mediators: z.array(address).min(1),
        /** Reputation every Supplier must have, signed into the offer (issue 17). @default none */
        requires: z
          .object({
            windowAllocations: z.number().int().min(1).max(64),
            maxMediationsLost: z.number().int().min(0).max(64).default(0),
          })
          .strict()
          // The offer schema's rule: the Allocator would refuse such an offer.
          .refine((r) => r.maxMediationsLost <= r.windowAllocations, {
            message: "maxMediationsLost must not exceed windowAllocations",
            path: ["maxMediationsLost"],
          })
          .optional(),
        /** The sensor source: a generator, a file (one input per line) or stdin (one per line). */
        source: z
          .object({
            kind: z.enum(["frames", "telemetry", "file", "stdin"]),
            path: z.string().min(1).optional(),
            seed: z.number().int().default(1),
          })
          .strict()
          .refine((s) => s.kind !== "file" || s.path !== undefined, {
            message: "a file source needs a `path`",
            path: ["path"],
          }),
        /** Where the first good output of each input goes: a JSON-lines file. @default none */
        sink: z.string().min(1).optional(),
      })
      .strict()
      .refine((c) => c.minReplicas <= c.replicas, {
        message: "minReplicas must not exceed replicas",
        path: ["minReplicas"],
      })
      .optional(),
  })
  .strict()
  .refine((c) => c.role !== Role.Customer || c.customer !== undefined, {
    message:
      "a customer needs a `customer` section (service, miPerInput, ramMb, inputsPerSecond, seconds, maxPricePerMi, mediators, source)",
    path: ["customer"],
  })
  .refine((c) => c.role !== Role.Supplier || c.supplier !== undefined, {
    message: "a supplier needs a `supplier` section (capacityMips, ramMb, minPricePerMi, mediators)",
    path: ["supplier"],
  });
export type EdgeConfig = z.infer<typeof edgeConfig>;

/** Reads and validates a config file; relative paths in it are taken from the file's folder. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new InvalidMessageError(`config ${file}`, [(cause as Error).message], { cause });
  }
  const config = parse(edgeConfig, raw, `config ${file}`);
  const base = dirname(resolve(file));
  const dataDir = resolve(base, config.dataDir);
  return {
    ...config,
    // Under systemd the service's own user cannot read the root-only keystore file: it gets a copy
    // as a credential (LoadCredential=keystore:FILE).
    keystore: credentialPath(env, "keystore") ?? resolve(base, config.keystore),
    dataDir,
    services: {
      ...config.services,
      dir: resolve(base, config.services.dir ?? join(dataDir, "services")),
    },
    ...(config.customer
      ? {
          customer: {
            ...config.customer,
            service: resolve(base, config.customer.service),
            ...(config.customer.sink ? { sink: resolve(base, config.customer.sink) } : {}),
            source: {
              ...config.customer.source,
              ...(config.customer.source.path ? { path: resolve(base, config.customer.source.path) } : {}),
            },
          },
        }
      : {}),
    pulsar: {
      ...config.pulsar,
      token: env.SURPLUS_PULSAR_TOKEN ?? readCredential(env, "pulsar-token") ?? config.pulsar.token,
    },
  };
}

/**
 * A systemd credential (`LoadCredential=NAME:FILE` in the unit): systemd copies FILE to
 * $CREDENTIALS_DIRECTORY/NAME, readable by the service alone. Undefined when there is none. One
 * trailing newline is dropped (`echo secret > file` writes one).
 */
export function readCredential(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = credentialPath(env, name);
  return file === undefined ? undefined : readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

/** The file of a systemd credential, if there is one. */
export function credentialPath(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return undefined;
  const file = join(dir, name);
  return existsSync(file) ? file : undefined;
}
