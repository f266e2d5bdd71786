// A small client of Pulsar's admin REST API (v2): clusters, tenants, namespaces, topics and
// permissions. Uses global fetch; the JWT goes in the Authorization header; https:// works
// as given by the URL.
import { errorForStatus, PulsarConnectionError } from "./errors.ts";
import { topicPath } from "./topics.ts";

export const AuthAction = { Produce: "produce", Consume: "consume", Functions: "functions" } as const;
export type AuthAction = (typeof AuthAction)[keyof typeof AuthAction];

export interface PulsarAdminOptions {
  /** Web service URL, e.g. http://127.0.0.1:8080 or https://broker.example:8443. */
  readonly url: string;
  /** A super-user (or tenant admin) JWT. */
  readonly token?: string;
  /** @default 30000 */
  readonly timeoutMs?: number;
}

export interface TenantInfo {
  readonly adminRoles: readonly string[];
  readonly allowedClusters: readonly string[];
}

export class PulsarAdmin {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: PulsarAdminOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  // --- clusters and health ---

  clusters(): Promise<string[]> {
    return this.#json("GET", "/admin/v2/clusters", "clusters");
  }

  /** Broker health check: it produces to and reads from a heartbeat topic. Resolves "ok". */
  async health(): Promise<string> {
    return (await this.#request("GET", "/admin/v2/brokers/health", "broker health")).text();
  }

  // --- tenants ---

  tenants(): Promise<string[]> {
    return this.#json("GET", "/admin/v2/tenants", "tenants");
  }

  async createTenant(tenant: string, info: TenantInfo): Promise<void> {
    await this.#request("PUT", `/admin/v2/tenants/${enc(tenant)}`, `tenant ${tenant}`, info);
  }

  async deleteTenant(tenant: string, force = false): Promise<void> {
    await this.#request("DELETE", `/admin/v2/tenants/${enc(tenant)}?force=${force}`, `tenant ${tenant}`);
  }

  // --- namespaces ---

  namespaces(tenant: string): Promise<string[]> {
    return this.#json("GET", `/admin/v2/namespaces/${enc(tenant)}`, `namespaces of ${tenant}`);
  }

  async createNamespace(namespace: string): Promise<void> {
    await this.#request("PUT", `/admin/v2/namespaces/${nsPath(namespace)}`, `namespace ${namespace}`);
  }

  async deleteNamespace(namespace: string, force = false): Promise<void> {
    await this.#request(
      "DELETE",
      `/admin/v2/namespaces/${nsPath(namespace)}?force=${force}`,
      `namespace ${namespace}`,
    );
  }

