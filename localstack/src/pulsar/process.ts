// The broker's process: started detached on this data directory (or an already running one
// reused), ready once a message goes through, stopped cleanly; its pid and log in the data directory.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { ADMIN_ROLE, mintToken, PulsarAdmin, WebSocketMessageBus } from "@surplus/adapters/pulsar";
import { resolveClasspath } from "./classpath.ts";
import { configurationHash, writeBrokerConfig } from "./config.ts";
import { tlsCertificate, tokenSecret } from "./credentials.ts";
import { findJava, JVM_FLAGS } from "./java.ts";
import {
  PULSAR_CONF_DIR,
  type PulsarConnectionInfo,
  type PulsarLocal,
  PulsarLocalError,
  type PulsarLocalOptions,
  type Resolved,
  resolveOptions,
} from "./options.ts";

/** The pid of this data directory's broker, when that process is alive. */
export async function readPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(join(dataDir, "broker.pid"), "utf8")).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once("error", () => resolvePromise(false));
  });
}

async function adminAnswers(admin: PulsarAdmin): Promise<"ours" | "foreign" | "down"> {
  try {
    await admin.clusters();
    return "ours";
  } catch (error) {
    const name = (error as Error).name;
    if (name === "PulsarConnectionError") return "down";
    return "foreign"; // something answers but does not accept our admin token
  }
}

/** Starts the local broker, or reuses the one already running on this data directory. */
export async function startPulsar(options: PulsarLocalOptions = {}): Promise<PulsarLocal> {
  const o = resolveOptions(options);
  await mkdir(join(o.dataDir, "logs"), { recursive: true });
  const secret = await tokenSecret(o.dataDir);
  const adminToken = await mintToken(secret, ADMIN_ROLE);
  const admin = new PulsarAdmin({ url: o.webUrl, token: adminToken, timeoutMs: 5_000 });
  const tls = await tlsCertificate(o.dataDir);
  const info = {
    webUrl: o.webUrl,
    serviceUrl: o.serviceUrl,
    adminToken,
    tokenSecret: Buffer.from(secret).toString("base64"),
    webUrlTls: o.webUrlTls,
    tlsCa: tls.pem,
    dataDir: o.dataDir,
  };

  const runningPid = await readPid(o.dataDir);
  const state = await adminAnswers(admin);
  const configHash = await configurationHash();
  if (state === "ours" && runningPid) {
    o.log(`reusing the broker already running (pid ${runningPid}) at ${o.webUrl}`);
    const runningHash = await readFile(join(o.dataDir, "broker.config-hash"), "utf8").catch(() => "");
    if (runningHash.trim() !== configHash) {
      o.log(
        "warning: the running broker was started with an older localstack/pulsar configuration; " +
          "run `node localstack/src/pulsar/cli.ts stop` to restart it with the current one",
      );
    }
    await waitReady(o, admin, adminToken, undefined, options.readyTimeoutMs);
    return { ...info, pid: runningPid, startedHere: false };
  }
  if (runningPid) {
    // Our process exists but does not answer yet (still starting, or stuck).
    o.log(`a broker process (pid ${runningPid}) exists; waiting for it to become ready…`);
    await waitReady(o, admin, adminToken, runningPid, options.readyTimeoutMs);
    return { ...info, pid: runningPid, startedHere: false };
  }
  if (
    state === "foreign" ||
    (await portOpen(o.webPort)) ||
    (await portOpen(o.brokerPort)) ||
    (await portOpen(o.webTlsPort))
  ) {
    throw new PulsarLocalError(
      `port ${o.webPort}, ${o.brokerPort} or ${o.webTlsPort} on 127.0.0.1 is taken by another process (not the broker of ${o.dataDir}). ` +
        "Stop it, or choose other ports with SURPLUS_PULSAR_WEB_PORT / SURPLUS_PULSAR_BROKER_PORT / SURPLUS_PULSAR_WEB_TLS_PORT.",
    );
  }

  const { java, major } = await findJava(21);
  const classpath = await resolveClasspath("broker", { dataDir: o.dataDir, log: o.log });
  const confFile = await writeBrokerConfig(o, { tls, tokenSecret: info.tokenSecret, adminToken });

  await mkdir(join(o.dataDir, "cds"), { recursive: true });
  const logFile = join(o.dataDir, "logs/broker.log");
  const out = openSync(logFile, "a");
  const args = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:MaxDirectMemorySize=1g",
    "-XX:+UseG1GC",
    // Class-data sharing over Pulsar's ~300 jars: the first run records an archive on exit,
    // later starts map it instead of loading and verifying every class again.
    "-XX:+AutoCreateSharedArchive",
    `-XX:SharedArchiveFile=${join(o.dataDir, "cds/broker.jsa")}`,
    "-Xlog:cds=off,cds+dynamic=off", // (the --add-opens below only disable the archived module graph)
    ...JVM_FLAGS,
    `-Dlog4j2.configurationFile=${join(PULSAR_CONF_DIR, "log4j2.xml")}`,
    "-cp",
    classpath,
    "org.apache.pulsar.PulsarStandaloneStarter",
    "--config",
    confFile,
    "--no-functions-worker",
    "--advertised-address",
    "127.0.0.1",
    "--metadata-dir",
    join(o.dataDir, "data/metadata"),
    "--bookkeeper-dir",
    join(o.dataDir, "data/bookkeeper"),
  ];
  o.log(`starting Pulsar 4.0 standalone on Java ${major} (log: ${logFile})…`);
  const child = spawn(java, args, { cwd: o.dataDir, detached: true, stdio: ["ignore", out, out] });
  if (!child.pid) throw new PulsarLocalError(`could not start ${java}`);
  await writeFile(join(o.dataDir, "broker.pid"), `${child.pid}\n`);
  await writeFile(join(o.dataDir, "broker.config-hash"), `${configHash}\n`);
  child.unref();
  await waitReady(o, admin, adminToken, child.pid, options.readyTimeoutMs);
  return { ...info, pid: child.pid, startedHere: true };
}

