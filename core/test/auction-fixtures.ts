// Open offers for the auction's tests: accounts and offer ids derived from one serial per maker,
// a Supplier and a Customer that fit each other around T0, and the round's parameters.
import { getAddress } from "ethers";
import {
  type Address,
  type Bytes32,
  type CustomerOffer,
  type OpenCustomerOffer,
  type OpenSupplierOffer,
  SCHEMA_VERSION,
  type SupplierOffer,
} from "../src/index.ts";

export const T0 = 1_800_000_000;
export const account = (n: number) => getAddress(`0x${(n + 1).toString(16).padStart(40, "0")}`) as Address;
export const id = (n: number) => `0x${(n + 1).toString(16).padStart(64, "0")}` as Bytes32;
export const ALLOCATOR = account(9_999);

export const auctionParams = (over: object = {}) => ({
  allocator: ALLOCATOR,
  nowSeconds: T0 - 10,
  penaltyRate: 1_000n,
  ...over,
});

/** Offer makers trusting `mediators` by default; each offer gets the next serial's account and id. */
export function offerMakers(mediators: readonly Address[]) {
  let serial = 0;
  return {
    supplier(o: Partial<SupplierOffer> = {}, extra: Partial<OpenSupplierOffer> = {}): OpenSupplierOffer {
      const n = serial++;
      return {
        id: id(n),
        offer: {
          kind: "supplier",
          schemaVersion: SCHEMA_VERSION,
          account: account(n),
          nonce: 1n,
          capacityMips: 4_000,
          ramMb: 4_096,
          start: T0,
          end: T0 + 7_200,
          minPricePerMi: 100n,
          mediators: [...mediators],
          ...o,
        },
        ...extra,
      };
    },
    customer(o: Partial<CustomerOffer> = {}, extra: Partial<OpenCustomerOffer> = {}): OpenCustomerOffer {
      const n = serial++;
      return {
        id: id(n),
        offer: {
          kind: "customer",
          schemaVersion: SCHEMA_VERSION,
          account: account(n),
          nonce: 1n,
          serviceName: "people-counter",
          serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
          miPerInput: 100,
          ramMb: 1_024,
          inputsPerSecond: 10,
          start: T0,
          end: T0 + 3_600,
          maxPricePerMi: 200n,
          replicas: 1,
          minReplicas: 1,
          minServiceSeconds: 600,
          mediators: [...mediators],
          ...o,
        },
        ...extra,
      };
    },
  };
}
