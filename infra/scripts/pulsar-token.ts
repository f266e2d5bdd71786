// Mints a Pulsar token (HS256 JWT) from the self-run broker's signing key, the way
// `bin/pulsar tokens create --secret-key file://… --subject …` does, without a Pulsar install.
//
//   aws secretsmanager get-secret-value --secret-id <TokenSigningKeySecretArn> \
//     --query SecretString --output text \
//   | ./surplus node infra/scripts/pulsar-token.ts --subject admin
//
// The key is read from stdin (its raw bytes, as the broker reads `file://`); the token is printed
// on stdout. `--expires-in-days N` adds an `exp` claim.
import { createHmac } from "node:crypto";
import { parseArgs } from "node:util";

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/** An HS256 JWT with `sub` (and `exp` when given), signed with the key's raw bytes. */
export function mintPulsarToken(key: Buffer, subject: string, expiresAtSeconds?: number): string {
  if (key.length < 32)
    throw new Error(`the signing key has ${key.length} bytes; Pulsar's HS256 keys have at least 32`);
  if (!subject) throw new Error("the token needs a subject (the Pulsar role)");
  const header = base64url(JSON.stringify({ alg: "HS256" }));
  const payload = base64url(
    JSON.stringify(
      expiresAtSeconds === undefined ? { sub: subject } : { sub: subject, exp: expiresAtSeconds },
    ),
  );
  const signature = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { subject: { type: "string" }, "expires-in-days": { type: "string" } },
  });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // A trailing newline from `--output text` is not part of the key.
  const key = Buffer.from(
    Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, ""),
    "utf8",
  );
  const days = values["expires-in-days"];
  const exp = days === undefined ? undefined : Math.floor(Date.now() / 1000) + Number(days) * 86_400;
  process.stdout.write(`${mintPulsarToken(key, values.subject ?? "", exp)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    process.stderr.write(`pulsar-token: ${err.message}\n`);
    process.exit(1);
  });
}
