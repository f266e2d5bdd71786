import { jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { mintPulsarToken } from "../scripts/pulsar-token.ts";

describe("mintPulsarToken", () => {
  const key = Buffer.from("k".repeat(64), "utf8");

  it("mints an HS256 token with the subject that verifies with the same key bytes", async () => {
    const token = mintPulsarToken(key, "admin");
    const { payload, protectedHeader } = await jwtVerify(token, new Uint8Array(key), {
      algorithms: ["HS256"],
    });
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toEqual({ sub: "admin" });
  });

  it("adds an expiry when asked", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const { payload } = await jwtVerify(mintPulsarToken(key, "allocator", exp), new Uint8Array(key));
    expect(payload).toEqual({ sub: "allocator", exp });
  });

  it("does not verify under another key", async () => {
    const other = new Uint8Array(Buffer.from("x".repeat(64)));
    await expect(jwtVerify(mintPulsarToken(key, "admin"), other)).rejects.toThrow();
  });

  it("refuses short keys and empty subjects", () => {
    expect(() => mintPulsarToken(Buffer.from("short"), "admin")).toThrow(/at least 32/);
    expect(() => mintPulsarToken(key, "")).toThrow(/subject/);
  });
});
