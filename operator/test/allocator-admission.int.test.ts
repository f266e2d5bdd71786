// The operator's admission (issue 16) on the real broker and DynamoDB: one call records the account
// as admitted (what the Allocator checks every offer's signer against), grants its broker role its
// market channels and its own subscription, and mints the token whose role is that account.
import {
  createTables,
  DynamoParticipants,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  DEFAULT_LAYOUT,
  mintToken,
  ownSubscription,
  PulsarAdmin,
  PulsarAuthorizationError,
  participantRole,
  provisionMarket,
  statusChannel,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import type { Address } from "@surplus/core";
import { Wallet } from "ethers";
import { decodeJwt } from "jose";
import { describe, expect, inject, it } from "vitest";
import { admit } from "../src/allocator/admission.ts";

const pulsar = inject("pulsar");

describe("admit", () => {
  it("binds the account and the broker token: recorded, granted, minted with the account as role", async () => {
    const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
    const layout = { ...DEFAULT_LAYOUT, tenant: `admit-${process.pid}-${Date.now().toString(36)}` };
    const channels = await provisionMarket(admin, layout);
    const client = dynamoDbClient(inject("dynamodbEndpoint"));
    const names = tableNames(`admit-${process.pid}-${Date.now().toString(36)}-`);
    await createTables(client, names);
    const record = new DynamoParticipants(documentClient(client), names);
    const supplier = Wallet.createRandom().address as Address;
    const stranger = Wallet.createRandom().address as Address;

    const admitted = await admit(
      { admin, record },
      { address: supplier, kind: "supplier" },
      { nowMs: 1, layout, tokenSecret: new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64")) },
    );

    expect(admitted.role).toBe(supplier.toLowerCase());
    expect(decodeJwt(admitted.token!).sub).toBe(supplier.toLowerCase());
    const list = await record.admitted([supplier, stranger] as Address[]);
    expect(list.get(supplier.toLowerCase())).toEqual(new Set(["supplier"]));
    expect(list.has(stranger.toLowerCase())).toBe(false);
    // With the minted token: it may post offers and read allocations on its own subscription.
    const bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: admitted.token! });
    try {
      const producer = await bus.createProducer(channels.offers, { sendTimeoutMs: 10_000 });
      await producer.send({ payload: new TextEncoder().encode("{}") });
      await producer.close();
      await (await bus.subscribe(channels.allocations, ownSubscription(supplier, "agent"))).close();
      await expect(bus.createProducer(channels.allocations)).rejects.toBeInstanceOf(PulsarAuthorizationError);
    } finally {
      await bus.close();
    }
  });

  it("creates the participant's status channel when the Allocator is named: it writes there, the participant reads", async () => {
    const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
    const layout = { ...DEFAULT_LAYOUT, tenant: `status-${process.pid}-${Date.now().toString(36)}` };
    await provisionMarket(admin, layout);
    const secret = new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64"));
    const customer = Wallet.createRandom().address as Address;
    const allocator = Wallet.createRandom().address as Address;
    const admissions: string[] = [];
    const record = { admit: async (account: Address) => void admissions.push(account) };

    const admitted = await admit(
      { admin, record },
      { address: customer, kind: "customer" },
      { nowMs: 1, layout, tokenSecret: secret, allocator },
    );

    expect(admissions).toEqual([customer]);
    const topic = statusChannel(customer, layout);
    const asAllocator = new WebSocketMessageBus({
      url: pulsar.webUrl,
      token: await mintToken(secret, participantRole(allocator)),
    });
    const asCustomer = new WebSocketMessageBus({ url: pulsar.webUrl, token: admitted.token! });
    try {
      const producer = await asAllocator.createProducer(topic, { sendTimeoutMs: 10_000 });
      await producer.send({ payload: new TextEncoder().encode("{}") });
      const reader = await asCustomer.createReader(topic, { startMessageId: "earliest" });
      expect(new TextDecoder().decode((await reader.readNext(10_000)).payload)).toBe("{}");
      await reader.close();
      await producer.close();
      // The participant only reads its channel.
      await expect(asCustomer.createProducer(topic)).rejects.toBeInstanceOf(PulsarAuthorizationError);
    } finally {
      await asAllocator.close();
      await asCustomer.close();
    }
  });
});
