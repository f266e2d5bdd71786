// The broker's configuration: localstack/pulsar/standalone.conf with this data directory's ports,
// certificate and secret filled in, and the fingerprint that tells a running broker is stale.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PULSAR_CONF_DIR, type Resolved } from "./options.ts";

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

/** Fingerprint of what a started broker depends on (pom, standalone.conf, log4j2.xml). */
export async function configurationHash(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of ["pom.xml", "standalone.conf", "log4j2.xml"])
    hash.update(await readFile(join(PULSAR_CONF_DIR, file)));
  return hash.digest("hex").slice(0, 16);
}

/** Writes the data directory's conf/standalone.conf (mode 600: it holds the secret) and returns its path. */
export async function writeBrokerConfig(
  o: Resolved,
  credentials: { tls: { cert: string; key: string }; tokenSecret: string; adminToken: string },
): Promise<string> {
  const template = await readFile(join(PULSAR_CONF_DIR, "standalone.conf"), "utf8");
  const confFile = join(o.dataDir, "conf/standalone.conf");
  await mkdir(dirname(confFile), { recursive: true });
  await writeFile(
    confFile,
    renderConfig(template, {
      webServicePort: String(o.webPort),
      brokerServicePort: String(o.brokerPort),
      webServicePortTls: String(o.webTlsPort),
      tlsCertificateFilePath: credentials.tls.cert,
      tlsKeyFilePath: credentials.tls.key,
      tokenSecretKey: `data:;base64,${credentials.tokenSecret}`,
      brokerClientAuthenticationParameters: JSON.stringify({ token: credentials.adminToken }),
    }),
    { mode: 0o600 },
  );
  return confFile;
}
