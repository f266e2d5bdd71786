// The local broker's credentials: the HS256 secret its tokens are signed with, and the
// self-signed certificate of its TLS web port; both made once per data directory and kept.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { ADMIN_ROLE, generateTokenSecret, mintParticipantToken, mintToken } from "@surplus/adapters/pulsar";
import { PulsarLocalError } from "./options.ts";

const execFileAsync = promisify(execFile);

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

/** The super-user token, or a participant's (role = its lower-cased address), of a data directory. */
export async function tokenFor(dataDir: string, role: string): Promise<string> {
  const secret = await tokenSecret(dataDir);
  return role === ADMIN_ROLE ? mintToken(secret, ADMIN_ROLE) : mintParticipantToken(secret, role);
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
