// Shared test fixtures: deterministic accounts and valid offers.
import { Wallet } from "ethers";
import {
  type Allocation,
  allocation,
  type CustomerOffer,
  customerOffer,
  type MarketDomain,
  offerId,
  SCHEMA_VERSION,
  type SupplierOffer,
  supplierOffer,
} from "../src/index.ts";

export const wallet = (i: number) => new Wallet(`0x${(i + 1).toString(16).padStart(64, "0")}`);

export const alice = wallet(0); // a Customer
export const bob = wallet(1); // a Supplier
export const carol = wallet(2); // a Mediator
export const dave = wallet(3); // an Allocator

export const domain: MarketDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

export function aSupplierOffer(overrides: Partial<SupplierOffer> = {}): SupplierOffer {
  return supplierOffer.parse({
    kind: "supplier",
    schemaVersion: SCHEMA_VERSION,
    account: bob.address,
    nonce: "1",
    capacityMips: 2000,
    ramMb: 512,
    start: 1_000,
    end: 5_000,
    minPricePerMi: "100",
    mediators: [carol.address],
    ...overrides,
  });
}

export function aCustomerOffer(overrides: Partial<CustomerOffer> = {}): CustomerOffer {
  return customerOffer.parse({
    kind: "customer",
    schemaVersion: SCHEMA_VERSION,
    account: alice.address,
    nonce: "7",
    serviceName: "people-counter",
    serviceHash: `0x${"ab".repeat(32)}`,
    miPerInput: 50,
    ramMb: 256,
    inputsPerSecond: 20,
    start: 1_000,
    end: 4_000,
    maxPricePerMi: "150",
    replicas: 2,
    minReplicas: 1,
    minServiceSeconds: 600,
    mediators: [carol.address],
    ...overrides,
  });
}

/** A valid allocation of the fixtures' Customer offer to the fixtures' Supplier offer. */
export function anAllocation(overrides: Partial<Allocation> = {}): Allocation {
  return allocation.parse({
    schemaVersion: SCHEMA_VERSION,
    allocator: dave.address,
    customer: alice.address,
    suppliers: [bob.address],
    mediator: carol.address,
    customerOffer: offerId(domain, aCustomerOffer()),
    supplierOffers: [offerId(domain, aSupplierOffer())],
    serviceHash: `0x${"ab".repeat(32)}`,
    start: 1_000,
    end: 1_600,
    pricePerMi: "120",
    miPerInput: 50,
    inputsPerSecond: 20,
    testCount: 12,
    minReplicas: 1,
    nonce: "1",
    ...overrides,
  });
}
