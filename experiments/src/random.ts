// Seeded randomness for the experiments: every draw derives from the run's seed and a path of
// labels (which experiment, which allocation, which party), so runs replay exactly and one
// party's draws do not shift when another's change.
import { prng } from "@surplus/edge";

/** A 32-bit seed from a seed and a path of integers (murmur3's finaliser over each step). */
export function seedOf(seed: number, ...path: readonly number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of path) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform [0, 1) generator (edge's mulberry32) for a seed and a path. */
export function rngOf(seed: number, ...path: readonly number[]): () => number {
  return prng(seedOf(seed, ...path));
}

/**
 * A Binomial(trials, p) draw. Exact (one Bernoulli per trial) when the variance is small;
 * otherwise the normal approximation with continuity correction, clamped to [0, trials] — for the
 * experiments' 12,000 inputs per allocation its error is far below the figures' resolution, and it
 * keeps 20,000 allocations to a second.
 */
export function binomial(trials: number, p: number, rng: () => number): number {
  if (p <= 0 || trials <= 0) return 0;
  if (p >= 1) return trials;
  const variance = trials * p * (1 - p);
  if (variance < 25) {
    let k = 0;
    for (let i = 0; i < trials; i++) if (rng() < p) k++;
    return k;
  }
  // Box–Muller.
  const u = 1 - rng();
  const v = rng();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  const k = Math.round(trials * p + z * Math.sqrt(variance));
  return Math.min(trials, Math.max(0, k));
}
