import { describe, expect, it } from "vitest";
import { mapLimited } from "../src/index.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("mapLimited", () => {
  it("keeps at most `limit` calls in flight and returns the results in the items' order", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimited([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      for (let k = 0; k < n; k++) await tick();
      inFlight--;
      return n * 10 + i;
    });
    expect(out).toEqual([50, 11, 42, 23, 34, 5, 66]);
    expect(most).toBe(3);
  });

  it("runs every item even when one fails, then throws the first error", async () => {
    const done: number[] = [];
    await expect(
      mapLimited([0, 1, 2, 3, 4], 2, async (n) => {
        await tick();
        if (n === 1) throw new Error("first");
        if (n === 3) throw new Error("second");
        done.push(n);
      }),
    ).rejects.toThrow("first");
    expect(done.sort()).toEqual([0, 2, 4]);
  });

  it("does nothing for no items and refuses a limit below one", async () => {
    expect(await mapLimited([], 4, async () => 1)).toEqual([]);
    await expect(mapLimited([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});
