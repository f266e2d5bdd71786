// Signed offers, an in-memory offers channel and an in-memory allocations channel for the
// allocator's tests (unit tests pair them with MemoryAllocatorRegistry, integration tests with
// DynamoDB on moto).
import {
  type Address,
  type Allocation,
  type AllocationPublisher,
  type Bytes32,
  type ChannelMessage,
  type CustomerOffer,
  type MarketDomain,
  type OfferSource,
  SCHEMA_VERSION,
  type SupplierOffer,
  signEnvelope,
  type VoidAllocation,
} from "@surplus/core";
import { Wallet } from "ethers";

export const domain: MarketDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
export const wallet = (i: number) => new Wallet(`0x${(i + 1).toString(16).padStart(64, "0")}`);
export const allocatorWallet = wallet(900);
export const mediator = wallet(901).address as Address;
/** Offers start one minute after this; rounds run at this time. */
export const NOW_MS = 1_800_000_000_000;
const T0 = NOW_MS / 1000 + 60;

export function supplierBody(i: number, o: Partial<SupplierOffer> = {}): SupplierOffer {
  return {
    kind: "supplier",
    schemaVersion: SCHEMA_VERSION,
    account: wallet(i).address as Address,
    nonce: 1n,
    capacityMips: 4_000,
    ramMb: 4_096,
    start: T0,
    end: T0 + 7_200,
    minPricePerMi: 100n,
    mediators: [mediator],
    ...o,
  };
}

export function customerBody(i: number, o: Partial<CustomerOffer> = {}): CustomerOffer {
  return {
    kind: "customer",
    schemaVersion: SCHEMA_VERSION,
    account: wallet(i).address as Address,
    nonce: 1n,
    serviceName: "people-counter",
    serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
    miPerInput: 100,
    ramMb: 1_024,
    inputsPerSecond: 10,
    start: T0,
    end: T0 + 3_600,
    maxPricePerMi: 200n,
    replicas: 2,
    minReplicas: 1,
    minServiceSeconds: 600,
    mediators: [mediator],
    ...o,
  };
}

export async function signedOffer(i: number, body: SupplierOffer | CustomerOffer, sentAtMs = NOW_MS) {
  return body.kind === "supplier"
    ? signEnvelope(wallet(i), domain, "SupplierOffer", body, sentAtMs)
    : signEnvelope(wallet(i), domain, "CustomerOffer", body, sentAtMs);
}

/** An append-only offers channel; positions are zero-padded sequence numbers. */
export class MemoryOfferSource implements OfferSource {
  readonly messages: ChannelMessage[] = [];
  append(payload: unknown): void {
    this.messages.push({ position: String(this.messages.length + 1).padStart(12, "0"), payload });
  }
  async read(after: string | undefined, max: number) {
    return this.messages.filter((m) => after === undefined || m.position > after).slice(0, max);
  }
}

export class MemoryPublisher implements AllocationPublisher {
  readonly allocations = new Map<Bytes32, Allocation>();
  readonly voids: VoidAllocation[] = [];
  publishes = 0;
  async publishAllocation(id: Bytes32, allocation: Allocation) {
    this.publishes++;
    this.allocations.set(id, allocation);
  }
  async publishVoid(v: VoidAllocation) {
    this.publishes++;
    this.voids.push(v);
  }
}

export const config = {
  domain,
  allocator: allocatorWallet.address as Address,
  penaltyRate: 1_000n,
  batchSize: 3,
};
