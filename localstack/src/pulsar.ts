// A real Apache Pulsar standalone broker for development and tests, without Docker:
// the broker's jars come from Maven Central (localstack/pulsar/pom.xml, resolved once into
// ~/.m2), and run on a JDK ≥ 21 from the machine. Token authentication and authorization are
// on, topics are never created automatically, everything listens on 127.0.0.1 and all state
// lives under .data/pulsar.
//
//   node localstack/src/pulsar.ts start        start (or reuse) the broker and print its endpoints
//   node localstack/src/pulsar.ts stop         stop it cleanly
//   node localstack/src/pulsar.ts status       is it running?
//   node localstack/src/pulsar.ts token ADDR   mint a participant token (sub = address, lower-cased)
//   node localstack/src/pulsar.ts env          print the endpoints as shell exports
//
// Environment: SURPLUS_PULSAR_DATA_DIR, SURPLUS_PULSAR_WEB_PORT (8080), SURPLUS_PULSAR_BROKER_PORT
// (6650), SURPLUS_JAVA_HOME / JAVA_HOME, SURPLUS_PULSAR_KEEP (leave a test-started broker running).
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, openSync, readdirSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  ADMIN_ROLE,
  generateTokenSecret,
  mintToken,
  PulsarAdmin,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import type { TestProject } from "vitest/node";

const execFileAsync = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, "../..");
export const PULSAR_CONF_DIR = join(ROOT, "localstack/pulsar");

/** What clients need to talk to the local broker. */
export interface PulsarConnectionInfo {
  /** Web service (admin REST + WebSocket API): http://127.0.0.1:8080 */
  readonly webUrl: string;
  /** Binary protocol (Java clients, pulsar-perf): pulsar://127.0.0.1:6650 */
  readonly serviceUrl: string;
  /** A super-user ("admin") JWT. */
  readonly adminToken: string;
  /** The HS256 secret, base64, to mint participant tokens (mintParticipantToken in @surplus/adapters). */
  readonly tokenSecret: string;
  /** The same web service over TLS (https:// and wss://), with a self-signed certificate. */
  readonly webUrlTls: string;
  /** PEM of that certificate (it is its own CA): pass it as `tls.ca` to trust the broker. */
  readonly tlsCa: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    pulsar: PulsarConnectionInfo;
  }
}

export interface PulsarLocalOptions {
  /** @default .data/pulsar (or SURPLUS_PULSAR_DATA_DIR) */
  readonly dataDir?: string;
  /** @default 8080 (or SURPLUS_PULSAR_WEB_PORT) */
  readonly webPort?: number;
  /** @default 6650 (or SURPLUS_PULSAR_BROKER_PORT) */
  readonly brokerPort?: number;
  /** HTTPS/WSS port. @default 8443 (or SURPLUS_PULSAR_WEB_TLS_PORT) */
  readonly webTlsPort?: number;
  /** How long to wait for the broker to become ready. @default 240000 */
  readonly readyTimeoutMs?: number;
  /** Progress messages. @default to stderr */
  readonly log?: (line: string) => void;
}

export interface PulsarLocal extends PulsarConnectionInfo {
  readonly dataDir: string;
  readonly pid: number;
  /** False when an already running broker was reused. */
  readonly startedHere: boolean;
}

/** Raised when the broker cannot be started; the message says what to do. */
export class PulsarLocalError extends Error {
  override name = "PulsarLocalError";
}

const defaultLog = (line: string) => process.stderr.write(`[pulsar] ${line}\n`);

interface Resolved {
  dataDir: string;
  webPort: number;
  brokerPort: number;
  webTlsPort: number;
  webUrlTls: string;
  webUrl: string;
  serviceUrl: string;
  log: (line: string) => void;
}

