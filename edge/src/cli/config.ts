// The edge runtime's configuration: a JSON file, overridable by environment variables, validated
// at start-up with errors that name the field at fault.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
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
    /** Encrypted Ethereum keystore (JSON, scrypt); its password comes from SURPLUS_KEYSTORE_PASSWORD or a prompt. */
    keystore: z.string().min(1),
    /** Where the runtime keeps its state (output ledgers, cursors). */
    dataDir: z.string().min(1).default(".surplus-edge"),
    pulsar: z
      .object({
        /** The broker's web service: http(s):// for admin, ws(s):// derived from it. */
        url: url(["http:", "https:"]),
        /** The participant's JWT (role = its Ethereum address); or SURPLUS_PULSAR_TOKEN. */
        token: z.string().min(1).optional(),
        tenant: z.string().min(1).default("surplus"),
        market: z.string().min(1).default("market"),
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
          })
          .strict()
          .default({ memoryCapMb: 64, timeBudgetMs: 100 }),
      })
      .strict()
      .optional(),
  })
  .strict()
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
  return {
    ...config,
    keystore: resolve(base, config.keystore),
    dataDir: resolve(base, config.dataDir),
    pulsar: { ...config.pulsar, token: env.SURPLUS_PULSAR_TOKEN ?? config.pulsar.token },
  };
}
