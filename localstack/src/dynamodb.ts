// DynamoDB Local from Maven Central, without Docker (facts §4).
//
// - install: `mvn package` on localstack/dynamodb/pom.xml copies DynamoDB Local and its native
//   sqlite4java libraries into .data/dynamodb-local/lib once; later runs reuse the folder.
// - start: runs it with localstack/dynamodb/LoopbackServerRunner.java, which binds 127.0.0.1 only
//   (DynamoDB Local's own runner binds every interface), `-inMemory` for tests or `-dbPath` for
//   the market; reuses a server that already answers on the endpoint; waits until it serves
//   ListTables.
// - stop: SIGTERM, then SIGKILL if it has not exited within 10 s. A reused server is left running.
//
// The endpoint reaches integration tests as SURPLUS_DYNAMODB_ENDPOINT (and `inject("dynamodbEndpoint")`).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

/** Env var that carries the DynamoDB endpoint to tests, the allocator and the market. */
export const DYNAMODB_ENDPOINT_ENV = "SURPLUS_DYNAMODB_ENDPOINT";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const POM = join(ROOT, "localstack/dynamodb/pom.xml");
const RUNNER = join(ROOT, "localstack/dynamodb/LoopbackServerRunner.java");
const LIB = join(ROOT, ".data/dynamodb-local/lib");
const MAIN_JAR = "DynamoDBLocal.jar";
const NATIVE_LIB = "libsqlite4java-linux-amd64.so";

/** Thrown when DynamoDB Local cannot be installed or started; the message says what to do. */
export class DynamoDbLocalError extends Error {
  override name = "DynamoDbLocalError";
}

export interface DynamoDbLocalOptions {
  /** Port on 127.0.0.1. @default a free port (tests) */
  readonly port?: number;
  /** Keep data in memory only. @default true */
  readonly inMemory?: boolean;
  /** Folder for the database file when not in memory. @default .data/dynamodb */
  readonly dbPath?: string;
  /** Where progress lines go. @default stderr */
  readonly log?: (line: string) => void;
  /** Give up waiting for readiness after this long. @default 60 000 ms */
  readonly readyTimeoutMs?: number;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  /** True when an already running server was found and is reused (stop() then leaves it running). */
  readonly reused: boolean;
  stop(): Promise<void>;
}

const defaultLog = (line: string) => process.stderr.write(`[dynamodb] ${line}\n`);

/** True when a DynamoDB endpoint answers ListTables. */
export async function isDynamoDbReady(endpoint: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const res = await fetch(endpoint, {
      method: "POST",
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.ListTables",
        // DynamoDB Local checks that a SigV4 header is present, not that it is valid.
        authorization:
          "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
      },
      body: "{}",
    });
    if (!res.ok) return false;
    const body = (await res.json()) as { TableNames?: unknown };
    return Array.isArray(body.TableNames);
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const collect = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4_000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const ticker = setInterval(() => log(`  …still resolving from Maven Central`), 10_000);
    child.on("error", (err) => {
      clearInterval(ticker);
      reject(err);
    });
    child.on("exit", (code) => {
      clearInterval(ticker);
      if (code === 0) resolvePromise();
      else reject(new DynamoDbLocalError(`${cmd} ${args.join(" ")} exited with ${code}:\n${tail}`));
    });
  });
}

