// The participants of the local market, each with its own key, Pulsar token and connection.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type MessageBus,
  mintParticipantToken,
  type ParticipantKind,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import type { Address } from "@surplus/core";
import type { JsonRpcSigner } from "ethers";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface Participant {
  readonly name: string;
  readonly kind: ParticipantKind;
  readonly signer: JsonRpcSigner;
  readonly address: Address;
  readonly bus: MessageBus;
}

export async function participant(
  name: string,
  kind: ParticipantKind,
  signer: JsonRpcSigner,
  pulsar: { webUrl: string; tokenSecret: string },
): Promise<Participant> {
  const address = (await signer.getAddress()) as Address;
  const token = await mintParticipantToken(
    new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64")),
    address,
  );
  return { name, kind, signer, address, bus: new WebSocketMessageBus({ url: pulsar.webUrl, token }) };
}

/** A compiled example service (edge/build, made by `npm run build`). */
export function serviceWasm(name: string): Uint8Array {
  try {
    return readFileSync(join(ROOT, "edge/build", `${name}.wasm`));
  } catch {
    throw new Error(`edge/build/${name}.wasm is missing: run \`./surplus npm run build\` first`);
  }
}

/** Bus telemetry rows for the bus-energy service (five f64: speed, acceleration, grade, mass, dt). */
export function telemetry(random: () => number): Uint8Array {
  return new Uint8Array(
    new Float64Array([random() * 20, random() * 4 - 2, random() * 0.1 - 0.05, 12_000 + random() * 6_000, 1])
      .buffer,
  );
}