function resolveOptions(options: PulsarLocalOptions): Resolved {
  const dataDir = resolve(
    options.dataDir ?? process.env.SURPLUS_PULSAR_DATA_DIR ?? join(ROOT, ".data/pulsar"),
  );
  const webPort = options.webPort ?? Number(process.env.SURPLUS_PULSAR_WEB_PORT ?? 8080);
  const brokerPort = options.brokerPort ?? Number(process.env.SURPLUS_PULSAR_BROKER_PORT ?? 6650);
  const webTlsPort = options.webTlsPort ?? Number(process.env.SURPLUS_PULSAR_WEB_TLS_PORT ?? 8443);
  return {
    dataDir,
    webPort,
    brokerPort,
    webTlsPort,
    webUrlTls: `https://127.0.0.1:${webTlsPort}`,
    webUrl: `http://127.0.0.1:${webPort}`,
    serviceUrl: `pulsar://127.0.0.1:${brokerPort}`,
    log: options.log ?? defaultLog,
  };
}

// --- credentials -----------------------------------------------------------------------------

/** The HS256 secret of a data directory, generated on first use and kept (mode 600). */
export async function tokenSecret(dataDir: string): Promise<Uint8Array> {
  const file = join(dataDir, "secret/token-secret.b64");
  if (existsSync(file)) return new Uint8Array(Buffer.from((await readFile(file, "utf8")).trim(), "base64"));
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const secret = generateTokenSecret();
  await writeFile(file, `${Buffer.from(secret).toString("base64")}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return secret;
}

/**
 * A self-signed certificate for the broker's TLS web port (127.0.0.1 / localhost), generated once
 * per data directory with the openssl CLI. The certificate is its own CA.
 */
export async function tlsCertificate(dataDir: string): Promise<{ cert: string; key: string; pem: string }> {
  const dir = join(dataDir, "tls");
  const cert = join(dir, "broker.cert.pem");
  const key = join(dir, "broker.key-pk8.pem");
  if (!existsSync(cert) || !existsSync(key)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await execFileAsync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "3650",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ]);
    } catch (error) {
      throw new PulsarLocalError(
        `could not create the broker's TLS certificate with openssl (${(error as Error).message.split("\n")[0]}). ` +
          "Install openssl (apt-get install openssl).",
      );
    }
    await chmod(key, 0o600);
  }
  return { cert, key, pem: await readFile(cert, "utf8") };
}

// --- Java and the classpath --------------------------------------------------------------------

export interface JavaRuntime {
  readonly java: string;
  readonly major: number;
}

/** Finds a JDK ≥ `minMajor`: SURPLUS_JAVA_HOME, JAVA_HOME, /usr/lib/jvm/*, then `java` on PATH. */
export async function findJava(minMajor = 21): Promise<JavaRuntime> {
  const homes = [process.env.SURPLUS_JAVA_HOME, process.env.JAVA_HOME, "/usr/lib/jvm/temurin-25-jdk-amd64"];
  try {
    homes.push(
      ...readdirSync("/usr/lib/jvm")
        .sort()
        .reverse()
        .map((d) => join("/usr/lib/jvm", d)),
    );
  } catch {
    // no /usr/lib/jvm
  }
  const candidates = [...new Set(homes.filter((h): h is string => !!h).map((h) => join(h, "bin/java")))];
  candidates.push("java");
  const seen: string[] = [];
  for (const java of candidates) {
    if (java !== "java" && !existsSync(java)) continue;
    try {
      const { stderr } = await execFileAsync(java, ["-version"]);
      const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr);
      const major = match ? (match[1] === "1" ? Number(match[2]) : Number(match[1])) : 0;
      seen.push(`${java} (${major || "?"})`);
      if (major >= minMajor) return { java, major };
    } catch {
      // not runnable
    }
  }
  throw new PulsarLocalError(
    `Pulsar 4.0 needs Java ${minMajor} or newer, and none was found` +
      (seen.length ? ` (found: ${seen.join(", ")})` : "") +
      `. Install a JDK ≥ ${minMajor} (e.g. Temurin 25) and set JAVA_HOME or SURPLUS_JAVA_HOME to it.`,
  );
}

export type ClasspathProfile = "broker" | "perf";

/**
 * The runtime classpath of the broker ("broker") or of pulsar-perf ("perf"): resolved by Maven
 * from Maven Central into ~/.m2 on first use (with progress), then reused while the pom is
 * unchanged and the jars are still there.
 */
