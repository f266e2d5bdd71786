import { SurplusError } from "@surplus/core";

/** A service module was refused before running: wrong hash, invalid module, or outside the ABI. */
export class ServiceRejectedError extends SurplusError {
  override name = "ServiceRejectedError";
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super("SERVICE_REJECTED", message, details, options);
  }
}