  async grantNamespace(namespace: string, role: string, actions: readonly AuthAction[]): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/namespaces/${nsPath(namespace)}/permissions/${enc(role)}`,
      `permissions of ${role} on ${namespace}`,
      actions,
    );
  }

  async revokeNamespace(namespace: string, role: string): Promise<void> {
    await this.#request(
      "DELETE",
      `/admin/v2/namespaces/${nsPath(namespace)}/permissions/${enc(role)}`,
      `permissions of ${role} on ${namespace}`,
    );
  }

  namespacePermissions(namespace: string): Promise<Record<string, AuthAction[]>> {
    return this.#json(
      "GET",
      `/admin/v2/namespaces/${nsPath(namespace)}/permissions`,
      `permissions on ${namespace}`,
    );
  }

  async setDeduplication(namespace: string, enabled: boolean): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/namespaces/${nsPath(namespace)}/deduplication`,
      `deduplication of ${namespace}`,
      enabled,
    );
  }

  /**
   * The namespace's subscription authorization: with "Prefix" the broker lets a role consume from,
   * or manage (peek, skip, reset, delete), only subscriptions whose name starts with the role.
   * Not usable with the WebSocket API on Pulsar 4.0.7: its consumers are refused whatever their
   * subscription is named (see channels.ts); per-subscription grants are used instead.
   */
  async setSubscriptionAuthMode(namespace: string, mode: "None" | "Prefix"): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/namespaces/${nsPath(namespace)}/subscriptionAuthMode`,
      `subscription auth mode of ${namespace}`,
      mode,
    );
  }

  subscriptionAuthMode(namespace: string): Promise<"None" | "Prefix"> {
    return this.#json(
      "GET",
      `/admin/v2/namespaces/${nsPath(namespace)}/subscriptionAuthMode`,
      `subscription auth mode of ${namespace}`,
    );
  }

  /**
   * Restricts `subscription` (on every topic of the namespace) to `roles`: other roles may neither
   * consume from it nor peek, skip, reset or delete it, whatever their topic grants.
   */
  async grantSubscription(namespace: string, subscription: string, roles: readonly string[]): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/namespaces/${nsPath(namespace)}/permissions/subscription/${enc(subscription)}`,
      `subscription ${subscription} of ${namespace}`,
      roles,
    );
  }

  /** Withdraws `role` from `subscription`'s grant (the broker's path has no `subscription/` here). */
  async revokeSubscription(namespace: string, subscription: string, role: string): Promise<void> {
    await this.#request(
      "DELETE",
      `/admin/v2/namespaces/${nsPath(namespace)}/permissions/${enc(subscription)}/${enc(role)}`,
      `subscription ${subscription} of ${namespace}`,
    );
  }

  /** The namespace's subscription grants: subscription name → roles. */
  subscriptionPermissions(namespace: string): Promise<Record<string, string[]>> {
    return this.#json(
      "GET",
      `/admin/v2/namespaces/${nsPath(namespace)}/permissions/subscription`,
      `subscription permissions of ${namespace}`,
    );
  }

  /** The largest message the broker accepts on `topic` (a topic policy), bytes. */
  async setMaxMessageSize(topic: string, bytes: number): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/${topicPath(topic)}/maxMessageSize`,
      `max message size of ${topic}`,
      bytes,
    );
  }

  // --- subscriptions (what a consume grant lets a role manage, within its subscription grants) ---

  subscriptions(topic: string): Promise<string[]> {
    return this.#json("GET", `/admin/v2/${topicPath(topic)}/subscriptions`, `subscriptions of ${topic}`);
  }

  /** The `n`-th message (from 1) of the subscription's backlog, raw. */
  async peekMessage(topic: string, subscription: string, n = 1): Promise<Uint8Array> {
    const r = await this.#request(
      "GET",
      `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}/position/${n}`,
      `subscription ${subscription} of ${topic}`,
    );
    return new Uint8Array(await r.arrayBuffer());
  }

  async skipAllMessages(topic: string, subscription: string): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}/skip_all`,
      `subscription ${subscription} of ${topic}`,
    );
  }

  async resetCursor(topic: string, subscription: string, timestampMs: number): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}/resetcursor/${timestampMs}`,
      `subscription ${subscription} of ${topic}`,
    );
  }

  async deleteSubscription(topic: string, subscription: string, force = false): Promise<void> {
    await this.#request(
      "DELETE",
      `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}?force=${force}`,
      `subscription ${subscription} of ${topic}`,
    );
  }

  // --- topics (non-partitioned, persistent or not) ---

  topics(namespace: string): Promise<string[]> {
    const [tenant = "", ns = ""] = namespace.split("/");
    return Promise.all([
      this.#json<string[]>("GET", `/admin/v2/persistent/${enc(tenant)}/${enc(ns)}`, `topics of ${namespace}`),
      this.#json<string[]>(
        "GET",
        `/admin/v2/non-persistent/${enc(tenant)}/${enc(ns)}`,
        `topics of ${namespace}`,
      ),
    ]).then(([a, b]) => [...a, ...b]);
  }

  async createTopic(topic: string): Promise<void> {
    await this.#request("PUT", `/admin/v2/${topicPath(topic)}`, `topic ${topic}`);
  }

  /** Creates the topic unless it exists; true when it was created. */
  async ensureTopic(topic: string): Promise<boolean> {
    try {
      await this.createTopic(topic);
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === "PulsarConflictError") return false;
      throw error;
    }
  }

  async deleteTopic(topic: string, force = false): Promise<void> {
    await this.#request("DELETE", `/admin/v2/${topicPath(topic)}?force=${force}`, `topic ${topic}`);
  }

  async grantTopic(topic: string, role: string, actions: readonly AuthAction[]): Promise<void> {
    await this.#request(
      "POST",
      `/admin/v2/${topicPath(topic)}/permissions/${enc(role)}`,
      `permissions of ${role} on ${topic}`,
      actions,
    );
  }

  async revokeTopic(topic: string, role: string): Promise<void> {
    await this.#request(
      "DELETE",
      `/admin/v2/${topicPath(topic)}/permissions/${enc(role)}`,
      `permissions of ${role} on ${topic}`,
    );
  }

  topicPermissions(topic: string): Promise<Record<string, AuthAction[]>> {
    return this.#json("GET", `/admin/v2/${topicPath(topic)}/permissions`, `permissions on ${topic}`);
  }

  topicStats(topic: string): Promise<Record<string, unknown>> {
    return this.#json("GET", `/admin/v2/${topicPath(topic)}/stats`, `stats of ${topic}`);
  }

  // --- plumbing ---

  async #json<T>(method: string, path: string, resource: string): Promise<T> {
    return (await (await this.#request(method, path, resource)).json()) as T;
  }

  async #request(method: string, path: string, resource: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const url = this.url + path;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new PulsarConnectionError(this.url, `${method} ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!response.ok) throw errorForStatus(response.status, method, url, resource, await response.text());
    return response;
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function nsPath(namespace: string): string {
  const parts = namespace.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new TypeError(`not a tenant/namespace: ${namespace}`);
  return parts.map(enc).join("/");
}
