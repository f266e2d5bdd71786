// The MessageBus over Pulsar's WebSocket API (served by the broker's web port):
//   {ws|wss}://host:port/ws/v2/{producer|consumer|reader}/persistent/tenant/ns/topic[/subscription]
// One socket per producer / consumer / reader. Each reconnects with exponential backoff when its
// socket drops (broker restart, network) and resumes:
//   - a producer re-sends every unacknowledged message with its original sequence id, so the
//     broker's deduplication (producerName + sequenceId) stores it at most once;
//   - a consumer drops what it buffered but had not handed out (the broker redelivers it) and
//     filters redeliveries of messages it already acknowledged;
//   - a reader resumes after the last message it handed out.
// Flow control: producers bound the sends in flight (PendingWindow); consumers use the pull mode
// (permits) and readers acknowledge each message handed out, so neither buffers more than its
// receiver queue of entries; and both stop reading their socket while what they hold exceeds
// `maxBufferedBytes`, because an entry may be 1 MB or a batch (issue 16: bounded memory).
import WebSocket from "ws";
import { BatchingProducer, batchPosition, entryKey, isBatch, unpackBatch } from "./batching.ts";
import {
  errorForStatus,
  PulsarClosedError,
  PulsarConnectionError,
  PulsarMessageTooLargeError,
  PulsarProducerQueueFullError,
  PulsarSendError,
  PulsarTimeoutError,
} from "./errors.ts";
import { BoundedSet } from "./lru.ts";
import { isDuplicateAckId } from "./message-id.ts";
import type {
  Consumer,
  ConsumerOptions,
  MessageBus,
  OutgoingMessage,
  Producer,
  ProducerOptions,
  Properties,
  Reader,
  ReaderOptions,
  ReceivedMessage,
  SendReceipt,
} from "./ports.ts";
import { topicPath } from "./topics.ts";
import { PendingWindow } from "./window.ts";

/** Events for logs and metrics; the client itself never logs. */
export type BusEvent =
  | { type: "connected"; url: string; attempt: number }
  | { type: "disconnected"; url: string; code: number; reason: string }
  | { type: "reconnect-failed"; url: string; attempt: number; error: Error }
  | { type: "fatal"; url: string; error: Error };

export interface WebSocketBusOptions {
  /** The broker's web service URL: http://host:8080, or https://… for TLS (wss://). */
  readonly url: string;
  /** JWT sent as `Authorization: Bearer …`. */
  readonly token?: string;
  /** @default 10000 */
  readonly connectTimeoutMs?: number;
  /** Backoff between reconnection attempts. @default 100 ms doubling up to 5000 ms */
  readonly reconnectInitialDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
  /**
   * The broker's `webSocketMaxTextFrameSize` (1 MiB by default). Payloads travel in base64
   * inside a JSON text frame, so the usable payload is about 3/4 of it. @default 1048576
   */
  readonly maxFrameBytes?: number;
  /**
   * Bytes a consumer or reader holds received but not yet taken (payloads plus a per-message
   * allowance for its objects) before it stops reading its socket; it reads on below half of it.
   * The receiver queue counts entries, and a hostile producer makes each as big as a frame: 1,000
   * of 1 MB would be 1 GB. The broker keeps what is not read (it stops pushing at its own queue
   * limit). @default 16 MiB
   */
  readonly maxBufferedBytes?: number;
  /** TLS options for wss:// (e.g. a private CA). */
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean };
  readonly onEvent?: (event: BusEvent) => void;
}

/** Room left in a text frame for the JSON envelope around the base64 payload. */
const ENVELOPE_BYTES = 16 * 1024;
const PING_INTERVAL_MS = 15_000;
const DEFAULT_MAX_BUFFERED_BYTES = 16 * 2 ** 20;
/** What a buffered message costs besides its payload: its object, id, properties and array slot. */
const MESSAGE_OVERHEAD_BYTES = 256;

export class WebSocketMessageBus implements MessageBus {
  readonly options: WebSocketBusOptions;
  readonly wsBase: string;
  readonly maxPayloadBytes: number;
  readonly #open = new Set<{ close(): Promise<void> }>();

