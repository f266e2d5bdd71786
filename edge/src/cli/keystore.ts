// The participant's Ethereum key, kept only in an encrypted keystore (Web3 Secret Storage: scrypt +
// AES-128-CTR), never in plain text on disk.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { SurplusError } from "@surplus/core";
import { getAddress, Wallet } from "ethers";

export class KeystoreError extends SurplusError {
  override name = "KeystoreError";
  constructor(message: string, path: string, options?: ErrorOptions) {
    super("KEYSTORE", message, { path }, options);
  }
}

/** Creates a new key and writes it encrypted; refuses to overwrite an existing keystore. */
export async function createKeystore(path: string, password: string): Promise<string> {
  if (existsSync(path)) throw new KeystoreError(`${path} exists already: not overwriting a key`, path);
  if (password.length < 8)
    throw new KeystoreError("the keystore password must have at least 8 characters", path);
  const wallet = Wallet.createRandom();
  writeFileSync(path, await wallet.encrypt(password), { mode: 0o600 });
  return wallet.address;
}

/** Decrypts the keystore at `path`. */
export async function openKeystore(path: string, password: string): Promise<Wallet> {
  let json: string;
  try {
    json = readFileSync(path, "utf8");
  } catch (cause) {
    throw new KeystoreError(`cannot read keystore ${path}: ${(cause as Error).message}`, path, { cause });
  }
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return wallet instanceof Wallet ? wallet : new Wallet(wallet.privateKey);
  } catch (cause) {
    throw new KeystoreError(`cannot decrypt keystore ${path}: wrong password or not a keystore`, path, {
      cause,
    });
  }
}

/** The keystore's address (checksummed, as `init` prints it), read without the password. */
export function keystoreAddress(path: string): string {
  try {
    const { address } = JSON.parse(readFileSync(path, "utf8")) as { address?: string };
    if (!address) throw new Error("no address field");
    return getAddress(`0x${address.replace(/^0x/, "")}`);
  } catch (cause) {
    throw new KeystoreError(`${path} is not a keystore: ${(cause as Error).message}`, path, { cause });
  }
}
