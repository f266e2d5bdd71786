// AllocationOpener over JSON-RPC: the Allocator's `open(terms, sigs)` on the market contract, sent
// with the Allocator's own signer (only `a.allocator` may call it). Idempotent: the state is read
// first, and a submission that fails or reverts while the allocation is open anyway (an earlier
// submission, or a concurrent one, got there first) counts as "already open".
import { connectMarket, SURPLUS_MARKET_ABI, toTerms } from "@surplus/contracts";
import {
  type AcceptSignatures,
  type Allocation,
  type AllocationOpener,
  AllocationState,
  allocationStateOf,
  type Bytes32,
  type OpenOutcome,
} from "@surplus/core";
import { type Contract, type ContractTransactionResponse, Interface, type Signer } from "ethers";

/** `open` failed and the allocation is not open: the contract's reason when it gave one. */
export class AllocationOpenError extends Error {
  override readonly name = "AllocationOpenError";
  readonly allocationId: Bytes32;
  /** The decoded custom error, e.g. `InsufficientBalance(0x…, 5, 0)`, or the RPC's message. */
  readonly reason: string;

  constructor(allocationId: Bytes32, reason: string, cause: unknown) {
    super(`open(${allocationId}) failed: ${reason}`, { cause });
    this.allocationId = allocationId;
    this.reason = reason;
  }
}

const iface = new Interface(SURPLUS_MARKET_ABI);
/** Longer than ethers' cache of identical provider requests (250 ms). */
const NONCE_RETRY_MS = 500;

/** The contract's custom error when the RPC returned its data, else the RPC's message. */
function reasonOf(err: unknown): string {
  const e = err as {
    revert?: { name: string; args: readonly unknown[] };
    data?: unknown;
    shortMessage?: string;
    message?: string;
  };
  // Errors of a signer's own gas estimate carry only the raw revert data: decode it with the ABI.
  const decoded =
    e.revert ?? (typeof e.data === "string" && e.data.length >= 10 ? iface.parseError(e.data) : undefined);
  if (decoded) return `${decoded.name}(${[...decoded.args].map(String).join(", ")})`;
  return e.shortMessage ?? e.message ?? String(err);
}

export class MarketAllocationOpener implements AllocationOpener {
  readonly #market: Contract;

  #sending: Promise<unknown> = Promise.resolve();

  /** `signer`: the Allocator's account, connected to the chain's provider. */
  constructor(signer: Signer, marketAddress: string) {
    this.#market = connectMarket(marketAddress, signer);
  }

  /**
   * Sends one transaction at a time from the Allocator's account, so concurrent opens take
   * consecutive nonces; waiting for receipts (and the registry's writes) overlaps.
   */
  #oneAtATime<T>(send: () => Promise<T>): Promise<T> {
    const sent = this.#sending.then(send);
    this.#sending = sent.catch(() => undefined);
    return sent;
  }

  async stateOf(allocationId: Bytes32): Promise<AllocationState | undefined> {
    const [code] = (await this.#market.getFunction("recordOf")(allocationId)) as [bigint];
    const state = allocationStateOf(code);
    return state === AllocationState.None ? undefined : state;
  }

  async open(
    allocationId: Bytes32,
    allocation: Allocation,
    signatures: AcceptSignatures,
    onSent?: (transactionHash: string) => Promise<void>,
  ): Promise<OpenOutcome> {
    const before = await this.stateOf(allocationId);
    if (before) return { kind: "already-open", state: before };
    const sigs = {
      customer: signatures.customer,
      commitment: signatures.commitment,
      mediator: signatures.mediator,
      suppliers: [...signatures.suppliers],
    };
    let tx: ContractTransactionResponse;
    try {
      tx = await this.#oneAtATime(() =>
        this.#market
          .getFunction("open")(toTerms(allocation), sigs)
          .catch(async (err: { code?: string }) => {
            // ethers caches a provider answer for a moment: right after this signer's previous
            // transaction the pending count can be stale. Nothing was sent; ask again once.
            if (err.code !== "NONCE_EXPIRED") throw err;
            await new Promise((r) => setTimeout(r, NONCE_RETRY_MS));
            return this.#market.getFunction("open")(toTerms(allocation), sigs);
          }),
      );
    } catch (err) {
      // Rejected before being sent (gas estimation replays it): open already, or a real failure.
      return this.#alreadyOpen(allocationId, err);
    }
    await onSent?.(tx.hash);
    let receipt: Awaited<ReturnType<ContractTransactionResponse["wait"]>>;
    try {
      receipt = await tx.wait();
    } catch (err) {
      // Mined but reverted: a concurrent submission may have been mined first.
      return this.#alreadyOpen(allocationId, err);
    }
    if (!receipt) throw new AllocationOpenError(allocationId, "the transaction was dropped", undefined);
    const state = await this.stateOf(allocationId);
    return {
      kind: "opened",
      transactionHash: receipt.hash,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      state: state ?? AllocationState.Signing,
    };
  }

  async #alreadyOpen(allocationId: Bytes32, err: unknown): Promise<OpenOutcome> {
    const state = await this.stateOf(allocationId);
    if (state) return { kind: "already-open", state };
    throw new AllocationOpenError(allocationId, reasonOf(err), err);
  }
}
