// Seeded, realistic auction instances for the allocator benchmark.
//
// Suppliers are edge machines with spare cores for one to eight hours; Customers are stream
// services (a camera-analytics model at a few to tens of inputs per second) wanting one to twelve
// hours with r ∈ {1, 2, 3}. Windows lie on a grid (`gridSeconds`) within `horizonHours`; prices
// are around 10^9 base units per million instructions with asks below bids on average.
// Every offer has its own account; Mediators come from a small pool.
import type { OpenCustomerOffer, OpenSupplierOffer } from "@surplus/core";
import { type Address, type Bytes32, prng, SCHEMA_VERSION } from "@surplus/core";
import { getAddress } from "ethers";

export interface InstanceOptions {
  readonly seed: number;
  readonly customers: number;
  readonly suppliers: number;
  /** @default 24 */
  readonly horizonHours?: number;
  /** Window boundaries are multiples of this. @default 300 */
  readonly gridSeconds?: number;
  /** @default 4 */
  readonly mediatorPool?: number;
}

export interface Instance {
  readonly nowSeconds: number;
  readonly customers: OpenCustomerOffer[];
  readonly suppliers: OpenSupplierOffer[];
  readonly mediators: Address[];
}

const BASE_TIME = 1_800_000_000;
const PRICE_UNIT = 1_000_000_000n;

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
export const accountOf = (n: number): Address => getAddress(`0x${hex(n + 1, 40)}`) as Address;
const idOf = (n: number): Bytes32 => `0x${hex(n + 1, 64)}` as Bytes32;

export function generateInstance(opts: InstanceOptions): Instance {
  const rand = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const horizon = (opts.horizonHours ?? 24) * 3600;
  const grid = opts.gridSeconds ?? 300;
  const slots = Math.floor(horizon / grid);
  const mediators = Array.from({ length: opts.mediatorPool ?? 4 }, (_, i) => accountOf(10_000_000 + i));
  const trusted = (): Address[] => {
    const first = pick(mediators);
    const second = pick(mediators);
    return rand() < 0.5 && second !== first ? [first, second] : [first];
  };
  const window = (minHours: number, maxHours: number) => {
    const len = Math.max(1, Math.min(slots, Math.round((between(minHours * 60, maxHours * 60) * 60) / grid)));
    const start = between(0, slots - len);
    return { start: BASE_TIME + start * grid, end: BASE_TIME + (start + len) * grid };
  };
  const price = (lo: number, hi: number) => (PRICE_UNIT * BigInt(between(lo, hi))) / 100n;
  let n = 0;
  const suppliers: OpenSupplierOffer[] = [];
  for (let i = 0; i < opts.suppliers; i++, n++) {
    suppliers.push({
      id: idOf(n),
      offer: {
        kind: "supplier",
        schemaVersion: SCHEMA_VERSION,
        account: accountOf(n),
        nonce: 1n,
        capacityMips: pick([2_000, 4_000, 8_000, 16_000, 32_000]),
        ramMb: pick([1_024, 2_048, 4_096, 8_192, 16_384]),
        ...window(1, 8),
        minPricePerMi: price(50, 150),
        mediators: trusted(),
      },
    });
  }
  const customers: OpenCustomerOffer[] = [];
  for (let i = 0; i < opts.customers; i++, n++) {
    const replicas = between(1, 3);
    customers.push({
      id: idOf(n),
      offer: {
        kind: "customer",
        schemaVersion: SCHEMA_VERSION,
        account: accountOf(n),
        nonce: 1n,
        serviceName: "occupancy-detector",
        serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
        miPerInput: between(10, 200),
        ramMb: pick([128, 256, 512, 1_024, 2_048]),
        inputsPerSecond: between(1, 30),
        ...window(1, 12),
        maxPricePerMi: price(70, 170),
        replicas,
        minReplicas: between(1, replicas),
        minServiceSeconds: Math.min(900, grid),
        mediators: trusted(),
      },
    });
  }
  // Every window starts at or after now + δ_alloc + δ_setup (10 s by default).
  return { nowSeconds: BASE_TIME - 10, customers, suppliers, mediators };
}