  constructor(options: WebSocketBusOptions) {
    this.options = options;
    const url = new URL(options.url);
    if (
      url.protocol !== "http:" &&
      url.protocol !== "https:" &&
      url.protocol !== "ws:" &&
      url.protocol !== "wss:"
    ) {
      throw new TypeError(`unsupported Pulsar URL scheme ${url.protocol} (use http(s):// or ws(s)://)`);
    }
    const scheme = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
    this.wsBase = `${scheme}//${url.host}${url.pathname.replace(/\/+$/, "")}/ws/v2`;
    this.maxPayloadBytes = Math.floor((((options.maxFrameBytes ?? 1_048_576) - ENVELOPE_BYTES) * 3) / 4);
  }

  async createProducer(topic: string, options: ProducerOptions = {}): Promise<Producer> {
    const producer = new WsProducer(this, topic, options);
    await producer.start();
    this.#track(producer);
    if (!options.batching) return producer;
    return new BatchingProducer(producer, {
      ...(options.batching === true ? {} : options.batching),
      maxPayloadBytes: this.maxPayloadBytes,
      maxPendingMessages: options.maxPendingMessages,
      blockIfQueueFull: options.blockIfQueueFull,
    });
  }

  async subscribe(topic: string, subscription: string, options: ConsumerOptions = {}): Promise<Consumer> {
    const consumer = new WsConsumer(this, topic, subscription, options);
    await consumer.start();
    this.#track(consumer);
    return consumer;
  }

  async createReader(topic: string, options: ReaderOptions = {}): Promise<Reader> {
    const reader = new WsReader(this, topic, options);
    await reader.start();
    this.#track(reader);
    return reader;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#open].map((c) => c.close()));
    this.#open.clear();
  }

  #track(link: Link): void {
    this.#open.add(link);
    link.onClosed = () => this.#open.delete(link);
  }
}

/**
 * One reconnecting WebSocket. Subclasses build the URL, react to frames, and re-establish
 * their state in `onConnected` (called after the first connect and after each reconnect).
 */
abstract class Link {
  readonly bus: WebSocketMessageBus;
  readonly topic: string;
  onClosed: (() => void) | undefined;
  protected socket: WebSocket | undefined;
  protected closed = false;
  protected fatal: Error | undefined;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #alive = true;

  constructor(bus: WebSocketMessageBus, topic: string) {
    this.bus = bus;
    this.topic = topic;
    topicPath(topic); // validates the name early
  }

