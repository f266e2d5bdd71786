// The published protocol spec (issue 16), generated from the one source of truth: the zod schemas
// and EIP-712 types of core, and the channel layout and grants of the Pulsar adapters. Writes
// spec/schemas/*.schema.json (JSON Schema 2020-12, the wire form: amounts and nonces as decimal
// strings), spec/eip712.json and spec/asyncapi.json. `node spec/src/generate.ts` rewrites them;
// spec/test/spec.test.ts fails when they drift from the code.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ADMIN_ROLE,
  allocationChannels,
  DEFAULT_LAYOUT,
  marketChannels,
  marketGrants,
  ParticipantKind,
} from "@surplus/adapters/pulsar";
import {
  address,
  amount,
  bytes32,
  checklist,
  cleanup,
  DOMAIN_NAME,
  DOMAIN_VERSION,
  envelope,
  type MessageType,
  nonce,
  SCHEMA_VERSION,
  SIGNED_BODY_SCHEMAS,
  signature,
  streamInput,
  streamOutput,
  TYPES,
  voidAllocation,
} from "@surplus/core";
import { z } from "zod";

export const SPEC_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

/** What each signed message type carries as its body: core's own map, so the spec cannot drift. */
const BODIES = SIGNED_BODY_SCHEMAS;

/** Unsigned messages: the void on the allocations channel, and the allocation channels' payloads. */
const UNSIGNED = {
  VoidAllocation: voidAllocation,
  Checklist: checklist,
  Cleanup: cleanup,
  StreamInput: streamInput,
  StreamOutput: streamOutput,
} as const;

/** Wire patterns of the values zod checks with code (refinements) rather than a regex. */
const PATTERNS = new Map<z.ZodType, { pattern: string; description: string }>([
  [
    address,
    { pattern: "^0x[0-9a-fA-F]{40}$", description: "Ethereum address (any case; EIP-55 is canonical)" },
  ],
  [bytes32, { pattern: "^0x[0-9a-fA-F]{64}$", description: "32 bytes, 0x-prefixed hex" }],
  [
    signature,
    { pattern: "^0x[0-9a-fA-F]{130}$", description: "65-byte ECDSA signature r‖s‖v, 0x-prefixed hex" },
  ],
  [amount, { pattern: "^\\d{1,78}$", description: "token base units: decimal integer string, < 2^256" }],
  [nonce, { pattern: "^\\d{1,20}$", description: "decimal integer string, < 2^64" }],
]);

/** The JSON Schema of `schema`'s wire (input) form. */
export function jsonSchema(schema: z.ZodType, title: string): Record<string, unknown> {
  const out = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: (ctx) => {
      const known = PATTERNS.get(ctx.zodSchema as unknown as z.ZodType);
      if (!known) return;
      // The bigint branch of amounts and nonces is code-only: the wire carries the string.
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[key];
      Object.assign(ctx.jsonSchema, { type: "string", ...known });
    },
  }) as Record<string, unknown>;
  return { $id: `https://surplus.market/spec/v${SCHEMA_VERSION}/${kebab(title)}.schema.json`, title, ...out };
}

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();

/** Every schema file, by file name. */
export function schemaFiles(): Map<string, Record<string, unknown>> {
  const files = new Map<string, Record<string, unknown>>();
  for (const [type, body] of Object.entries(BODIES)) {
    files.set(`${kebab(type)}.schema.json`, jsonSchema(body, type));
    // The envelope as it travels with this body: what a receiver parses first.
    const signed = envelope.extend({ type: z.literal(type as MessageType), body });
    files.set(`signed-${kebab(type)}.schema.json`, jsonSchema(signed, `Signed${type}`));
  }
  for (const [name, schema] of Object.entries(UNSIGNED))
    files.set(`${kebab(name)}.schema.json`, jsonSchema(schema, name));
  files.set("envelope.schema.json", jsonSchema(envelope, "Envelope"));
  return files;
}

