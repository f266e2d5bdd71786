// The Java runtime of the local broker and of pulsar-perf (the one place Java is looked for).
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { PulsarLocalError } from "./options.ts";

const execFileAsync = promisify(execFile);

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
