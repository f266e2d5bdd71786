// One allocation of this Allocator (a Customer, a Mediator, two Suppliers), its parties' signed
// accepts as they travel on the accept channel, and an in-memory market contract, for the accept
// round's tests (unit tests pair them with MemoryAcceptRegistry, integration tests with DynamoDB
// Local).
import {
  type AcceptSignatures,
  type Address,
  type Allocation,
  type AllocationOpener,
  AllocationState,
  allocationId,
  assertSignedBy,
  type Bytes32,
  type CustomerOffer,
  type OpenOutcome,
  SCHEMA_VERSION,
  signEnvelope,
  toWire,
} from "@surplus/core";
import type { Wallet } from "ethers";
import { allocatorWallet, customerBody, domain, NOW_MS, wallet } from "./allocator-scenario.ts";

export const customerWallet = wallet(10);
export const mediatorWallet = wallet(901);
export const supplierWallets = [wallet(0), wallet(1)];
export const outsider = wallet(500);
/** The Customer's Γ, carried by its accept. */
export const GAMMA: Bytes32 = `0x${"77".repeat(32)}`;
const ZERO: Bytes32 = `0x${"00".repeat(32)}`;

/** The Customer offer the allocation serves (the DynamoDB case commits against it). */
export const customerOffer: CustomerOffer = customerBody(10);

/** An allocation starting `startInSeconds` after NOW_MS (its signing deadline with the default lead). */
export function allocation(nonce = 1n, startInSeconds = 60): Allocation {
  const start = NOW_MS / 1000 + startInSeconds;
  return {
    schemaVersion: SCHEMA_VERSION,
    allocator: allocatorWallet.address as Address,
    customer: customerWallet.address as Address,
    suppliers: supplierWallets.map((w) => w.address as Address),
    mediator: mediatorWallet.address as Address,
    customerOffer: `0x${"c0".repeat(32)}`,
    supplierOffers: [`0x${"50".repeat(32)}`, `0x${"51".repeat(32)}`],
    serviceHash: `0x${"ab".repeat(32)}`,
    start,
    end: start + 3_600,
    pricePerMi: 150n,
    miPerInput: 100,
    inputsPerSecond: 10,
    testCount: 36,
    minReplicas: 1,
    nonce,
  };
}

export const idOf = (a: Allocation) => allocationId(domain, a);

/** `who`'s accept of `a` as it arrives off the channel (parsed wire JSON). */
export async function acceptOf(
  who: Wallet,
  a: Allocation,
  o: { commitment?: Bytes32; account?: Address; sentAtMs?: number } = {},
): Promise<unknown> {
  const account = o.account ?? (who.address as Address);
  const commitment = o.commitment ?? (account === a.customer ? GAMMA : ZERO);
  const env = await signEnvelope(
    who,
    domain,
    "Accept",
    { allocationId: idOf(a), account, commitment },
    o.sentAtMs ?? NOW_MS,
  );
  return JSON.parse(toWire(env));
}

/** Every party's accept of `a`. */
export async function everyAccept(a: Allocation): Promise<unknown[]> {
  return Promise.all([customerWallet, mediatorWallet, ...supplierWallets].map((w) => acceptOf(w, a)));
}

/**
 * The market contract's `open` in memory: checks every Accept signature as the contract does,
 * opens at most once, and counts the transactions it accepted.
 */
export class MemoryMarket implements AllocationOpener {
  readonly states = new Map<Bytes32, AllocationState>();
  readonly transactions: Array<{ allocationId: Bytes32; signatures: AcceptSignatures }> = [];
  /** Thrown by the next `open`, before anything is sent. */
  failNext: Error | undefined;

  async stateOf(id: Bytes32) {
    return this.states.get(id);
  }

  async open(
    id: Bytes32,
    a: Allocation,
    sigs: AcceptSignatures,
    onSent?: (hash: string) => Promise<void>,
  ): Promise<OpenOutcome> {
    const state = this.states.get(id);
    if (state) return { kind: "already-open", state };
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    assertSignedBy(
      domain,
      "Accept",
      { allocationId: id, account: a.customer, commitment: sigs.commitment },
      sigs.customer,
    );
    assertSignedBy(
      domain,
      "Accept",
      { allocationId: id, account: a.mediator, commitment: ZERO },
      sigs.mediator,
    );
    for (const [i, s] of a.suppliers.entries())
      assertSignedBy(
        domain,
        "Accept",
        { allocationId: id, account: s, commitment: ZERO },
        sigs.suppliers[i]!,
      );
    this.states.set(id, AllocationState.Running);
    this.transactions.push({ allocationId: id, signatures: sigs });
    const hash = `0x${this.transactions.length.toString(16).padStart(64, "0")}`;
    await onSent?.(hash);
    return {
      kind: "opened",
      transactionHash: hash,
      blockNumber: this.transactions.length,
      gasUsed: 400_000n,
      state: AllocationState.Running,
    };
  }
}

/** `target` whose method `name` throws once (a crash at that step), then behaves. */
export function crashingOnce<T extends object>(target: T, name: keyof T): T {
  let crashed = false;
  return new Proxy(target, {
    get(t, key, receiver) {
      const value = Reflect.get(t, key, receiver);
      if (key !== name || typeof value !== "function")
        return typeof value === "function" ? value.bind(t) : value;
      return (...args: unknown[]) => {
        if (!crashed) {
          crashed = true;
          return Promise.reject(new Error(`crashed in ${String(name)}`));
        }
        return value.apply(t, args);
      };
    },
  });
}
