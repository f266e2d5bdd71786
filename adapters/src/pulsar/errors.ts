// Typed errors of the Pulsar channel layer. Each names what went wrong and carries the facts
// (topic, role, HTTP status, broker message) so callers can branch on the class, not on text.

/** Base class: every error thrown by the Pulsar adapter is a `PulsarError`. */
export class PulsarError extends Error {
  override name = "PulsarError";
}

/** The broker rejected the credentials (HTTP 401): missing, expired or wrongly signed JWT. */
export class PulsarAuthenticationError extends PulsarError {
  override name = "PulsarAuthenticationError";
  readonly url: string;
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(`Pulsar refused the credentials for ${url}: ${detail}`, options);
    this.url = url;
  }
}

/** The broker authenticated the client but its role may not do this (HTTP 403). */
export class PulsarAuthorizationError extends PulsarError {
  override name = "PulsarAuthorizationError";
  readonly resource: string;
  readonly operation: string;
  constructor(operation: string, resource: string, detail: string, options?: ErrorOptions) {
    super(`Pulsar denied ${operation} on ${resource}: ${detail}`, options);
    this.operation = operation;
    this.resource = resource;
  }
}

/** A tenant, namespace or topic does not exist (topics are never created automatically). */
export class PulsarNotFoundError extends PulsarError {
  override name = "PulsarNotFoundError";
  readonly resource: string;
  constructor(resource: string, detail: string, options?: ErrorOptions) {
    super(`Pulsar has no ${resource}: ${detail}`, options);
    this.resource = resource;
  }
}

/** The resource already exists (admin create). */
export class PulsarConflictError extends PulsarError {
  override name = "PulsarConflictError";
  readonly resource: string;
  constructor(resource: string, detail: string, options?: ErrorOptions) {
    super(`Pulsar already has ${resource}: ${detail}`, options);
    this.resource = resource;
  }
}

/** Any other non-2xx answer of the admin REST API. */
export class PulsarAdminError extends PulsarError {
  override name = "PulsarAdminError";
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly body: string;
  constructor(method: string, path: string, status: number, body: string, options?: ErrorOptions) {
    super(`Pulsar admin ${method} ${path} answered ${status}: ${body.slice(0, 500)}`, options);
    this.method = method;
    this.path = path;
    this.status = status;
    this.body = body;
  }
}

/** The broker could not be reached, or the connection broke and could not be re-established. */
export class PulsarConnectionError extends PulsarError {
  override name = "PulsarConnectionError";
  readonly url: string;
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(`cannot connect to Pulsar at ${url}: ${detail}`, options);
    this.url = url;
  }
}

/** The broker answered a publish with an error. */
export class PulsarSendError extends PulsarError {
  override name = "PulsarSendError";
  readonly topic: string;
  readonly sequenceId: number;
  readonly brokerError: string;
  constructor(topic: string, sequenceId: number, brokerError: string, options?: ErrorOptions) {
    super(`publish of sequence id ${sequenceId} on ${topic} failed: ${brokerError}`, options);
    this.topic = topic;
    this.sequenceId = sequenceId;
    this.brokerError = brokerError;
  }
}

/** An operation did not complete in time. */
export class PulsarTimeoutError extends PulsarError {
  override name = "PulsarTimeoutError";
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number, options?: ErrorOptions) {
    super(`${operation} did not complete within ${timeoutMs} ms`, options);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** The producer, consumer or reader was closed (by the caller) while the operation was pending. */
export class PulsarClosedError extends PulsarError {
  override name = "PulsarClosedError";
  readonly what: string;
  constructor(what: string, options?: ErrorOptions) {
    super(`${what} is closed`, options);
    this.what = what;
  }
}

/** The payload does not fit in one WebSocket frame (base64 costs 4/3 of the size). */
export class PulsarMessageTooLargeError extends PulsarError {
  override name = "PulsarMessageTooLargeError";
  readonly size: number;
  readonly max: number;
  constructor(topic: string, size: number, max: number) {
    super(`message of ${size} bytes for ${topic} exceeds the ${max}-byte limit`);
    this.size = size;
    this.max = max;
  }
}

/** The producer's bounded queue of pending sends is full and the caller asked not to wait. */
export class PulsarProducerQueueFullError extends PulsarError {
  override name = "PulsarProducerQueueFullError";
  readonly topic: string;
  readonly maxPending: number;
  constructor(topic: string, maxPending: number) {
    super(`producer on ${topic} already has ${maxPending} sends pending`);
    this.topic = topic;
    this.maxPending = maxPending;
  }
}

/** Maps an HTTP failure (admin REST or WebSocket upgrade) to the matching typed error. */
export function errorForStatus(
  status: number,
  method: string,
  url: string,
  resource: string,
  body: string,
): PulsarError {
  const detail = brokerReason(body) || `HTTP ${status}`;
  if (status === 401) return new PulsarAuthenticationError(url, detail);
  if (status === 403) return new PulsarAuthorizationError(method, resource, detail);
  if (status === 404) return new PulsarNotFoundError(resource, detail);
  if (status === 409) return new PulsarConflictError(resource, detail);
  return new PulsarAdminError(method, url, status, body);
}

/**
 * The broker's reason: admin REST answers `{"reason": "..."}` (or a servlet `{"message": ...}`),
 * the WebSocket upgrade answers a Jetty HTML page whose <title> holds it.
 */
export function brokerReason(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") {
      if ("reason" in parsed && typeof parsed.reason === "string") return parsed.reason;
      if ("message" in parsed && typeof parsed.message === "string") return parsed.message;
    }
  } catch {
    // not JSON
  }
  const title = /<title>([^<]*)<\/title>/i.exec(body);
  if (title?.[1]) {
    return title[1]
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&")
      .trim()
      .slice(0, 300);
  }
  return body.trim().slice(0, 300);
}
