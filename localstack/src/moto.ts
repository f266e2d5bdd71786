// moto's server (PyPI `moto[server]`) as a local AWS endpoint, without Docker (facts §4): the local
// DynamoDB endpoint (dynamodb.ts) and the CDK deploy tests' CloudFormation.
//
// - install: infra/scripts/ensure-python-tools.sh puts pinned moto and cfn-lint into .tools/py once;
//   startMotoServer runs it first, so a fresh clone needs only python3 (with venv) and PyPI.
// - start: localstack/moto/serve.py (moto's server, with DynamoDB requests served one at a time and
//   a transaction saving only the items it names) on 127.0.0.1 and a free port; waits until it
//   answers; the endpoint is `http://localhost:<port>` (not 127.0.0.1: moto's CloudFormation reads
//   a TemplateURL's bucket from the path only when the host is `localhost`, which is what
//   `cdk deploy` sends).
// - stop: SIGTERM, then SIGKILL after 5 s; killed with this process if it exits first.
//
// moto emulates the control planes (CloudFormation, DynamoDB, Lambda, IAM, SQS, S3, …); it does
// not execute Lambda code without Docker.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ENSURE_TOOLS = join(ROOT, "infra/scripts/ensure-python-tools.sh");
const SERVE = join(ROOT, "localstack/moto/serve.py");

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

/** Thrown when moto cannot be installed or started; the message says what to do. */
export class MotoServerError extends Error {
  override name = "MotoServerError";
}

export interface MotoServer {
  /** `http://localhost:<port>`: set it as AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /**
   * Resource types moto's CloudFormation skipped so far ("not supported by moto's CloudFormation
   * implementation"): the stack still completes, without those resources.
   */
  readonly skippedResourceTypes: ReadonlySet<string>;
  /** Environment for an AWS client or the CDK CLI aimed at this server (dummy credentials). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface MotoServerOptions {
  /** @default a free port */
  readonly port?: number;
  /** @default "us-east-1" */
  readonly region?: string;
  /** Give up waiting for readiness after this long. @default 30 000 ms */
  readonly readyTimeoutMs?: number;
  /** Where progress lines go. @default stderr */
  readonly log?: (line: string) => void;
}

/** moto's fixed account id. */
export const MOTO_ACCOUNT = "123456789012";

/** Installs the Python tools if needed and returns their bin folder. */
export async function ensurePythonTools(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(ENSURE_TOOLS, [], { maxBuffer: 1 << 20 });
    return stdout.trim();
  } catch (err) {
    throw new MotoServerError(
      `could not install moto and cfn-lint into .tools/py (python3 with venv and PyPI needed): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts moto's server on loopback and resolves once it answers. */
export async function startMotoServer(options: MotoServerOptions = {}): Promise<MotoServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[moto] ${line}\n`));
  const bin = await ensurePythonTools();
  const port = options.port ?? (await freePort());
  const endpoint = `http://localhost:${port}`;
  const child: ChildProcess = spawn(join(bin, "python"), [SERVE, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  let tail = "";
  const skipped = new Set<string>();
  let partialLine = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    const lines = (partialLine + text).split("\n");
    partialLine = lines.pop() ?? "";
    for (const line of lines) {
      const match = /Tried to parse (AWS::\S+) but it's not supported/.exec(line);
      if (match) skipped.add(match[1]!);
    }
    tail = (tail + text).slice(-4_000);
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null) {
      process.off("exit", onExit);
      throw new MotoServerError(`moto's server exited with ${child.exitCode}:\n${tail}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      process.off("exit", onExit);
      throw new MotoServerError(`moto's server did not answer on ${endpoint}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`moto server ready at ${endpoint} (pid ${child.pid})`);
  const region = options.region ?? "us-east-1";
  return {
    endpoint,
    port,
    skippedResourceTypes: skipped,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
    },
    stop: async () => {
      process.off("exit", onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
