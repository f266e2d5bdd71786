// Pulsar topic names: `{persistent|non-persistent}://tenant/namespace/local-name`.

export interface TopicParts {
  readonly persistent: boolean;
  readonly tenant: string;
  readonly namespace: string;
  readonly local: string;
}

const SEGMENT = /^[A-Za-z0-9_=:.-]+$/;

/** Checks one name segment (tenant, namespace, topic) against Pulsar's allowed characters. */
export function assertSegment(kind: string, value: string): string {
  if (!SEGMENT.test(value)) {
    throw new TypeError(
      `invalid Pulsar ${kind} name ${JSON.stringify(value)} (allowed: letters, digits, _ = : . -)`,
    );
  }
  return value;
}

/** The fully qualified name of a topic. */
export function topicName(parts: TopicParts): string {
  assertSegment("tenant", parts.tenant);
  assertSegment("namespace", parts.namespace);
  assertSegment("topic", parts.local);
  return `${parts.persistent ? "persistent" : "non-persistent"}://${parts.tenant}/${parts.namespace}/${parts.local}`;
}

/** Parses a fully qualified topic name; a short `tenant/ns/topic` is taken as persistent. */
export function parseTopic(name: string): TopicParts {
  const match = /^(?:(persistent|non-persistent):\/\/)?([^/]+)\/([^/]+)\/([^/]+)$/.exec(name);
  if (!match) throw new TypeError(`not a Pulsar topic name: ${JSON.stringify(name)}`);
  const [, domain, tenant, namespace, local] = match as unknown as [
    string,
    string | undefined,
    string,
    string,
    string,
  ];
  return {
    persistent: domain !== "non-persistent",
    tenant: assertSegment("tenant", tenant),
    namespace: assertSegment("namespace", namespace),
    local: assertSegment("topic", local),
  };
}

/** `persistent/tenant/ns/topic`: the path segment used by the admin and WebSocket APIs. */
export function topicPath(name: string): string {
  const t = parseTopic(name);
  return [t.persistent ? "persistent" : "non-persistent", t.tenant, t.namespace, t.local]
    .map(encodeURIComponent)
    .join("/");
}

/** `tenant/namespace` of a topic. */
export function namespaceOf(name: string): string {
  const t = parseTopic(name);
  return `${t.tenant}/${t.namespace}`;
}
