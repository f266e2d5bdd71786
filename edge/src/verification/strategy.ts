// A Supplier's behaviour, configurable for the strategy experiments (paper §5.2): process each
// input with probability P(s); otherwise skip it (publish nothing) or corrupt it (publish a wrong
// output). Deterministic for a seed, so an experiment can be replayed.
import { InvalidParameterError, prng } from "@surplus/core";

export const CheatMode = { Skip: "skip", Corrupt: "corrupt" } as const;
export type CheatMode = (typeof CheatMode)[keyof typeof CheatMode];

export interface SupplierStrategy {
  /** P(s): probability of processing an input honestly. @default 1 */
  readonly processProbability: number;
  readonly cheatMode: CheatMode;
  readonly seed: number;
  /**
   * A strategic lazy Supplier (issue 14 threat 1): once the Customer reveals its checklist it reads
   * the inputs at the test positions from the retained input channel, runs them late, publishes
   * those outputs as if live, seals a matching γ and tries to settle before the Customer does.
   * @default false
   */
  readonly frontRun?: boolean;
}

export const HONEST: SupplierStrategy = { processProbability: 1, cheatMode: CheatMode.Skip, seed: 0 };

export type Decision = "process" | CheatMode;

/** Decides, input by input, what a Supplier with this strategy does. */
export function decider(strategy: SupplierStrategy): (seq: bigint) => Decision {
  const p = strategy.processProbability;
  if (!(p >= 0 && p <= 1)) throw new InvalidParameterError("processProbability", p, "in [0, 1]");
  if (p === 1) return () => "process";
  return (seq) => (prng(strategy.seed ^ Number(seq & 0xffffffffn))() < p ? "process" : strategy.cheatMode);
}
