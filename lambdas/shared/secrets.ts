// Secrets for the handlers. In AWS the stacks pass only a secret's ARN (…_SECRET_ARN): the value is
// fetched from Secrets Manager once per cold start, so it never sits in the function's
// configuration. Locally (the local market, tests) the plain variable is used instead.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

export type SecretFetcher = (arn: string) => Promise<string>;

let client: SecretsManagerClient | undefined;

/** Reads a secret's string value from Secrets Manager. */
export const fetchSecret: SecretFetcher = async (arn) => {
  client ??= new SecretsManagerClient({});
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  if (!SecretString) throw new Error(`secret ${arn} has no string value`);
  return SecretString.trim();
};

/**
 * The secret named by `${arnVar}` (fetched), else the plain `${plainVar}`; undefined when neither is
 * set. Setting both is refused: it would be ambiguous which one is in force.
 */
export async function secretFromEnv(
  env: NodeJS.ProcessEnv,
  plainVar: string,
  arnVar: string,
  fetch: SecretFetcher = fetchSecret,
): Promise<string | undefined> {
  const arn = env[arnVar];
  const plain = env[plainVar];
  if (arn && plain) throw new Error(`set ${arnVar} or ${plainVar}, not both`);
  if (arn) return fetch(arn);
  return plain || undefined;
}
