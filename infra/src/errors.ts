/** Thrown at synth time when a construct's props or the app's context values are invalid. */
export class SurplusConfigError extends Error {
  override name = "SurplusConfigError";
}
