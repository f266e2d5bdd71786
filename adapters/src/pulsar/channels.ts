// The paper's channels (§3.1, Fig. 2) on Pulsar topics, with the tenancy of Table 4 turned into
// produce/consume grants that the broker itself enforces. Every participant's broker role is its
// lower-cased Ethereum address (participant tokens carry it as `sub`); the operator is "admin".
//
// Naming (tenant `market` by default; one cluster, run by the operator):
//
//   persistent://market/public/offers              ① Customers and Suppliers publish offers
//   persistent://market/public/allocations         ② the Allocator publishes allocations
//   persistent://market/public/accept              ③④ Customers, Suppliers and the Mediator accept/reject
//   persistent://market/alloc-<id>/input           ⑤ the Customer's input stream
//   persistent://market/alloc-<id>/output-<addr>   each Supplier's output stream
//   persistent://market/alloc-<id>/checklist       the Customer names the outputs to verify
//   persistent://market/alloc-<id>/cleanup         ⑥ the Allocator ends the allocation
//   persistent://market/alloc-<id>/mediation       ⑩ the Mediator's findings
//   <any of the above>-dlq                         messages the receiver's validation rejected
//
// Grants (P = produce, C = consume; "-" = refused by the broker):
//
//   topic            Customer  Supplier s      other Supplier  Mediator  Allocator  outsider
//   offers           P C       P C             P C             C         C          -
//   allocations      C         C               C               C         P C        -
//   accept           P C       P C             P C             P C       C          -
//   input            P         C               C               C         -          -
//   output-s         C         P               -               C         -          -
//   checklist        P         C               C               C         -          -
//   cleanup          C         C               C               C         P          -
//   mediation        C         C               C               P         C          -
//   <topic>-dlq      P for every role that consumes <topic> (the validation pipeline's writes)
//
// How this follows Table 4: each stakeholder writes only its own broker ("rw" on the diagonal)
// and reads the Marketplace brokers of the others ("r"): the public channels are readable by all
// participants, and each private channel has exactly one writer (the channel owner). On the
// Service brokers Table 4 gives the Customer's input to the Suppliers and Mediator ("r") and
// nothing to the Allocator ("-"), and each Supplier's output to nobody but the Mediator — we
// additionally let the Customer read its Suppliers' outputs, because delivering those outputs
// to the Customer is the service being bought (§3.2 "Service Execution"); other Suppliers stay
// refused, so replicas cannot copy each other's results. Public channels cannot stop a
// participant from writing a message *in another's name*: the receivers' validation (signature
// checks in core) rejects those.
//
// Subscriptions belong to their owner (issue 16): a consume grant on a public channel lets a role
// consume from, peek, skip, reset and delete any subscription of it — unless the subscription is
// granted to named roles. Admission grants each participant its own durable subscription of the
// public namespace, `ownSubscription(address, "agent")` = `<role>-agent`, to its role alone, so no
// other party can manage it. (Pulsar's namespace-wide "Prefix" subscription authorization would
// cover every name, but on Pulsar 4.0.7 it refuses every WebSocket consumer, correctly named or
// not; Readers' and other ad-hoc subscriptions stay unprotected, and hold nothing durable.)
//
// Lifecycle: `provisionMarket` once; `admitParticipant` when a stakeholder joins;
// `provisionAllocationChannels` when all parties accepted an allocation (④); and
// `revokeAllocationChannels` when it closes (⑪/⑫): every grant is withdrawn (the topics are kept
// for audit unless `deleteTopics`).
import { getAddress } from "ethers";
import { AuthAction as Action, type AuthAction, type PulsarAdmin } from "./admin.ts";
import { ADMIN_ROLE, participantRole } from "./auth.ts";
import { PulsarConflictError, PulsarNotFoundError } from "./errors.ts";
import { assertSegment, topicName } from "./topics.ts";

export const ParticipantKind = {
  Customer: "customer",
  Supplier: "supplier",
  Allocator: "allocator",
  Mediator: "mediator",
} as const;
export type ParticipantKind = (typeof ParticipantKind)[keyof typeof ParticipantKind];

export interface ChannelLayout {
  /** @default "market" */
  readonly tenant: string;
  /** Namespace of the public market channels. @default "public" */
  readonly publicNamespace: string;
  /** Prefix of the per-allocation namespaces. @default "alloc-" */
  readonly allocationPrefix: string;
}