export async function resolveClasspath(
  profile: ClasspathProfile,
  options: { dataDir?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const log = options.log ?? defaultLog;
  const dataDir = resolve(options.dataDir ?? resolveOptions({}).dataDir);
  const pom = join(PULSAR_CONF_DIR, "pom.xml");
  const pomHash = createHash("sha256")
    .update(await readFile(pom))
    .digest("hex")
    .slice(0, 16);
  const file = join(dataDir, `classpath/${profile}-${pomHash}.txt`);
  if (existsSync(file)) {
    const classpath = (await readFile(file, "utf8")).trim();
    if (classpath.split(":").every((jar) => existsSync(jar))) return classpath;
  }
  await mkdir(dirname(file), { recursive: true });
  try {
    await execFileAsync("mvn", ["--version"]);
  } catch {
    throw new PulsarLocalError(
      "Maven (mvn) is needed once to download Pulsar from Maven Central into ~/.m2, and it is not on PATH. " +
        "Install Maven 3.8+ (e.g. apt-get install maven).",
    );
  }
  log(
    `resolving the ${profile} classpath from Maven Central (first run downloads ~${profile === "broker" ? 280 : 120} MB into ~/.m2)…`,
  );
  const args = [
    "-B",
    "-s",
    join(PULSAR_CONF_DIR, "settings.xml"),
    "-f",
    pom,
    "-P",
    profile,
    "dependency:build-classpath",
    `-Dmdep.outputFile=${file}`,
  ];
  const started = Date.now();
  let downloaded = 0;
  let lastReport = Date.now();
  const tail: string[] = [];
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn("mvn", args, { cwd: PULSAR_CONF_DIR, stdio: ["ignore", "pipe", "pipe"] });
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (line.includes("Downloaded from")) downloaded++;
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        log(`  … ${downloaded} artifacts downloaded (${Math.round((Date.now() - started) / 1000)} s)`);
      }
    };
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0 && existsSync(file)) return resolvePromise();
      reject(
        new PulsarLocalError(
          `Maven could not resolve the Pulsar ${profile} jars (exit ${code}). Is Maven Central reachable? ` +
            `Last output:\n${tail.filter((l) => /ERROR|WARN|Could not/.test(l)).join("\n") || tail.join("\n")}`,
        ),
      );
    });
  });
  log(
    `${profile} classpath ready (${downloaded} artifacts downloaded, ${Math.round((Date.now() - started) / 1000)} s)`,
  );
  return (await readFile(file, "utf8")).trim();
}

/** JVM flags `bin/pulsar` uses, plus our memory limits. */
export const JVM_FLAGS = [
  "--add-opens",
  "java.base/java.io=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.util.zip=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.nio=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.misc=ALL-UNNAMED",
  "--add-opens",
  "java.base/sun.net=ALL-UNNAMED",
  "--add-opens",
  "java.management/sun.management=ALL-UNNAMED",
  "--enable-native-access=ALL-UNNAMED",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Djava.net.preferIPv4Stack=true",
] as const;

// --- configuration -------------------------------------------------------------------------------

/** standalone.conf with the runtime values filled in (same keys the compose file overrides). */
export function renderConfig(template: string, values: Record<string, string>): string {
  const remaining = new Map(Object.entries(values));
  const lines = template.split("\n").map((line) => {
    const match = /^([A-Za-z0-9_.]+)=/.exec(line);
    if (!match) return line;
    const key = match[1] as string;
    if (!remaining.has(key)) return line;
    const value = remaining.get(key);
    remaining.delete(key);
    return `${key}=${value}`;
  });
  for (const [key, value] of remaining) lines.push(`${key}=${value}`);
  return lines.join("\n");
}

// --- lifecycle -----------------------------------------------------------------------------------

