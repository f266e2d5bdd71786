// How many Supplier replicas a Customer needs (paper §2.2 "Reliability").
//
// Deviation from the paper: eq. 3 prints r = (1 − P(b)) / p_f, which is not a probability
// calculation (it is not even monotone the right way: a higher target success P(b) gives fewer
// replicas). With failures independent and exponentially distributed, p_f = 1 − e^(−q·t) for one
// replica, and the service survives unless every replica fails:
//   P(success) = 1 − p_f^r   ⇒   r = ⌈ ln(1 − P(b)) / ln(p_f) ⌉.
import { InvalidParameterError } from "./errors.ts";

/** p_f = 1 − e^(−q·t): probability that one replica fails within t seconds at failure rate q per second. */
export function failureProbability(failureRatePerSecond: number, seconds: number): number {
  if (!(failureRatePerSecond >= 0))
    throw new InvalidParameterError("failureRatePerSecond", failureRatePerSecond, "≥ 0");
  if (!(seconds >= 0)) throw new InvalidParameterError("seconds", seconds, "≥ 0");
  return -Math.expm1(-failureRatePerSecond * seconds);
}

/** P(success) = 1 − p_f^r: at least one of r independent replicas survives. */
export function successProbability(replicas: number, pFailure: number): number {
  return 1 - pFailure ** replicas;
}

/** The fewest replicas r with 1 − p_f^r ≥ targetSuccess. */
export function replicasFor(pFailure: number, targetSuccess: number): number {
  if (!(pFailure >= 0 && pFailure < 1)) throw new InvalidParameterError("pFailure", pFailure, "in [0, 1)");
  if (!(targetSuccess > 0 && targetSuccess < 1))
    throw new InvalidParameterError("targetSuccess", targetSuccess, "in (0, 1)");
  if (pFailure === 0) return 1;
  let r = Math.max(1, Math.ceil(Math.log1p(-targetSuccess) / Math.log(pFailure)));
  // Guard against floating-point rounding at the boundary.
  while (r > 1 && successProbability(r - 1, pFailure) >= targetSuccess) r--;
  while (successProbability(r, pFailure) < targetSuccess) r++;
  return r;
}

/** Replicas for a failure rate q (per second), an allocation lasting `seconds`, and a target P(b). */
export function replicasForRate(
  failureRatePerSecond: number,
  seconds: number,
  targetSuccess: number,
): number {
  return replicasFor(failureProbability(failureRatePerSecond, seconds), targetSuccess);
}

/** Eq. 3 exactly as the paper prints it, kept only to document the deviation. */
export function paperEquation3(targetSuccess: number, pFailure: number): number {
  return (1 - targetSuccess) / pFailure;
}
