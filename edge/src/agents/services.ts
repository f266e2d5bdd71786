// Where a Supplier (or the Mediator) gets the Customer's service: content-addressed by the keccak
// hash the allocation names on-chain. Every fetched module is hashed again and refused when it
// differs, so a store can be any untrusted place: a folder, or an HTTP(S) base URL.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Bytes32 } from "@surplus/core";
import { serviceHash } from "../sandbox/index.ts";

export interface ServiceStore {
  /** The module whose keccak256 is `hash`; throws when it cannot be found or its bytes differ. */
  get(hash: Bytes32): Promise<Uint8Array>;
}

export class ServiceNotFoundError extends Error {
  constructor(hash: Bytes32, where: string) {
    super(`service ${hash} not found in ${where}`);
    this.name = "ServiceNotFoundError";
  }
}

function checked(hash: Bytes32, bytes: Uint8Array, where: string): Uint8Array {
  const actual = serviceHash(bytes);
  if (actual !== hash) throw new Error(`service from ${where} hashes to ${actual}, not ${hash}: refused`);
  return bytes;
}

const bytesOf = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * Every `*.wasm` in a folder, indexed by hash (a file named `<hash>.wasm` is found without a scan).
 * A module found once is kept: a Supplier asks for it when it accepts and again when it runs.
 */
export function directoryServices(dir: string): ServiceStore {
  const found = new Map<Bytes32, Uint8Array>();
  const find = async (hash: Bytes32): Promise<Uint8Array> => {
    const named = join(dir, `${hash}.wasm`);
    if (existsSync(named)) return checked(hash, bytesOf(readFileSync(named)), named);
    if (existsSync(dir)) {
      for (const f of readdirSync(dir)) {
        if (!f.endsWith(".wasm")) continue;
        const bytes = bytesOf(readFileSync(join(dir, f)));
        if (serviceHash(bytes) === hash) return bytes;
      }
    }
    throw new ServiceNotFoundError(hash, dir);
  };
  return {
    async get(hash) {
      const bytes = found.get(hash) ?? (await find(hash));
      found.set(hash, bytes);
      return bytes;
    },
  };
}

/** `GET <base>/<hash>.wasm`. */
export function httpServices(base: string, fetchImpl: typeof fetch = fetch): ServiceStore {
  return {
    async get(hash) {
      const url = `${base.replace(/\/$/, "")}/${hash}.wasm`;
      const res = await fetchImpl(url, { signal: AbortSignal.timeout(30_000) });
      if (res.status === 404) throw new ServiceNotFoundError(hash, url);
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
      return checked(hash, new Uint8Array(await res.arrayBuffer()), url);
    },
  };
}

/** The first store that has it. */
export function firstOf(...stores: ServiceStore[]): ServiceStore {
  return {
    async get(hash) {
      const errors: string[] = [];
      for (const s of stores) {
        try {
          return await s.get(hash);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      throw new Error(errors.join("; ") || `no service store configured for ${hash}`);
    },
  };
}