async function readPid(dataDir: string): Promise<number | undefined> {
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

/** Fingerprint of what a started broker depends on (pom, standalone.conf, log4j2.xml). */
async function configurationHash(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of ["pom.xml", "standalone.conf", "log4j2.xml"])
    hash.update(await readFile(join(PULSAR_CONF_DIR, file)));
  return hash.digest("hex").slice(0, 16);
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
          "run `node localstack/src/pulsar.ts stop` to restart it with the current one",
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
  const template = await readFile(join(PULSAR_CONF_DIR, "standalone.conf"), "utf8");
  const confFile = join(o.dataDir, "conf/standalone.conf");
  await mkdir(dirname(confFile), { recursive: true });
  await writeFile(
    confFile,
    renderConfig(template, {
      webServicePort: String(o.webPort),
      brokerServicePort: String(o.brokerPort),
      webServicePortTls: String(o.webTlsPort),
      tlsCertificateFilePath: tls.cert,
      tlsKeyFilePath: tls.key,
      tokenSecretKey: `data:;base64,${info.tokenSecret}`,
      brokerClientAuthenticationParameters: JSON.stringify({ token: adminToken }),
    }),
    { mode: 0o600 },
  );

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

/** Exports the connection info to the environment of this process (inherited by test workers). */
export function exportToEnv(info: PulsarConnectionInfo): void {
  process.env.SURPLUS_PULSAR_WEB_URL = info.webUrl;
  process.env.SURPLUS_PULSAR_SERVICE_URL = info.serviceUrl;
  process.env.SURPLUS_PULSAR_ADMIN_TOKEN = info.adminToken;
  process.env.SURPLUS_PULSAR_TOKEN_SECRET = info.tokenSecret;
  process.env.SURPLUS_PULSAR_WEB_URL_TLS = info.webUrlTls;
  process.env.SURPLUS_PULSAR_TLS_CA = info.tlsCa;
}

/**
 * Vitest global setup: starts (or reuses) the broker once per run and shares it with every test
 * file via `inject("pulsar")` and SURPLUS_PULSAR_* env vars. A broker started here is stopped at
 * the end unless SURPLUS_PULSAR_KEEP=1; a reused one is left running.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const local = await startPulsar();
  const info: PulsarConnectionInfo = {
    webUrl: local.webUrl,
    serviceUrl: local.serviceUrl,
    adminToken: local.adminToken,
    tokenSecret: local.tokenSecret,
    webUrlTls: local.webUrlTls,
    tlsCa: local.tlsCa,
  };
  project.provide("pulsar", info);
  exportToEnv(info);
  return async () => {
    if (local.startedHere && !process.env.SURPLUS_PULSAR_KEEP) await stopPulsar();
  };
}

async function main(argv: string[]): Promise<void> {
  const [command = "start", arg] = argv;
  switch (command) {
    case "start": {
      const local = await startPulsar();
      process.stdout.write(
        `${JSON.stringify({ webUrl: local.webUrl, serviceUrl: local.serviceUrl, pid: local.pid, dataDir: local.dataDir }, null, 2)}\n`,
      );
      return;
    }
    case "stop":
      if (!(await stopPulsar())) defaultLog("no broker running");
      return;
    case "status": {
      const o = resolveOptions({});
      const pid = await readPid(o.dataDir);
      process.stdout.write(pid ? `running (pid ${pid}) at ${o.webUrl}\n` : "not running\n");
      process.exitCode = pid ? 0 : 1;
      return;
    }
    case "token": {
      if (!arg) throw new PulsarLocalError("usage: pulsar.ts token <ethereum-address | admin>");
      const { mintParticipantToken } = await import("@surplus/adapters/pulsar");
      const secret = await tokenSecret(resolveOptions({}).dataDir);
      process.stdout.write(
        `${arg === ADMIN_ROLE ? await mintToken(secret, ADMIN_ROLE) : await mintParticipantToken(secret, arg)}\n`,
      );
      return;
    }
    case "env": {
      const info = await pulsarInfo();
      for (const [k, v] of Object.entries({
        SURPLUS_PULSAR_WEB_URL: info.webUrl,
        SURPLUS_PULSAR_SERVICE_URL: info.serviceUrl,
        SURPLUS_PULSAR_ADMIN_TOKEN: info.adminToken,
        SURPLUS_PULSAR_TOKEN_SECRET: info.tokenSecret,
        SURPLUS_PULSAR_WEB_URL_TLS: info.webUrlTls,
      })) {
        process.stdout.write(`export ${k}=${JSON.stringify(v)}\n`);
      }
      return;
    }
    default:
      throw new PulsarLocalError(`unknown command ${command} (start | stop | status | token ADDR | env)`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`[pulsar] error: ${error.message}\n`);
    process.exit(1);
  });
}
