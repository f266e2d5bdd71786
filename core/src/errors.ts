// Typed errors of the protocol core. Each names what is wrong and carries the facts.

/** Base class: every error the core throws is a SurplusError with a stable `code`. */
export class SurplusError extends Error {
  override name = "SurplusError";
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

/** A message or value failed schema validation at a boundary. */
export class InvalidMessageError extends SurplusError {
  override name = "InvalidMessageError";
  constructor(what: string, issues: string[], options?: ErrorOptions) {
    super("INVALID_MESSAGE", `invalid ${what}: ${issues.join("; ")}`, { what, issues }, options);
  }
}

/** A signature does not recover to the account the message claims. */
export class SignatureMismatchError extends SurplusError {
  override name = "SignatureMismatchError";
  constructor(what: string, expected: string, recovered: string | undefined) {
    super(
      "SIGNATURE_MISMATCH",
      `${what} is signed by ${recovered ?? "nobody (malformed signature)"}, not by its account ${expected}`,
      { what, expected, recovered },
    );
  }
}

/** A parameter is outside the range the protocol allows. */
export class InvalidParameterError extends SurplusError {
  override name = "InvalidParameterError";
  constructor(parameter: string, value: unknown, expected: string) {
    super("INVALID_PARAMETER", `${parameter} = ${String(value)} is invalid: expected ${expected}`, {
      parameter,
      value,
      expected,
    });
  }
}
