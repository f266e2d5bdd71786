// Runs an untrusted service in a worker thread: WASM memory capped, a time budget per input,
// no imports but memory and abort. A service that traps, loops or exhausts its memory fails the
// input it was given, never the runtime.
import { Worker } from "node:worker_threads";
import type { Bytes32 } from "@surplus/core";
import { compileService } from "./abi.ts";
import { WORKER_SOURCE } from "./worker-source.ts";

export type ServiceResult =
  | { readonly ok: true; readonly output: Uint8Array }
  | { readonly ok: false; readonly error: string };

export interface SandboxOptions {
  /** The hash the allocation names; the module is refused when its bytes hash otherwise. */
  readonly expectedHash?: Bytes32;
  /** WASM memory cap. @default 64 MiB */
  readonly memoryCapMb?: number;
  /** Time one input may take. @default 100 ms */
  readonly timeBudgetMs?: number;
  /** Slack for a batch round trip to the worker, on top of the per-input budgets. @default 200 ms */
  readonly batchSlackMs?: number;
}

interface Pending {
  resolve(results: ServiceResult[]): void;
  reject(error: Error): void;
}

export class ServiceSandbox {
  readonly #module: WebAssembly.Module;
  readonly #maxPages: number;
  readonly #budgetMs: number;
  readonly #slackMs: number;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Inputs that failed, by reason, since the sandbox started. */
  readonly failures = { trap: 0, time: 0, memory: 0 };

  private constructor(module: WebAssembly.Module, opts: SandboxOptions) {
    this.#module = module;
    this.#maxPages = Math.max(1, Math.floor(((opts.memoryCapMb ?? 64) * 1024 * 1024) / 65_536));
    this.#budgetMs = opts.timeBudgetMs ?? 100;
    this.#slackMs = opts.batchSlackMs ?? 200;
  }

  /** Checks the module (hash, ABI, imports) and starts its worker. */
  static load(wasm: Uint8Array, opts: SandboxOptions = {}): ServiceSandbox {
    const sandbox = new ServiceSandbox(compileService(wasm, opts.expectedHash), opts);
    sandbox.#start();
    return sandbox;
  }

  #start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: this.#module, maxPages: this.#maxPages },
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
      env: {},
      stdout: true,
      stderr: true,
    });
    worker.unref();
    worker.on("message", ({ id, results }: { id: number; results: ServiceResult[] }) => {
      this.#pending.get(id)?.resolve(results);
      this.#pending.delete(id);
    });
    // A worker replaced after a timeout may still report its exit: only the current one's counts.
    worker.on("error", (error) => {
      if (this.#worker === worker) this.#failAll(error);
    });
    worker.on("exit", () => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#failAll(new Error("sandbox worker exited"));
    });
    this.#worker = worker;
    return worker;
  }

  #failAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  /** Processes inputs in order; one result per input. */
  process(inputs: readonly Uint8Array[]): Promise<ServiceResult[]> {
    const run = this.#queue.then(() => this.#runBatch(inputs));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #runBatch(inputs: readonly Uint8Array[]): Promise<ServiceResult[]> {
    if (inputs.length === 0) return [];
    const results = await this.#send(inputs, this.#budgetMs * inputs.length + this.#slackMs);
    if (results) return this.#count(results);
    if (inputs.length === 1) {
      this.failures.time++;
      return [{ ok: false, error: `time budget exceeded (${this.#budgetMs} ms)` }];
    }
    // Some input overran: run the batch one input at a time to fail only the culprit(s).
    const single: ServiceResult[] = [];
    for (const input of inputs) single.push(...(await this.#runBatch([input])));
    return single;
  }

  #count(results: ServiceResult[]): ServiceResult[] {
    for (const r of results) {
      if (!r.ok) r.error.startsWith("memory") ? this.failures.memory++ : this.failures.trap++;
    }
    return results;
  }

  /** Sends a batch; resolves undefined when it overruns its deadline (the worker is then replaced). */
  #send(inputs: readonly Uint8Array[], deadlineMs: number): Promise<ServiceResult[] | undefined> {
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    return new Promise<ServiceResult[] | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#worker = undefined;
        void worker.terminate();
        resolve(undefined);
      }, deadlineMs);
      this.#pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      worker.postMessage({ id, inputs });
    });
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