  /** What this link does, for error messages: "produce", "consume" or "read". */
  protected abstract readonly operation: string;
  protected abstract url(): string;
  protected abstract onFrame(data: string): void;
  protected abstract onConnected(): void;
  protected abstract onDisconnected(): void;
  /** Fails whatever waits on this link (the link will not come back). */
  protected abstract failAll(error: Error): void;

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** First connection: errors are thrown to the caller (no retry). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#pingTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2_000);
        socket.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.close(1000, "client closed");
      });
    }
    this.failAll(new PulsarClosedError(this.describe()));
    this.onClosed?.();
  }

  protected describe(): string {
    return `${this.constructor.name.replace(/^Ws/, "").toLowerCase()} on ${this.topic}`;
  }

  /** Queues a frame; nothing happens while disconnected (what matters is re-sent on reconnect). */
  protected write(frame: string): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    this.#coalesce(socket);
    socket.send(frame);
  }

  /** Like `write`, resolving once the frame is handed to the operating system. */
  protected sendFrame(frame: string): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.resolve();
    this.#coalesce(socket);
    return new Promise((resolve) => socket.send(frame, () => resolve()));
  }

  #corked = false;

  /**
   * Frames written in the same tick leave in one write (writev) instead of one syscall each:
   * cork the TCP socket under the WebSocket until the tick ends.
   */
  #coalesce(socket: WebSocket): void {
    if (this.#corked) return;
    const tcp = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!tcp) return;
    this.#corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.#corked = false;
      tcp.uncork();
    });
  }

  /** Opens a socket; on success it is wired and becomes `this.socket` synchronously on "open",
   * so frames the broker sends right after the upgrade are not missed. */
  #connect(): Promise<WebSocket> {
    const url = this.url();
    const { token, tls, connectTimeoutMs = 10_000 } = this.bus.options;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        handshakeTimeout: connectTimeoutMs,
        perMessageDeflate: false,
        ...(tls ?? {}),
      });
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        socket.removeAllListeners();
        socket.on("error", () => {});
        socket.terminate();
        reject(error);
      };
      socket.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          fail(
            errorForStatus(
              res.statusCode ?? 0,
              this.operation,
              redact(url),
              this.topic,
              body || res.statusMessage || "",
            ),
          ),
        );
        res.on("error", () => fail(new PulsarConnectionError(redact(url), `HTTP ${res.statusCode}`)));
      });
      socket.once("error", (error) =>
        fail(new PulsarConnectionError(redact(url), error.message, { cause: error })),
      );
      socket.once("open", () => {
        if (settled) return;
        settled = true;
        socket.removeAllListeners();
        if (this.closed) {
          socket.terminate();
          reject(new PulsarClosedError(this.describe()));
          return;
        }
        this.socket = socket;
        this.#wire(socket);
        // Synchronously, before any other code can write to the new socket: a producer must
        // re-send its unacknowledged messages before new ones, or their sequence ids would shift.
        this.onConnected();
        resolve(socket);
      });
    });
  }

  #wire(socket: WebSocket): void {
    this.#alive = true;
    socket.on("message", (data, isBinary) => {
      if (isBinary) return;
      this.onFrame(data.toString());
    });
    socket.on("pong", () => {
      this.#alive = true;
    });
    socket.on("error", () => {
      // "close" follows; reconnection happens there
    });
    socket.on("close", (code, reason) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.#pingTimer);
      if (this.closed) return;
      this.bus.options.onEvent?.({
        type: "disconnected",
        url: redact(this.url()),
        code,
        reason: reason.toString(),
      });
      this.onDisconnected();
      this.#scheduleReconnect();
    });
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => {
      // A socket paused by flow control reads no pong; the application has it busy, not dead.
      if (socket.isPaused) {
        this.#alive = true;
        return;
      }
      if (!this.#alive) {
        socket.terminate(); // no pong since the last ping: the connection is dead
        return;
      }
      this.#alive = false;
      socket.ping();
    }, PING_INTERVAL_MS);
    this.#pingTimer.unref();
  }

  #scheduleReconnect(): void {
    const { reconnectInitialDelayMs = 100, reconnectMaxDelayMs = 5_000 } = this.bus.options;
    const delay = Math.min(reconnectMaxDelayMs, reconnectInitialDelayMs * 2 ** Math.min(this.#attempt, 16));
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => void this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.#connect();
      this.bus.options.onEvent?.({ type: "connected", url: redact(this.url()), attempt: this.#attempt });
      this.#attempt = 0;
    } catch (error) {
      const err = error as Error;
      if (this.closed) return;
      // Credentials or permissions that stopped working will not come back by retrying.
      if (err.name === "PulsarAuthenticationError" || err.name === "PulsarAuthorizationError") {
        this.fatal = err;
        this.bus.options.onEvent?.({ type: "fatal", url: redact(this.url()), error: err });
        this.failAll(err);
        await this.close();
        return;
      }
      this.bus.options.onEvent?.({
        type: "reconnect-failed",
        url: redact(this.url()),
        attempt: this.#attempt,
        error: err,
      });
      this.#scheduleReconnect();
    }
  }
}

/** The URL without its query string (keeps errors and events short and free of parameters). */
function redact(url: string): string {
  return url.replace(/\?.*$/, "");
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

// ---------------------------------------------------------------------------------------------
// Producer

interface PendingSend {
  readonly sequenceId: number;
  readonly frame: string;
  readonly deadline: number;
  readonly resolve: (receipt: SendReceipt) => void;
  readonly reject: (error: Error) => void;
  /** The caller got a timeout; the entry stays (and is re-sent) until the broker answers. */
  abandoned: boolean;
}

/**
 * Sequence ids. The WebSocket producer does not take a sequence id per message: the broker-side
 * producer numbers the messages of a session initialSequenceId + 1, + 2, … in arrival order. So
 * the client opens every session with `initialSequenceId` = (its oldest unacknowledged id) − 1
 * and re-sends the unacknowledged messages in order: each gets its original id again and the
 * broker drops those it already stored (deduplication on producerName + sequenceId).
 *
 * The default first id is the current time in microseconds: a later producer with the same name
 * starts above everything an earlier one sent (unless that one averaged more than a million
 * messages per second), without asking the broker for the last id.
 */
export function defaultInitialSequenceId(): number {
  return Date.now() * 1000;
}

/**
 * The producer's JSON frame. Built by hand: JSON.stringify would scan the ~1.4 KB base64 string for
 * characters to escape (it has none) and costs several times more. Properties, key and the
 * context still go through JSON.stringify (they may hold anything); empty properties are left out
 * (the broker treats a missing map as empty).
 */
function producerFrame(message: OutgoingMessage, context: string): string {
  const { payload, properties, key, eventTime } = message;
  let frame = `{"payload":"${Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64")}"`;
  if (properties) {
    for (const _ in properties) {
      frame += `,"properties":${JSON.stringify(properties)}`;
      break;
    }
  }
  if (key !== undefined) frame += `,"key":${JSON.stringify(key)}`;
  if (eventTime !== undefined) frame += `,"eventTime":"${new Date(eventTime).toISOString()}"`;
  return `${frame},"context":"${context}"}`;
}

class WsProducer extends Link implements Producer {
  protected readonly operation = "produce";
  readonly producerName: string;
  readonly #options: ProducerOptions;
  readonly #window: PendingWindow;
  readonly #pending = new Map<string, PendingSend>();
  #nextSequenceId: number;
  #nextContext = 0;
  readonly #sendTimeoutMs: number;
  #sweep: NodeJS.Timeout | undefined;

  constructor(bus: WebSocketMessageBus, topic: string, options: ProducerOptions) {
    super(bus, topic);
    this.#options = options;
    this.producerName = options.producerName ?? `surplus-${crypto.randomUUID()}`;
    this.#window = new PendingWindow(options.maxPendingMessages ?? 1000);
    this.#nextSequenceId = (options.initialSequenceId ?? defaultInitialSequenceId()) + 1;
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 30_000;
  }

  get pending(): number {
    return this.#window.inFlight;
  }

  protected url(): string {
    const oldest = this.#pending.values().next();
    const first = oldest.done ? this.#nextSequenceId : oldest.value.sequenceId;
    return `${this.bus.wsBase}/producer/${topicPath(this.topic)}${query({
      producerName: this.producerName,
      initialSequenceId: first - 1,
      sendTimeoutMillis: this.#options.sendTimeoutMs ?? 30_000,
      // The broker-side producer never needs more room than our window.
      maxPendingMessages: this.#window.capacity,
    })}`;
  }

  override async start(): Promise<void> {
    await super.start();
    const timeout = this.#options.sendTimeoutMs ?? 30_000;
    this.#sweep = setInterval(() => this.#expire(), Math.max(50, Math.min(1_000, timeout / 4)));
    this.#sweep.unref();
  }

  /**
   * The hot path: with room in the window the frame leaves synchronously (no await in between),
   * so the payload is read at the call and a send costs one promise.
   */
  send(message: OutgoingMessage): Promise<SendReceipt> {
    if (this.closed) return Promise.reject(this.fatal ?? new PulsarClosedError(this.describe()));
    if (message.payload.byteLength > this.bus.maxPayloadBytes) {
      return Promise.reject(
        new PulsarMessageTooLargeError(this.topic, message.payload.byteLength, this.bus.maxPayloadBytes),
      );
    }
    const context = (this.#nextContext++).toString(36);
    let frame: string;
    try {
      frame = producerFrame(message, context);
    } catch (error) {
      return Promise.reject(error); // e.g. an invalid eventTime: fail the send, never throw
    }
    if (this.#window.tryAcquire()) return this.#enqueue(context, frame);
    if (this.#options.blockIfQueueFull === false) {
      return Promise.reject(new PulsarProducerQueueFullError(this.topic, this.#window.capacity));
    }
    return this.#window.acquire().then(() => {
      if (this.closed) {
        this.#window.release();
        throw this.fatal ?? new PulsarClosedError(this.describe());
      }
      return this.#enqueue(context, frame);
    });
  }

  /** Holds a window slot: numbers the message (sequence ids follow the order of this call) and writes it. */
  #enqueue(context: string, frame: string): Promise<SendReceipt> {
    const sequenceId = this.#nextSequenceId++;
    return new Promise<SendReceipt>((resolve, reject) => {
      this.#pending.set(context, {
        sequenceId,
        frame,
        deadline: Date.now() + this.#sendTimeoutMs,
        resolve,
        reject,
        abandoned: false,
      });
      this.write(frame);
    });
  }

  async flush(): Promise<void> {
    await this.#window.drained();
  }

  /**
   * Lets what is in flight complete first, for at most the send timeout (the broker may be
   * gone); whatever is still pending then fails with PulsarClosedError.
   */
  override async close(): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.sendTimeoutMs ?? 30_000);
      }),
    ]);
    clearTimeout(timer);
    clearInterval(this.#sweep);
    await super.close();
  }

  protected onFrame(data: string): void {
    let ack: { result?: string; messageId?: string; context?: string; errorMsg?: string };
    try {
      ack = JSON.parse(data);
    } catch {
      return;
    }
    if (ack.context === undefined) return;
    const pending = this.#pending.get(ack.context);
    if (!pending) return; // timed out already
    this.#pending.delete(ack.context);
    this.#window.release();
    if (pending.abandoned) return;
    if (ack.result === "ok" && typeof ack.messageId === "string") {
      pending.resolve({
        messageId: ack.messageId,
        sequenceId: pending.sequenceId,
        duplicate: isDuplicateAckId(ack.messageId),
      });
    } else {
      pending.reject(
        new PulsarSendError(
          this.topic,
          pending.sequenceId,
          `${ack.result ?? "error"}: ${ack.errorMsg ?? ""}`.trim(),
        ),
      );
    }
  }

  protected onConnected(): void {
    // After a reconnect: re-send, in order, everything the broker has not acknowledged.
    for (const p of this.#pending.values()) this.write(p.frame);
  }

  protected onDisconnected(): void {}

  protected failAll(error: Error): void {
    clearInterval(this.#sweep);
    for (const [context, p] of this.#pending) {
      this.#pending.delete(context);
      this.#window.release();
      if (!p.abandoned) p.reject(error);
    }
    this.#window.rejectWaiters(error);
  }

  /**
   * Fails sends older than the send timeout. They stay in the re-send list (and keep their
   * window slot) until the broker answers: dropping them would shift the sequence ids of the
   * later ones on the next session.
   */
  #expire(): void {
    const now = Date.now();
    for (const p of this.#pending.values()) {
      if (p.deadline > now) break; // insertion order is deadline order
      if (p.abandoned) continue;
      p.abandoned = true;
      p.reject(
        new PulsarTimeoutError(
          `send of sequence id ${p.sequenceId} on ${this.topic}`,
          this.#options.sendTimeoutMs ?? 30_000,
        ),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Consumer and reader: a buffer of received messages handed out in order.

interface Waiter {
  readonly resolve: (message: ReceivedMessage) => void;
  readonly reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

interface WireMessage {
  messageId?: string;
  payload?: string;
  properties?: Record<string, string>;
  publishTime?: string;
  eventTime?: string;
  redeliveryCount?: number;
  key?: string;
}

function toReceived(topic: string, m: WireMessage): ReceivedMessage | undefined {
  if (typeof m.messageId !== "string" || typeof m.payload !== "string") return undefined;
  const message: { -readonly [K in keyof ReceivedMessage]: ReceivedMessage[K] } = {
    topic,
    messageId: m.messageId,
    payload: fromBase64(m.payload),
    properties: (m.properties ?? {}) as Properties,
    publishTime: m.publishTime ? Date.parse(m.publishTime) : 0,
    redeliveryCount: m.redeliveryCount ?? 0,
  };
  if (m.eventTime) {
    const eventTime = Date.parse(m.eventTime);
    if (Number.isFinite(eventTime) && eventTime > 0) message.eventTime = eventTime;
  }
  if (m.key) message.key = m.key;
  return message;
}

/**
 * Decodes into a Uint8Array of its own (not a slice of Buffer's shared pool: a payload posted to
 * a worker would carry the whole pool with it), without the copy `new Uint8Array(Buffer.from(…))`
 * makes.
 */
function fromBase64(text: string): Uint8Array {
  const n = text.length;
  const padding = text.charCodeAt(n - 1) === 61 ? (text.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  const expected = (n >> 2) * 3 - padding;
  if (n % 4 === 0 && expected >= 0) {
    const bytes = Buffer.allocUnsafeSlow(expected);
    if (bytes.write(text, "base64") === expected) return new Uint8Array(bytes.buffer, 0, expected);
  }
  return new Uint8Array(Buffer.from(text, "base64")); // unpadded or odd input: the lenient decoder
}

/** `{"messageId":…}`; ids are base64 (nothing to escape), anything else goes through JSON. */
function ackFrame(messageId: string): string {
  return /^[A-Za-z0-9+/=]*$/.test(messageId) ? `{"messageId":"${messageId}"}` : JSON.stringify({ messageId });
}

const costOf = (m: ReceivedMessage) => m.payload.byteLength + MESSAGE_OVERHEAD_BYTES;

abstract class ReceivingLink extends Link {
  protected readonly buffer: ReceivedMessage[] = [];
  readonly #waiters: Waiter[] = [];
  #bufferedBytes = 0;

  /** What the buffer holds, in the units of `maxBufferedBytes`. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  get #maxBufferedBytes(): number {
    return this.bus.options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  /** Buffered messages are dropped (a reconnect delivers them again); a new socket is not paused. */
  protected clearBuffer(): void {
    this.buffer.length = 0;
    this.#bufferedBytes = 0;
  }

  protected take(timeoutMs: number | undefined): Promise<ReceivedMessage> {
    if (this.closed) return Promise.reject(this.fatal ?? new PulsarClosedError(this.describe()));
    const next = this.buffer.shift();
    if (next) {
      this.#bufferedBytes -= costOf(next);
      // Below half the budget: read the socket again (hysteresis, not a pause per message).
      if (this.socket?.isPaused && this.#bufferedBytes <= this.#maxBufferedBytes / 2) this.socket.resume();
      this.handedOut(next);
      return Promise.resolve(next);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new PulsarTimeoutError(`receive on ${this.topic}`, timeoutMs));
        }, timeoutMs);
      }
      this.#waiters.push(waiter);
    });
  }

  protected deliver(message: ReceivedMessage): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this.handedOut(message);
      waiter.resolve(message);
    } else {
      this.buffer.push(message);
      this.#bufferedBytes += costOf(message);
      // Over budget: stop reading; TCP's flow control holds the broker until the buffer drains.
      if (this.#bufferedBytes > this.#maxBufferedBytes && this.socket && !this.socket.isPaused)
        this.socket.pause();
    }
  }

  /** Called for every message the application takes. */
  protected abstract handedOut(message: ReceivedMessage): void;

  protected failAll(error: Error): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedMessage> {
    while (!this.closed) {
      try {
        yield await this.take(undefined);
      } catch (error) {
        if (error instanceof PulsarClosedError) return;
        throw error;
      }
    }
  }
}

class WsConsumer extends ReceivingLink implements Consumer {
  protected readonly operation = "consume";
  readonly subscription: string;
  readonly #options: ConsumerOptions;
  readonly #queueSize: number;
  /** Permits granted to the broker and not yet used by a delivered message. */
  #permits = 0;
  /** Recently acknowledged ids: their redeliveries (after a reconnect) are dropped and re-acked. */
  readonly #acked = new BoundedSet<string>(100_000);
  /** For each message handed out of a batch entry: that entry's ids not yet acknowledged. */
  readonly #entryOf = new Map<string, { readonly entryId: string; readonly pending: Set<string> }>();

  constructor(bus: WebSocketMessageBus, topic: string, subscription: string, options: ConsumerOptions) {
    super(bus, topic);
    if (!subscription || subscription.includes("/"))
      throw new TypeError(`invalid subscription name ${subscription}`);
    this.subscription = subscription;
    this.#options = options;
    this.#queueSize = options.receiverQueueSize ?? 1000;
  }

  protected url(): string {
    const o = this.#options;
    return `${this.bus.wsBase}/consumer/${topicPath(this.topic)}/${encodeURIComponent(this.subscription)}${query(
      {
        subscriptionType: o.subscriptionType ?? "Exclusive",
        subscriptionInitialPosition: o.initialPosition ?? "Latest",
        receiverQueueSize: this.#queueSize,
        ackTimeoutMillis: o.ackTimeoutMs,
        negativeAckRedeliveryDelay: o.negativeAckRedeliveryDelayMs ?? 1000,
        maxRedeliverCount: o.maxRedeliverCount,
        deadLetterTopic: o.deadLetterTopic,
        consumerName: o.consumerName,
        pullMode: true,
      },
    )}`;
  }

  receive(timeoutMs?: number): Promise<ReceivedMessage> {
    return this.take(timeoutMs);
  }

  ack(message: ReceivedMessage | string): Promise<void> {
    const messageId = typeof message === "string" ? message : message.messageId;
    if (this.closed) return Promise.reject(this.fatal ?? new PulsarClosedError(this.describe()));
    this.#acked.add(messageId);
    const entry = this.#entryOf.get(messageId);
    if (!entry) return this.sendFrame(ackFrame(messageId));
    // Part of a batch entry: the broker hears of it once every message of the entry is acked.
    this.#entryOf.delete(messageId);
    entry.pending.delete(messageId);
    if (entry.pending.size > 0) return Promise.resolve();
    this.#acked.add(entry.entryId);
    return this.sendFrame(ackFrame(entry.entryId));
  }

  async nack(message: ReceivedMessage | string): Promise<void> {
    const given = typeof message === "string" ? message : message.messageId;
    if (this.closed) throw this.fatal ?? new PulsarClosedError(this.describe());
    // A batch entry is redelivered whole; its messages acknowledged already are filtered then.
    const messageId = this.#entryOf.get(given)?.entryId ?? given;
    await this.sendFrame(JSON.stringify({ type: "negativeAcknowledge", messageId }));
  }

  protected onFrame(data: string): void {
    let frame: WireMessage & { type?: string };
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const message = toReceived(this.topic, frame);
    if (!message) return;
    this.#permits = Math.max(0, this.#permits - 1);
    if (this.#acked.has(message.messageId)) {
      // Acknowledged before a reconnect but redelivered: never hand it out twice.
      this.write(ackFrame(message.messageId));
      this.#topUp();
      return;
    }
    const batch = isBatch(message) ? unpackBatch(message) : undefined;
    if (!batch) {
      this.deliver(message); // a plain message, or a batch that does not decode: as it came
    } else {
      const fresh = batch.filter((m) => !this.#acked.has(m.messageId));
      if (fresh.length === 0) {
        // Every message of it was acknowledged before (its entry's ack was lost): ack it now.
        this.#acked.add(message.messageId);
        this.write(ackFrame(message.messageId));
      } else {
        const entry = { entryId: message.messageId, pending: new Set(fresh.map((m) => m.messageId)) };
        for (const m of fresh) {
          this.#entryOf.set(m.messageId, entry);
          this.deliver(m);
        }
      }
    }
    this.#topUp();
  }

  protected handedOut(): void {
    this.#topUp();
  }

  protected onConnected(): void {
    this.#permits = 0;
    this.#topUp();
  }

  protected onDisconnected(): void {
    // Not yet handed out and not acknowledged: the broker redelivers these after reconnecting
    // (their batch bookkeeping goes with them, or each reconnect would leave it behind).
    for (const m of this.buffer) this.#entryOf.delete(m.messageId);
    this.clearBuffer();
  }

  /** Grants permits so that buffered + promised messages stay within the receiver queue. */
  #topUp(): void {
    const room = this.#queueSize - this.buffer.length - this.#permits;
    // No permits while reading is paused for bytes: the broker would only queue more behind it.
    if (room >= Math.max(1, Math.floor(this.#queueSize / 2)) && this.connected && !this.socket?.isPaused) {
      this.#permits += room;
      this.write(`{"type":"permit","permitMessages":${room}}`);
    }
  }
}

/** (ledger, entry, index) of a message id; a whole entry has index −1. */
type Place = readonly [bigint, bigint, number];

function placeOf(messageId: string): Place | undefined {
  const key = entryKey(messageId);
  if (!key) return undefined;
  return [key[0], key[1], batchPosition(messageId)?.index ?? -1];
}

function after(a: Place, b: Place): boolean {
  return a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? a[1] > b[1] : a[2] > b[2];
}

class WsReader extends ReceivingLink implements Reader {
  protected readonly operation = "read";
  readonly #options: ReaderOptions;
  /** Where to resume after a reconnect: the last message handed out. */
  #lastHandedOut: string | undefined;
  /** Only messages after this place are handed out (the start is exclusive). */
  #from: Place | undefined;

  constructor(bus: WebSocketMessageBus, topic: string, options: ReaderOptions) {
    super(bus, topic);
    this.#options = options;
  }

  protected url(): string {
    const start = this.#lastHandedOut ?? this.#options.startMessageId ?? "earliest";
    this.#from = placeOf(start);
    // Inside a batch entry with messages left: start before the entry to read it again.
    const inBatch = batchPosition(start);
    const messageId = !inBatch
      ? start
      : inBatch.index + 1 < inBatch.size
        ? inBatch.beforeEntryId
        : inBatch.entryId;
    return `${this.bus.wsBase}/reader/${topicPath(this.topic)}${query({
      messageId,
      receiverQueueSize: this.#options.receiverQueueSize ?? 1000,
    })}`;
  }

  readNext(timeoutMs?: number): Promise<ReceivedMessage> {
    return this.take(timeoutMs);
  }

  protected onFrame(data: string): void {
    let frame: WireMessage;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const message = toReceived(this.topic, frame);
    if (!message) return;
    const batch = (isBatch(message) && unpackBatch(message)) || [message];
    // A resumed reader may start at (not before) its start id, or before a batch entry it left
    // half read: what it handed out already is skipped.
    const from = this.#from;
    const fresh = from ? batch.filter((m) => after(placeOf(m.messageId) ?? [0n, 0n, -1], from)) : batch;
    if (fresh.length === 0) {
      this.write(ackFrame(message.messageId));
      return;
    }
    this.#from = undefined;
    // The WebSocket reader counts unacknowledged entries for its flow control: the entry is
    // acknowledged when its last message is handed out.
    this.#entryOf.set(fresh[fresh.length - 1]?.messageId as string, message.messageId);
    for (const m of fresh) this.deliver(m);
  }

  /** The entry to acknowledge when the message (the last of its entry) is handed out. */
  readonly #entryOf = new Map<string, string>();

  protected handedOut(message: ReceivedMessage): void {
    this.#lastHandedOut = message.messageId;
    const entryId = this.#entryOf.get(message.messageId);
    if (entryId === undefined) return;
    this.#entryOf.delete(message.messageId);
    this.write(ackFrame(entryId));
  }

  protected onConnected(): void {}

  protected onDisconnected(): void {
    this.clearBuffer(); // re-read after #lastHandedOut
    this.#entryOf.clear();
  }
}