export const DEFAULT_LAYOUT: ChannelLayout = {
  tenant: "market",
  publicNamespace: "public",
  allocationPrefix: "alloc-",
};

/** Suffix of the dead-letter topic that goes with every channel. */
export const DLQ_SUFFIX = "-dlq";

export function deadLetterTopicOf(topic: string): string {
  return `${topic}${DLQ_SUFFIX}`;
}

export interface MarketChannels {
  readonly offers: string;
  readonly allocations: string;
  readonly accept: string;
}

export function marketChannels(layout: ChannelLayout = DEFAULT_LAYOUT): MarketChannels {
  const t = (local: string) =>
    topicName({ persistent: true, tenant: layout.tenant, namespace: layout.publicNamespace, local });
  return { offers: t("offers"), allocations: t("allocations"), accept: t("accept") };
}

export interface AllocationParties {
  /** The allocation id (e.g. the contract's id, decimal or 0x-hex). */
  readonly allocationId: string;
  readonly customer: string;
  readonly suppliers: readonly string[];
  readonly mediator: string;
  readonly allocator: string;
}

export interface AllocationChannels {
  readonly namespace: string;
  readonly input: string;
  /** Output topic of each Supplier, keyed by its lower-cased address. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly checklist: string;
  readonly cleanup: string;
  readonly mediation: string;
}

/** One cell of the table: `role` may do `actions` on `topic`. */
export interface Grant {
  readonly topic: string;
  readonly role: string;
  readonly actions: readonly AuthAction[];
}

export function allocationNamespace(allocationId: string, layout: ChannelLayout = DEFAULT_LAYOUT): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(allocationId)) {
    throw new TypeError(`allocation id ${JSON.stringify(allocationId)} must be 1–80 letters, digits, _ or -`);
  }
  return `${layout.tenant}/${assertSegment("namespace", `${layout.allocationPrefix}${allocationId.toLowerCase()}`)}`;
}

export function allocationChannels(
  allocationId: string,
  suppliers: readonly string[],
  layout: ChannelLayout = DEFAULT_LAYOUT,
): AllocationChannels {
  const namespace = allocationNamespace(allocationId, layout);
  const [tenant, ns] = namespace.split("/") as [string, string];
  const t = (local: string) => topicName({ persistent: true, tenant, namespace: ns, local });
  const outputs: Record<string, string> = {};
  for (const supplier of suppliers) {
    const role = participantRole(supplier);
    outputs[role] = t(`output-${role}`);
  }
  return {
    namespace,
    input: t("input"),
    outputs,
    checklist: t("checklist"),
    cleanup: t("cleanup"),
    mediation: t("mediation"),
  };
}

/** Every topic of the allocation (without dead-letter topics). */
export function allocationTopics(channels: AllocationChannels): string[] {
  return [
    channels.input,
    ...Object.values(channels.outputs),
    channels.checklist,
    channels.cleanup,
    channels.mediation,
  ];
}

const P = [Action.Produce] as const;
const C = [Action.Consume] as const;
const PC = [Action.Produce, Action.Consume] as const;

