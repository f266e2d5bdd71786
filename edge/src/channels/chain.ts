// The participant's side of the market contract over ethers v6: any Signer connected to a
// JSON-RPC provider (a Hardhat node, a testnet). Implements the MarketChain port the agents use.
import { connectMarket, toTerms } from "@surplus/contracts";
import { type Allocation, allocationStateOf, type Bytes32, type Hex } from "@surplus/core";
import type { Contract, ContractTransactionResponse, Signer } from "ethers";
import type { ChainRecord, MarketChain, ResultArg, TxOutcome } from "../ports.ts";

export class EthersMarketChain implements MarketChain {
  readonly #market: Contract;
  readonly #signer: Signer;
  #queue: Promise<unknown> = Promise.resolve();
  #windows: { signing: number; reveal: number; mediation: number } | undefined;

  constructor(marketAddress: string, signer: Signer) {
    if (!signer.provider)
      throw new Error("the participant's signer must be connected to a JSON-RPC provider");
    this.#signer = signer;
    this.#market = connectMarket(marketAddress, signer);
  }

  async recordOf(id: Bytes32): Promise<ChainRecord> {
    const r = (await this.#market.getFunction("recordOf")(id)) as unknown as bigint[];
    return {
      state: allocationStateOf(r[0]!),
      deadline: Number(r[1]),
      suppliers: Number(r[2]),
      disputed: Number(r[5]),
      mediating: Number(r[6]),
    };
  }

  async now(): Promise<number> {
    const block = await this.#signer.provider!.getBlock("latest");
    // The next block is mined at or after the wall clock; the latest one may be older.
    return Math.max(block?.timestamp ?? 0, Math.floor(Date.now() / 1000));
  }

  async windows() {
    if (!this.#windows) {
      const [signing, reveal, mediation] = await Promise.all(
        ["signingWindow", "revealWindow", "mediationWindow"].map(
          async (f) => Number(await this.#market.getFunction(f)()) as number,
        ),
      );
      this.#windows = { signing: signing!, reveal: reveal!, mediation: mediation! };
    }
    return this.#windows;
  }

  settle(
    a: Allocation,
    salt: Bytes32,
    seqsHash: Bytes32,
    gammaC: Bytes32,
    results: readonly ResultArg[],
    disputedMask: number,
  ): Promise<TxOutcome> {
    return this.#send(() =>
      this.#market.getFunction("settle")(
        toTerms(a),
        salt,
        seqsHash,
        gammaC,
        results.map(tuple),
        disputedMask,
      ),
    );
  }

  mediate(
    a: Allocation,
    gammaM: Bytes32,
    lazyMask: number,
    results: readonly ResultArg[],
  ): Promise<TxOutcome> {
    return this.#send(() =>
      this.#market.getFunction("mediate")(toTerms(a), gammaM, lazyMask, results.map(tuple)),
    );
  }

  expire(a: Allocation): Promise<TxOutcome> {
    return this.#send(() => this.#market.getFunction("expire")(toTerms(a)));
  }

  /** Turns a revert's data into the contract's custom error, when it is one. */
  #decoded(error: unknown): unknown {
    const data = (error as { data?: string; info?: { error?: { data?: string } } }).data;
    if (typeof data !== "string" || data.length < 10) return error;
    try {
      const parsed = this.#market.interface.parseError(data);
      return parsed ? new MarketRevertError(parsed.name, [...parsed.args], { cause: error }) : error;
    } catch {
      return error;
    }
  }

  /**
   * One transaction at a time per participant, each mined before the next is sent: the nonce is
   * then always the account's next one, even when two allocations need a call at once.
   */
  #send(send: () => Promise<ContractTransactionResponse>): Promise<TxOutcome> {
    const run = this.#queue.then(async () => {
      let response: ContractTransactionResponse;
      try {
        response = await send();
      } catch (error) {
        throw this.#decoded(error);
      }
      const receipt = await response.wait();
      if (!receipt) throw new Error("transaction dropped");
      return { hash: receipt.hash as Hex, gasUsed: receipt.gasUsed };
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** A revert the contract explains: its custom error by name, e.g. `DeadlineNotReached(id, 1700000000, 1699999998)`. */
export class MarketRevertError extends Error {
  readonly errorName: string;
  readonly args: readonly unknown[];
  constructor(errorName: string, args: readonly unknown[], options?: ErrorOptions) {
    super(`the market contract reverted: ${errorName}(${args.map(String).join(", ")})`, options);
    this.name = "MarketRevertError";
    this.errorName = errorName;
    this.args = args;
  }
}

const tuple = (r: ResultArg) => ({ seal: r.seal, signature: r.signature });
