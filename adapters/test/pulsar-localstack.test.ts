// The pure parts of the local broker launcher (localstack/src/pulsar.ts): configuration rendering
// and the clear failure when no suitable JDK exists.

import { findJava, PulsarLocalError, renderConfig } from "@surplus/localstack/pulsar";
import { describe, expect, it } from "vitest";

describe("renderConfig", () => {
  it("replaces the runtime keys in place and appends unknown ones", () => {
    const template =
      "# comment\nwebServicePort=8080\ntokenSecretKey=data:;base64,UNSET\nallowAutoTopicCreation=false\n";
    const out = renderConfig(template, {
      webServicePort: "18080",
      tokenSecretKey: "data:;base64,c2VjcmV0",
      extraKey: "x",
    });
    expect(out.split("\n")).toEqual([
      "# comment",
      "webServicePort=18080",
      "tokenSecretKey=data:;base64,c2VjcmV0",
      "allowAutoTopicCreation=false",
      "",
      "extraKey=x",
    ]);
  });
});

describe("findJava", () => {
  it("fails with a message that says what to install when no JDK is new enough", async () => {
    await expect(findJava(999)).rejects.toBeInstanceOf(PulsarLocalError);
    await expect(findJava(999)).rejects.toThrow(/Java 999 or newer.*JAVA_HOME/s);
  });

  it("finds the JDK 25 installed on this machine for Pulsar 4.0", async () => {
    const { major } = await findJava(21);
    expect(major).toBeGreaterThanOrEqual(21);
  });
});
