// The market function's cadence settings: the period read off the schedule, the default timeout
// covering the period and the stop margin, and settings that cannot work refused at synth time.
import { App, Duration, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as events from "aws-cdk-lib/aws-events";
import { describe, expect, it } from "vitest";
import {
  MarketFunction,
  type MarketFunctionProps,
  schedulePeriodSeconds,
} from "../src/constructs/market-function.ts";
import { MARKET_ENV } from "../src/environment.ts";
import { SurplusConfigError } from "../src/errors.ts";
import { TEST_ENTRIES } from "./support/app.ts";

function synth(props: Partial<MarketFunctionProps>) {
  const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "Test");
  new MarketFunction(stack, "Fn", {
    entry: TEST_ENTRIES.allocator,
    serviceName: "allocator",
    description: "test",
    ...props,
  });
  const [fn] = Object.values(Template.fromStack(stack).findResources("AWS::Lambda::Function"));
  return fn!["Properties"] as { Timeout: number; Environment: { Variables: Record<string, string> } };
}

describe("MarketFunction cadence", () => {
  it("reads the period off a rate schedule; a cron expression counts as a minute", () => {
    expect(schedulePeriodSeconds(events.Schedule.rate(Duration.minutes(1)))).toBe(60);
    expect(schedulePeriodSeconds(events.Schedule.rate(Duration.minutes(5)))).toBe(300);
    expect(schedulePeriodSeconds(events.Schedule.rate(Duration.hours(2)))).toBe(7200);
    expect(schedulePeriodSeconds(events.Schedule.expression("cron(0/5 * * * ? *)"))).toBe(60);
  });

  it("sizes the timeout to the period and the margin, and tells the handler both", () => {
    const p = synth({
      schedule: events.Schedule.rate(Duration.minutes(2)),
      stopMargin: Duration.seconds(20),
    });
    expect(p.Timeout).toBe(120 + 20 + 5);
    expect(p.Environment.Variables).toMatchObject({
      [MARKET_ENV.schedulePeriodSeconds]: "120",
      [MARKET_ENV.stopMarginMs]: "20000",
      [MARKET_ENV.roundIntervalMs]: "1000",
    });
    // A period longer than Lambda's 15 minutes: the timeout is capped (the slot ends early).
    expect(synth({ schedule: events.Schedule.rate(Duration.hours(1)) }).Timeout).toBe(900);
  });

  it.each([
    ["a round interval under 100 ms", { roundInterval: Duration.millis(50) }, /roundInterval/],
    ["a round interval beyond the period", { roundInterval: Duration.minutes(2) }, /roundInterval/],
    [
      "a margin as long as the timeout",
      { timeout: Duration.seconds(30), stopMargin: Duration.seconds(30) },
      /stopMargin/,
    ],
    ["a margin under a second", { stopMargin: Duration.millis(500) }, /stopMargin/],
  ])("refuses %s", (_what, props, message) => {
    expect(() => synth(props)).toThrow(SurplusConfigError);
    expect(() => synth(props)).toThrow(message);
  });
});