/** The market-channel grants of one participant (Table 4, Marketplace broker rows). */
export function marketGrants(
  participant: { readonly address: string; readonly kind: ParticipantKind },
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Grant[] {
  const role = participantRole(participant.address);
  const m = marketChannels(layout);
  const cells: Record<ParticipantKind, Array<[string, readonly AuthAction[]]>> = {
    customer: [
      [m.offers, PC],
      [m.allocations, C],
      [m.accept, PC],
    ],
    supplier: [
      [m.offers, PC],
      [m.allocations, C],
      [m.accept, PC],
    ],
    allocator: [
      [m.offers, C],
      [m.allocations, PC],
      [m.accept, C],
    ],
    mediator: [
      [m.offers, C],
      [m.allocations, C],
      // The Mediator signs an allocation like the other parties (paper §3.2 `mediatorSign`); its
      // EIP-712 Accept travels on the accept channel, so it produces there too.
      [m.accept, PC],
    ],
  };
  return withDeadLetterGrants(cells[participant.kind].map(([topic, actions]) => ({ topic, role, actions })));
}

/** The private-channel grants of an allocation (Table 4, Service broker rows), merged per role. */
export function allocationGrants(
  parties: AllocationParties,
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Grant[] {
  const ch = allocationChannels(parties.allocationId, parties.suppliers, layout);
  const customer = participantRole(parties.customer);
  const suppliers = parties.suppliers.map(participantRole);
  const mediator = participantRole(parties.mediator);
  const allocator = participantRole(parties.allocator);
  const cells: Grant[] = [
    { topic: ch.input, role: customer, actions: P },
    ...suppliers.map((role) => ({ topic: ch.input, role, actions: C })),
    { topic: ch.input, role: mediator, actions: C },
    ...suppliers.flatMap((supplier) => {
      const output = ch.outputs[supplier] as string;
      return [
        { topic: output, role: supplier, actions: P },
        { topic: output, role: customer, actions: C },
        { topic: output, role: mediator, actions: C },
      ];
    }),
    { topic: ch.checklist, role: customer, actions: P },
    ...suppliers.map((role) => ({ topic: ch.checklist, role, actions: C })),
    { topic: ch.checklist, role: mediator, actions: C },
    { topic: ch.cleanup, role: allocator, actions: P },
    ...[customer, ...suppliers, mediator].map((role) => ({ topic: ch.cleanup, role, actions: C })),
    { topic: ch.mediation, role: mediator, actions: P },
    ...[customer, ...suppliers, allocator].map((role) => ({ topic: ch.mediation, role, actions: C })),
  ];
  return withDeadLetterGrants(mergeGrants(cells));
}

/** One grant per (topic, role), with the union of the actions (a party may hold two roles). */
export function mergeGrants(grants: readonly Grant[]): Grant[] {
  const merged = new Map<string, { topic: string; role: string; actions: Set<AuthAction> }>();
  for (const g of grants) {
    const key = `${g.topic}\u0000${g.role}`;
    const entry = merged.get(key) ?? { topic: g.topic, role: g.role, actions: new Set<AuthAction>() };
    for (const a of g.actions) entry.actions.add(a);
    merged.set(key, entry);
  }
  return [...merged.values()].map((e) => ({
    topic: e.topic,
    role: e.role,
    actions: [Action.Produce, Action.Consume].filter((a) => e.actions.has(a)),
  }));
}

/** Whoever consumes a topic may write what its validation rejects to the topic's DLQ. */
function withDeadLetterGrants(grants: Grant[]): Grant[] {
  const dlq = grants
    .filter((g) => g.actions.includes(Action.Consume))
    .map((g) => ({ topic: deadLetterTopicOf(g.topic), role: g.role, actions: P }));
  return mergeGrants([...grants, ...dlq]);
}

/** What `role` may do on `topic` under `grants` (for tests and diagnostics). */
export function allowedActions(grants: readonly Grant[], topic: string, role: string): AuthAction[] {
  return mergeGrants(grants.filter((g) => g.topic === topic && g.role === role))[0]?.actions.slice() ?? [];
}

// --- provisioning (admin REST) -------------------------------------------------------------------

async function ignoreConflict(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (error) {
    if (!(error instanceof PulsarConflictError)) throw error;
  }
}

async function ignoreNotFound(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (error) {
    if (!(error instanceof PulsarNotFoundError)) throw error;
  }
}

async function ensureTenant(admin: PulsarAdmin, layout: ChannelLayout): Promise<void> {
  if ((await admin.tenants()).includes(layout.tenant)) return;
  const clusters = await admin.clusters();
  await ignoreConflict(
    admin.createTenant(layout.tenant, { adminRoles: [ADMIN_ROLE], allowedClusters: clusters }),
  );
}

async function ensureTopics(admin: PulsarAdmin, topics: readonly string[]): Promise<void> {
  for (const topic of topics) {
    await admin.ensureTopic(topic);
    await admin.ensureTopic(deadLetterTopicOf(topic));
  }
}

/** Creates the market tenant, its public namespace and the three public channels (idempotent). */
export async function provisionMarket(
  admin: PulsarAdmin,
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Promise<MarketChannels> {
  await ensureTenant(admin, layout);
  const namespace = `${layout.tenant}/${layout.publicNamespace}`;
  await ignoreConflict(admin.createNamespace(namespace));
  // Per-subscription grants protect the participants' subscriptions (see the header); "Prefix"
  // would refuse every WebSocket consumer, so the namespace is kept at "None" explicitly.
  await admin.setSubscriptionAuthMode(namespace, "None");
  const channels = marketChannels(layout);
  await ensureTopics(admin, Object.values(channels));
  // Signed market messages are a few KiB: the broker refuses anything bigger at the door, so a
  // flood of 5 MB messages never reaches (or fills the receive queues of) any reader.
  for (const topic of Object.values(channels)) await admin.setMaxMessageSize(topic, MAX_MARKET_MESSAGE_BYTES);
  return channels;
}

/**
 * The name of `address`'s own subscription for `purpose`: prefixed with its broker role, as the
 * public namespace's subscription authorization requires.
 */
/** Largest message on the public market channels, bytes (an offer or accept is < 4 KiB). */
export const MAX_MARKET_MESSAGE_BYTES = 64 * 1024;

/** The purpose of the one durable subscription admission reserves for each participant. */
export const OWN_SUBSCRIPTION_PURPOSE = "agent";

export function ownSubscription(address: string, purpose: string): string {
  return `${participantRole(address)}-${assertSegment("subscription", purpose)}`;
}

/**
 * The name of a Supplier's durable subscription of an allocation's input channel, as the edge
 * Supplier subscribes (`supplier-` and its checksummed address): provisioning grants it to that
 * Supplier alone, so another Supplier of the allocation cannot skip or reset its inputs.
 */
export function inputSubscription(supplier: string): string {
  return `supplier-${getAddress(supplier)}`;
}

/** Grants a participant its market-channel rights (idempotent). */
export async function admitParticipant(
  admin: PulsarAdmin,
  participant: { readonly address: string; readonly kind: ParticipantKind },
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Promise<Grant[]> {
  const grants = marketGrants(participant, layout);
  for (const g of grants) await admin.grantTopic(g.topic, g.role, g.actions);
  // Its durable subscription of the public channels is its own (issue 16).
  await admin.grantSubscription(
    `${layout.tenant}/${layout.publicNamespace}`,
    ownSubscription(participant.address, OWN_SUBSCRIPTION_PURPOSE),
    [participantRole(participant.address)],
  );
  return grants;
}

/**
 * Creates the allocation's namespace and private channels and grants exactly the Table 4 cells.
 * Idempotent: calling it again re-applies the same grants.
 */
export async function provisionAllocationChannels(
  admin: PulsarAdmin,
  parties: AllocationParties,
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Promise<AllocationChannels> {
  const channels = allocationChannels(parties.allocationId, parties.suppliers, layout);
  await ensureTenant(admin, layout);
  await ignoreConflict(admin.createNamespace(channels.namespace));
  await ensureTopics(admin, allocationTopics(channels));
  for (const g of allocationGrants(parties, layout)) await admin.grantTopic(g.topic, g.role, g.actions);
  // Each Supplier's durable subscription of the input channel is its own (issue 16): the other
  // Suppliers' consume grant no longer lets them peek, skip, reset or delete it.
  for (const supplier of parties.suppliers)
    await admin.grantSubscription(channels.namespace, inputSubscription(supplier), [
      participantRole(supplier),
    ]);
  return channels;
}

export interface RevokeOptions {
  /** Also delete the topics and the namespace (the messages are lost). @default false */
  readonly deleteTopics?: boolean;
}

/** Withdraws every grant of the allocation (after it closed); optionally deletes its channels. */
export async function revokeAllocationChannels(
  admin: PulsarAdmin,
  parties: AllocationParties,
  options: RevokeOptions = {},
  layout: ChannelLayout = DEFAULT_LAYOUT,
): Promise<void> {
  const channels = allocationChannels(parties.allocationId, parties.suppliers, layout);
  for (const g of allocationGrants(parties, layout)) await ignoreNotFound(admin.revokeTopic(g.topic, g.role));
  for (const supplier of parties.suppliers)
    await ignoreNotFound(
      admin.revokeSubscription(channels.namespace, inputSubscription(supplier), participantRole(supplier)),
    );
  if (options.deleteTopics) {
    await ignoreNotFound(admin.deleteNamespace(channels.namespace, true));
  }
}
