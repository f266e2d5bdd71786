// The broker's jars (and pulsar-perf's): downloaded by Maven from Maven Central into ~/.m2 once
// (localstack/pulsar/pom.xml), their classpath kept per pom version in the data directory.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { defaultLog, PULSAR_CONF_DIR, PulsarLocalError, resolveOptions } from "./options.ts";

const execFileAsync = promisify(execFile);

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
