// JWT credentials for the broker. The broker runs `AuthenticationProviderToken` with an HS256
// secret and reads the role from the `sub` claim: "admin" is the super-user (operator, broker
// internals, the WebSocket service), participants' roles are their Ethereum addresses.
import { SignJWT } from "jose";

/** The super-user role of the broker (`superUserRoles=admin` in standalone.conf). */
export const ADMIN_ROLE = "admin";

/** Bytes of a freshly generated HS256 secret (the broker needs at least 32). */
export const TOKEN_SECRET_BYTES = 32;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** A new random HS256 secret for the broker's `tokenSecretKey`. */
export function generateTokenSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOKEN_SECRET_BYTES));
}

/** The broker role of a participant: its Ethereum address, lower-cased. */
export function participantRole(address: string): string {
  if (!ADDRESS.test(address)) throw new TypeError(`not an Ethereum address: ${JSON.stringify(address)}`);
  return address.toLowerCase();
}

export interface MintOptions {
  /** Lifetime, as a number of seconds or a jose time span ("2h"). @default no expiry */
  readonly expiresIn?: number | string;
}

/** Mints an HS256 JWT whose `sub` (the broker role) is `role`. */
export async function mintToken(
  secret: Uint8Array,
  role: string,
  options: MintOptions = {},
): Promise<string> {
  if (secret.byteLength < TOKEN_SECRET_BYTES) {
    throw new TypeError(
      `token secret has ${secret.byteLength} bytes; at least ${TOKEN_SECRET_BYTES} are needed`,
    );
  }
  const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(role).setIssuedAt();
  if (options.expiresIn !== undefined) {
    jwt.setExpirationTime(
      typeof options.expiresIn === "number"
        ? Math.floor(Date.now() / 1000) + options.expiresIn
        : options.expiresIn,
    );
  }
  return jwt.sign(secret);
}

/** Mints a participant token: `sub` = the lower-cased Ethereum address. */
export function mintParticipantToken(
  secret: Uint8Array,
  address: string,
  options: MintOptions = {},
): Promise<string> {
  return mintToken(secret, participantRole(address), options);
}
