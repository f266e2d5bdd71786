// The allocation's state, one vocabulary for every package: the contract's `ISurplusMarket.State`
// by name (what registries persist and announcements carry) and by code (what the contract stores,
// returns from `recordOf` and puts in its custom errors).

/** An allocation's state on-chain, as `ISurplusMarket.State` names it. */
export const AllocationState = {
  /** Never opened. */
  None: "None",
  /** Opened, waiting for signatures until the signing deadline. */
  Signing: "Signing",
  /** Every required party signed; the stream runs until `end`. */
  Running: "Running",
  /** Settled with a mismatch or a dispute; waiting for the Mediator. */
  MediationRequested: "MediationRequested",
  /** Paid out; terminal. */
  Closed: "Closed",
} as const;
export type AllocationState = (typeof AllocationState)[keyof typeof AllocationState];

/** Each state's value in the contract's enum (its declaration order; a test reads the Solidity). */
export const AllocationStateCode = {
  None: 0,
  Signing: 1,
  Running: 2,
  MediationRequested: 3,
  Closed: 4,
} as const satisfies Record<AllocationState, number>;
export type AllocationStateCode = (typeof AllocationStateCode)[AllocationState];

const BY_CODE: readonly AllocationState[] = (Object.keys(AllocationStateCode) as AllocationState[]).sort(
  (a, b) => AllocationStateCode[a] - AllocationStateCode[b],
);

/** The state the contract encodes as `code`; a code outside the enum is a RangeError. */
export function allocationStateOf(code: number | bigint): AllocationState {
  const state = BY_CODE[Number(code)];
  if (state === undefined)
    throw new RangeError(`${code} is not an ISurplusMarket.State (0..${BY_CODE.length - 1})`);
  return state;
}
