import { describe, expect, it } from "vitest";
import { secretFromEnv } from "../shared/secrets.ts";

describe("secretFromEnv", () => {
  const fetched: string[] = [];
  const fetch = async (arn: string) => {
    fetched.push(arn);
    return `value-of-${arn}`;
  };

  it("fetches the secret an ARN names, and only then", async () => {
    expect(await secretFromEnv({ TOKEN_ARN: "arn:aws:secretsmanager:x" }, "TOKEN", "TOKEN_ARN", fetch)).toBe(
      "value-of-arn:aws:secretsmanager:x",
    );
    expect(fetched).toEqual(["arn:aws:secretsmanager:x"]);
  });

  it("uses the plain variable locally, and nothing when neither is set", async () => {
    expect(await secretFromEnv({ TOKEN: "jwt" }, "TOKEN", "TOKEN_ARN", fetch)).toBe("jwt");
    expect(await secretFromEnv({}, "TOKEN", "TOKEN_ARN", fetch)).toBeUndefined();
  });

  it("refuses both at once", async () => {
    await expect(secretFromEnv({ TOKEN: "a", TOKEN_ARN: "b" }, "TOKEN", "TOKEN_ARN", fetch)).rejects.toThrow(
      /not both/,
    );
  });
});
