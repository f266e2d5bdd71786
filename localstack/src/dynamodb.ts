// The local DynamoDB endpoint of the market, the integration tests and the benches: moto's server
// (moto.ts; open source, Apache-2.0), started from the project's own files without Docker.
//
// - install: infra/scripts/ensure-python-tools.sh puts the pinned moto into .tools/py once
//   (startMotoServer runs it first, so a fresh clone needs only python3 with venv and PyPI).
// - start: moto on 127.0.0.1 and a free port (or the given one; a server already answering
//   there is reused); resolves once it serves ListTables. Data lives in memory only.
// - stop: SIGTERM, then SIGKILL (moto.ts). A reused server is left running.
//
// The registries' tables are created by the adapters (adapters/src/dynamodb/tables.ts), the same
// definitions as in AWS. Where moto differs from DynamoDB, nothing relies on it:
// - TTL is stored but never deletes expired items (the idempotency markers' expiry);
// - requests are served one at a time (localstack/moto/serve.py), so a transaction never meets a
//   TransactionConflict; the adapters' retries on it are exercised by unit tests only;
// - every read is strongly consistent, GSI queries included (DynamoDB's are eventually
//   consistent: the registries re-check with conditional writes, never trust a GSI read alone);
// - it is slower where many items are returned (its response serializer: a round's read of 450
//   open offers takes ~0.35 s; bench:registry prints it), which the local market's sizes never reach.
//
// The endpoint reaches integration tests as SURPLUS_DYNAMODB_ENDPOINT (and `inject("dynamodbEndpoint")`;
// global-setup.ts).
import { type MotoServerOptions, startMotoServer } from "./moto.ts";

/** Env var that carries the DynamoDB endpoint to tests, the allocator and the market. */
export const DYNAMODB_ENDPOINT_ENV = "SURPLUS_DYNAMODB_ENDPOINT";

export interface LocalDynamoDbOptions {
  /** Port on 127.0.0.1. @default a free port */
  readonly port?: number;
  /** Where progress lines go. @default stderr */
  readonly log?: (line: string) => void;
  /** Give up waiting for readiness after this long. @default 30 000 ms */
  readonly readyTimeoutMs?: number;
}

export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>` */
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
        // moto routes a request to DynamoDB by the service in its SigV4 credential scope; it does
        // not check the signature.
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

/**
 * Starts the local DynamoDB endpoint on 127.0.0.1 (or reuses one already answering on the given
 * port) and resolves once it serves requests.
 */
export async function startLocalDynamoDb(options: LocalDynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const log = options.log ?? defaultLog;
  if (options.port !== undefined) {
    const endpoint = `http://127.0.0.1:${options.port}`;
    if (await isDynamoDbReady(endpoint)) {
      log(`reusing the DynamoDB endpoint already running at ${endpoint}`);
      return { endpoint, reused: true, stop: async () => {} };
    }
  }
  const motoOptions: MotoServerOptions = {
    log,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  };
  const moto = await startMotoServer(motoOptions);
  // 127.0.0.1 rather than moto's `localhost` endpoint: no IPv6 attempt before each connection.
  const endpoint = `http://127.0.0.1:${moto.port}`;
  if (!(await isDynamoDbReady(endpoint, 5_000))) {
    await moto.stop();
    throw new Error(`moto answers at ${moto.endpoint} but not as DynamoDB (ListTables)`);
  }
  log(`DynamoDB (moto) ready at ${endpoint}`);
  return { endpoint, reused: false, stop: () => moto.stop() };
}