/** Resolves DynamoDB Local into .data/dynamodb-local/lib unless it is already there. Returns the folder. */
export async function installDynamoDbLocal(log: (line: string) => void = defaultLog): Promise<string> {
  if (existsSync(join(LIB, MAIN_JAR)) && existsSync(join(LIB, NATIVE_LIB))) return LIB;
  log(`resolving DynamoDB Local from Maven Central into ${LIB} (one time, ~70 MB)…`);
  try {
    await run("mvn", ["-B", "-q", "-f", POM, `-Ddynamodb.lib=${LIB}`, "package"], log);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new DynamoDbLocalError(
        "Maven (`mvn`) is not on PATH: it is needed once to fetch DynamoDB Local from Maven Central",
      );
    }
    throw new DynamoDbLocalError(
      `could not resolve DynamoDB Local from Maven Central (is it reachable?): ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!existsSync(join(LIB, MAIN_JAR)) || !existsSync(join(LIB, NATIVE_LIB))) {
    throw new DynamoDbLocalError(`Maven finished but ${MAIN_JAR} or ${NATIVE_LIB} is missing in ${LIB}`);
  }
  log("DynamoDB Local installed");
  return LIB;
}

function javaBinary(): string {
  const home = process.env["JAVA_HOME"];
  return home ? join(home, "bin", "java") : "java";
}

/** A port the OS says is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolvePromise(true);
    });
  });
}

/**
 * Starts DynamoDB Local on 127.0.0.1 (or reuses one already answering on the chosen port) and
 * resolves once it serves requests.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const log = options.log ?? defaultLog;
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  if (await isDynamoDbReady(endpoint)) {
    log(`reusing DynamoDB Local already running at ${endpoint}`);
    return { endpoint, reused: true, stop: async () => {} };
  }
  const lib = await installDynamoDbLocal(log);
  const inMemory = options.inMemory ?? true;
  const storage: string[] = [];
  if (inMemory) storage.push("-inMemory");
  else {
    const dbPath = resolve(options.dbPath ?? join(ROOT, ".data/dynamodb"));
    mkdirSync(dbPath, { recursive: true });
    storage.push("-dbPath", dbPath);
  }
  const args = [
    `-Djava.library.path=${lib}`,
    "-Xmx512m",
    "-cp",
    join(lib, "*"),
    RUNNER,
    "-port",
    String(port),
    "-sharedDb",
    "-disableTelemetry",
    ...storage,
  ];
  log(`starting DynamoDB Local at ${endpoint} (${inMemory ? "in memory" : storage[1]})…`);
  const child = spawn(javaBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const spawnError = new Promise<Error>((resolvePromise) => child.once("error", resolvePromise));
  const exited = new Promise<number | null>((resolvePromise) => child.once("exit", resolvePromise));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    if (!(await waitForExit(child, 10_000))) {
      log("DynamoDB Local did not stop within 10 s; killing it");
      child.kill("SIGKILL");
      await waitForExit(child, 5_000);
    }
  };
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  const started = Date.now();
  let nextProgress = started + 5_000;
  for (;;) {
    const failure = await Promise.race([
      spawnError.then((e) => e),
      exited.then((code) => new DynamoDbLocalError(`DynamoDB Local exited with ${code}:\n${output}`)),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
    ]);
    if (failure) {
      process.off("exit", onExit);
      if ((failure as NodeJS.ErrnoException).code === "ENOENT") {
        throw new DynamoDbLocalError(
          `Java not found (${javaBinary()}): install a JDK ≥ 17 or set JAVA_HOME to one`,
        );
      }
      throw failure;
    }
    if (await isDynamoDbReady(endpoint, 1_000)) break;
    if (Date.now() > deadline) {
      await stop();
      process.off("exit", onExit);
      throw new DynamoDbLocalError(`DynamoDB Local did not become ready at ${endpoint}:\n${output}`);
    }
    if (Date.now() > nextProgress) {
      log(`  …waiting for DynamoDB Local (${Math.round((Date.now() - started) / 1000)} s)`);
      nextProgress += 5_000;
    }
  }
  log(`DynamoDB Local ready at ${endpoint} (pid ${child.pid})`);
  return {
    endpoint,
    reused: false,
    stop: async () => {
      await stop();
      process.off("exit", onExit);
    },
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

/**
 * Vitest global setup hook (see global-setup.ts): reuses the endpoint in SURPLUS_DYNAMODB_ENDPOINT
 * when it answers, otherwise starts an in-memory DynamoDB Local on a free port.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env[DYNAMODB_ENDPOINT_ENV];
  let server: DynamoDbLocal;
  if (given && (await isDynamoDbReady(given))) {
    defaultLog(`using ${given} from ${DYNAMODB_ENDPOINT_ENV}`);
    server = { endpoint: given, reused: true, stop: async () => {} };
  } else {
    server = await startDynamoDbLocal({ inMemory: true });
  }
  process.env[DYNAMODB_ENDPOINT_ENV] = server.endpoint;
  project.provide("dynamodbEndpoint", server.endpoint);
  return () => server.stop();
}
