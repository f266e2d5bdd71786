// Runs an untrusted service: WASM memory capped, a time budget per input, no imports but memory
// and abort. A service that traps, loops or exhausts its memory fails the input it was given,
// never the runtime.
//
// Two isolation modes, with the same guarantees (WebAssembly cannot reach anything it is not
// given, and V8 interrupts a runaway WASM loop in either):
// - "inline" (default): the service runs on the calling thread, interrupted by a `vm` timeout.
//   Leanest — no second V8 isolate (~20 MB less resident memory, which matters on small edge
//   devices) and no message passing per batch.
// - "worker": the service runs in a worker thread, terminated when it overruns. Processing then
//   overlaps the runtime's network I/O on a machine with cores to spare.
import { createContext, Script } from "node:vm";
import { Worker } from "node:worker_threads";
import type { Bytes32 } from "@surplus/core";
import { compileService } from "./abi.ts";
import { createExecutor, type Executor, type ServiceResult } from "./executor.ts";
import { WORKER_SOURCE } from "./worker-source.ts";

export type { ServiceResult };

export const Isolation = { Inline: "inline", Worker: "worker" } as const;
export type Isolation = (typeof Isolation)[keyof typeof Isolation];

export interface SandboxOptions {
  /** The hash the allocation names; the module is refused when its bytes hash otherwise. */
  readonly expectedHash?: Bytes32;
  /** WASM memory cap. @default 64 MiB */
  readonly memoryCapMb?: number;
  /** Time one input may take. @default 100 ms */
  readonly timeBudgetMs?: number;
  /** Slack for a batch, on top of the per-input budgets. @default 200 ms */
  readonly batchSlackMs?: number;
  /** @default "inline" */
  readonly isolation?: Isolation;
}

interface Pending {
  resolve(results: ServiceResult[]): void;
  reject(error: Error): void;
}

/** Compiled once: runs the current batch in the sandbox's context. */
const RUN_BATCH = new Script("run(inputs)");

export class ServiceSandbox {
  readonly #module: WebAssembly.Module;
  readonly #maxPages: number;
  readonly #budgetMs: number;
  readonly #slackMs: number;
  readonly #isolation: Isolation;
  #inline: { executor: Executor; context: object } | undefined;
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
    this.#isolation = opts.isolation ?? Isolation.Inline;
  }

  /** Checks the module (hash, ABI, imports) and gets it ready to run. */
  static load(wasm: Uint8Array, opts: SandboxOptions = {}): ServiceSandbox {
    const sandbox = new ServiceSandbox(compileService(wasm, opts.expectedHash), opts);
    if (sandbox.#isolation === Isolation.Worker) sandbox.#startWorker();
    else sandbox.#startInline();
    return sandbox;
  }

  get isolation(): Isolation {
    return this.#isolation;
  }

  #startInline(): void {
    const executor = createExecutor(this.#module, this.#maxPages);
    const context = createContext({ run: (inputs: Uint8Array[]) => executor.runBatch(inputs), inputs: [] });
    this.#inline = { executor, context };
  }

  #startWorker(): Worker {
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
    const deadlineMs = this.#budgetMs * inputs.length + this.#slackMs;
    const results =
      this.#isolation === Isolation.Worker
        ? await this.#sendToWorker(inputs, deadlineMs)
        : this.#runInline(inputs, deadlineMs);
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

  /** Runs a batch on this thread; undefined when it overran its deadline (and was interrupted). */
  #runInline(inputs: readonly Uint8Array[], deadlineMs: number): ServiceResult[] | undefined {
    if (!this.#inline) throw new Error("sandbox is closed");
    const { executor, context } = this.#inline;
    (context as { inputs: readonly Uint8Array[] }).inputs = inputs;
    try {
      return RUN_BATCH.runInContext(context, { timeout: deadlineMs }) as ServiceResult[];
    } catch (error) {
      if ((error as { code?: string }).code !== "ERR_SCRIPT_EXECUTION_TIMEOUT") throw error;
      executor.reset();
      return undefined;
    }
  }

  /** Sends a batch to the worker; undefined when it overran its deadline (the worker is then replaced). */
  #sendToWorker(inputs: readonly Uint8Array[], deadlineMs: number): Promise<ServiceResult[] | undefined> {
    const worker = this.#worker ?? this.#startWorker();
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

  /** Releases the service (and stops the worker, if any). */
  async close(): Promise<void> {
    this.#inline = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
