// The Pulsar channel layer: ports, the WebSocket + admin REST adapter and the Table 4 channels.
export * from "./admin.ts";
export * from "./allocator-channels.ts";
export * from "./auth.ts";
export * from "./batching.ts";
export * from "./bridge-channels.ts";
export * from "./channels.ts";
export * from "./errors.ts";
export * from "./lru.ts";
export * from "./message-id.ts";
export * from "./ports.ts";
export * from "./status-channel.ts";
export * from "./topics.ts";
export * from "./window.ts";
export * from "./ws-client.ts";
