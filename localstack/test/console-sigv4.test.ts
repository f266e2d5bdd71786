// The deployed console page signs its reads itself (static/sigv4.js); its signatures must be the
// ones AWS's own signer (@smithy/signature-v4, what the AWS SDK uses) computes for the same GET.
import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module of the page, without types
import { regionOf, signGet } from "../src/console/static/sigv4.js";

/** The SHA-256 the SDK's signer needs (a hash, or an HMAC with a secret), from node:crypto. */
type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): string | Uint8Array =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);
class Sha256 {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Data) {
    this.#h = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: Data) {
    this.#h.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.#h.digest());
  }
}

const URL_ = "https://abcdefghij0123456789abcdefghij.lambda-url.eu-west-1.on.aws/api/market";
const now = new Date("2026-12-06T22:50:00.000Z");

async function sdkSignature(credentials: {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}) {
  const u = new URL(URL_);
  const signer = new SignatureV4({ credentials, region: "eu-west-1", service: "lambda", sha256: Sha256 });
  const signed = await signer.sign(
    {
      method: "GET",
      protocol: "https:",
      hostname: u.hostname,
      path: u.pathname,
      headers: { host: u.host, "x-amz-content-sha256": createHash("sha256").update("").digest("hex") },
    },
    { signingDate: now },
  );
  return signed.headers["authorization"];
}

describe("the console page's SigV4", () => {
  it("reads the region off a function URL", () => {
    expect(regionOf(URL_)).toBe("eu-west-1");
    expect(regionOf("https://example.com/")).toBeUndefined();
  });

  it.each([
    [
      "long-term keys",
      { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
    ],
    [
      "a session",
      {
        accessKeyId: "ASIAEXAMPLE",
        secretAccessKey: "c2VjcmV0/+=",
        sessionToken: "IQoJb3JpZ2luX2VjE//token==",
      },
    ],
  ])("signs a GET exactly as the AWS SDK does (%s)", async (_what, credentials) => {
    const ours = await signGet(URL_, credentials, "eu-west-1", "lambda", now);
    expect(ours.authorization).toBe(await sdkSignature(credentials));
    expect(ours["x-amz-date"]).toBe("20261206T225000Z");
    if ("sessionToken" in credentials) expect(ours["x-amz-security-token"]).toBe(credentials.sessionToken);
  });

  it("changes with the secret (a wrong key cannot pass)", async () => {
    const a = await signGet(URL_, { accessKeyId: "A", secretAccessKey: "one" }, "eu-west-1", "lambda", now);
    const b = await signGet(URL_, { accessKeyId: "A", secretAccessKey: "two" }, "eu-west-1", "lambda", now);
    expect(a.authorization).not.toBe(b.authorization);
  });
});