/** The EIP-712 domain (with the market's chain id and contract as parameters) and the types. */
export function eip712(): Record<string, unknown> {
  return {
    domain: {
      name: DOMAIN_NAME,
      version: DOMAIN_VERSION,
      chainId: "<the market's chain id>",
      verifyingContract: "<the SurplusMarket contract address>",
    },
    domainType: [
      { name: "name", type: "string" },
      { name: "version", type: "string" },
      { name: "chainId", type: "uint256" },
      { name: "verifyingContract", type: "address" },
    ],
    // Each message is signed as its own primary type: types = { [Type]: fields }. Body fields that
    // are not listed (kind, schemaVersion, Accept's account, …) are not signed.
    types: TYPES,
    signer: {
      Allocation: "body.allocator",
      default: "body.account",
    },
    ids: {
      offerId: "the EIP-712 digest of the offer (SupplierOffer, CustomerOffer, MediatorOffer)",
      allocationId: "the EIP-712 digest of the Allocation",
    },
  };
}

/** The AsyncAPI 3.0 document of the market's channels. */
export function asyncapi(): Record<string, unknown> {
  const m = marketChannels(DEFAULT_LAYOUT);
  // The private channels' addresses with their parameters in place of a sample allocation's.
  const sampleSupplier = "0x00000000000000000000000000000000000000f1";
  const sample = allocationChannels("sampleid", [sampleSupplier], DEFAULT_LAYOUT);
  const param = (topic: string) =>
    topic.replace("sampleid", "{allocationId}").replaceAll(sampleSupplier, "{supplier}");
  const a = {
    input: param(sample.input),
    output: param(sample.outputs[sampleSupplier]!),
    checklist: param(sample.checklist),
    cleanup: param(sample.cleanup),
  };
  const who = (topic: string) => {
    const roles: Record<string, string[]> = {};
    for (const kind of Object.values(ParticipantKind))
      for (const g of marketGrants(
        { address: "0x0000000000000000000000000000000000000001", kind },
        DEFAULT_LAYOUT,
      ))
        if (g.topic === topic)
          for (const action of g.actions) roles[action] = [...(roles[action] ?? []), kind];
    return roles;
  };
  const pulsar = (namespace: string) => ({
    pulsar: { namespace, persistence: "persistent", bindingVersion: "0.1.0" },
  });
  const ref = (file: string) => ({
    schemaFormat: "application/schema+json;version=draft-2020-12",
    schema: { $ref: `./schemas/${file}` },
  });
  const message = (name: string, file: string, summary: string) => ({
    name,
    summary,
    contentType: "application/json",
    payload: ref(file),
  });
  const signedMessages = (...types: MessageType[]) =>
    Object.fromEntries(
      types.map((t) => [
        t,
        message(
          t,
          `signed-${kebab(t)}.schema.json`,
          `A ${t} in its signed envelope (EIP-712, see eip712.json).`,
        ),
      ]),
    );
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Surplus market channels",
      version: String(SCHEMA_VERSION),
      description: [
        "The public market channels and each allocation's private channels on Apache Pulsar.",
        "Every signed message is a JSON envelope {schemaVersion, type, body, signer, signature, sentAtMs}:",
        "signature is the EIP-712 signature of body as `type` under the market's domain (eip712.json);",
        "signer is body.account (body.allocator for an Allocation); sentAtMs must lie within minutes of",
        "the broker's publish time. Amounts and nonces are decimal strings. Only admitted participants'",
        "offers count (docs/front-door.md); each participant's broker token has its lower-cased address",
        `as role ('${ADMIN_ROLE}' is the operator). x-grants list which kinds of participant the broker`,
        "lets produce / consume on each channel (Table 4 of the paper).",
      ].join(" "),
    },
    servers: {
      local: {
        host: "127.0.0.1:6650",
        protocol: "pulsar",
        description: "./surplus market (WebSocket API at ws://127.0.0.1:8080/ws/v2)",
        bindings: { pulsar: { tenant: DEFAULT_LAYOUT.tenant, bindingVersion: "0.1.0" } },
      },
    },
    channels: {
      offers: {
        address: m.offers,
        messages: signedMessages("SupplierOffer", "CustomerOffer", "MediatorOffer"),
        bindings: pulsar(`${DEFAULT_LAYOUT.tenant}/${DEFAULT_LAYOUT.publicNamespace}`),
        "x-grants": who(m.offers),
      },
      allocations: {
        address: m.allocations,
        messages: {
          ...signedMessages("Allocation"),
          VoidAllocation: message(
            "VoidAllocation",
            "void-allocation.schema.json",
            "An offer that expired unmatched (unsigned).",
          ),
        },
        bindings: pulsar(`${DEFAULT_LAYOUT.tenant}/${DEFAULT_LAYOUT.publicNamespace}`),
        "x-grants": who(m.allocations),
      },
      accept: {
        address: m.accept,
        messages: signedMessages("Accept", "Decline"),
        bindings: pulsar(`${DEFAULT_LAYOUT.tenant}/${DEFAULT_LAYOUT.publicNamespace}`),
        "x-grants": who(m.accept),
      },
      input: {
        address: a.input,
        parameters: { allocationId: { description: "the allocation id, lower-case hex without 0x" } },
        messages: {
          StreamInput: message(
            "StreamInput",
            "stream-input.schema.json",
            "One input of the Customer's stream.",
          ),
        },
        "x-grants": { produce: ["the allocation's Customer"], consume: ["its Suppliers", "its Mediator"] },
      },
      output: {
        address: a.output,
        parameters: {
          allocationId: { description: "the allocation id" },
          supplier: { description: "the Supplier's lower-case address" },
        },
        messages: {
          StreamOutput: message("StreamOutput", "stream-output.schema.json", "One output of a Supplier."),
          SupplierResult: signedMessages("SupplierResult")["SupplierResult"],
        },
        "x-grants": { produce: ["that Supplier"], consume: ["the allocation's Customer", "its Mediator"] },
      },
      checklist: {
        address: a.checklist,
        parameters: { allocationId: { description: "the allocation id" } },
        messages: {
          Checklist: message(
            "Checklist",
            "checklist.schema.json",
            "The Customer names the outputs to verify.",
          ),
        },
        "x-grants": { produce: ["the allocation's Customer"], consume: ["its Suppliers", "its Mediator"] },
      },
      cleanup: {
        address: a.cleanup,
        parameters: { allocationId: { description: "the allocation id" } },
        messages: {
          Cleanup: message("Cleanup", "cleanup.schema.json", "The Allocator ends the allocation."),
        },
        "x-grants": { produce: ["the Allocator"], consume: ["every party of the allocation"] },
      },
    },
    operations: {
      postOffer: {
        action: "send",
        channel: { $ref: "#/channels/offers" },
        summary: "Customers, Suppliers and Mediators post offers.",
      },
      readAllocations: {
        action: "receive",
        channel: { $ref: "#/channels/allocations" },
        summary:
          "Every participant reads the Allocator's allocations (on its own durable subscription <role>-agent).",
      },
      acceptAllocation: {
        action: "send",
        channel: { $ref: "#/channels/accept" },
        summary:
          "Each party of an allocation accepts (the Customer with its commitment Γ) or declines it before its start.",
      },
    },
  };
}

/** Writes every file of the spec. */
export function writeSpec(dir = SPEC_DIR): string[] {
  const written: string[] = [];
  const put = (path: string, value: unknown) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), `${JSON.stringify(value, null, 2)}\n`);
    written.push(path);
  };
  for (const [name, schema] of schemaFiles()) put(join("schemas", name), schema);
  put("eip712.json", eip712());
  put("asyncapi.json", asyncapi());
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const path of writeSpec()) process.stdout.write(`wrote spec/${path}\n`);
}