/** Ready means: the admin REST API answers, the broker health check (a produce + read) passes,
 * and a message goes through the WebSocket API. */
async function waitReady(
  o: Resolved,
  admin: PulsarAdmin,
  adminToken: string,
  pid: number | undefined,
  timeoutMs = 240_000,
): Promise<void> {
  const started = Date.now();
  let lastReport = started;
  let lastError = "";
  while (Date.now() - started < timeoutMs) {
    if (pid !== undefined) {
      try {
        process.kill(pid, 0);
      } catch {
        throw new PulsarLocalError(
          `the broker exited while starting. Last lines of ${join(o.dataDir, "logs/broker.log")}:\n${await logTail(o.dataDir)}`,
        );
      }
    }
    try {
      if ((await admin.health()).trim() === "ok") {
        await probeWebSocket(o, admin, adminToken);
        o.log(`ready at ${o.webUrl} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return;
      }
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      o.log(`  … still starting (${Math.round((Date.now() - started) / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new PulsarLocalError(
    `the broker did not become ready within ${timeoutMs / 1000} s (last error: ${lastError}). Log:\n${await logTail(o.dataDir)}`,
  );
}

const READINESS_TOPIC = "persistent://public/default/surplus-readiness";

async function probeWebSocket(o: Resolved, admin: PulsarAdmin, adminToken: string): Promise<void> {
  await admin.ensureTopic(READINESS_TOPIC);
  const bus = new WebSocketMessageBus({ url: o.webUrl, token: adminToken, connectTimeoutMs: 5_000 });
  try {
    const producer = await bus.createProducer(READINESS_TOPIC, { sendTimeoutMs: 5_000 });
    await producer.send({ payload: new TextEncoder().encode("ready") });
  } finally {
    await bus.close();
  }
}

async function logTail(dataDir: string, lines = 30): Promise<string> {
  try {
    return (await readFile(join(dataDir, "logs/broker.log"), "utf8"))
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

/** Stops the broker of a data directory (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopPulsar(options: PulsarLocalOptions & { graceMs?: number } = {}): Promise<boolean> {
  const o = resolveOptions(options);
  const pid = await readPid(o.dataDir);
  if (!pid) return false;
  o.log(`stopping the broker (pid ${pid})…`);
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + (options.graceMs ?? 30_000);
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    process.kill(pid, 0);
    o.log(`the broker did not stop within ${(options.graceMs ?? 30_000) / 1000} s; killing it`);
    process.kill(pid, "SIGKILL");
  } catch {
    // exited
  }
  await rm(join(o.dataDir, "broker.pid"), { force: true });
  // The ports are released when the process is gone; wait for the web port to close.
  for (let i = 0; i < 50 && (await portOpen(o.webPort)); i++) await new Promise((r) => setTimeout(r, 100));
  o.log("stopped");
  return true;
}

/** Connection info of the running broker (for other processes: demo, benchmarks). */
export async function pulsarInfo(options: PulsarLocalOptions = {}): Promise<PulsarConnectionInfo> {
  const o = resolveOptions(options);
  const secret = await tokenSecret(o.dataDir);
  return {
    webUrl: o.webUrl,
    serviceUrl: o.serviceUrl,
    adminToken: await mintToken(secret, ADMIN_ROLE),
    tokenSecret: Buffer.from(secret).toString("base64"),
    webUrlTls: o.webUrlTls,
    tlsCa: (await tlsCertificate(o.dataDir)).pem,
  };
}
