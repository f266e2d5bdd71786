#!/usr/bin/env node
import { relaunchWithRuntimeSettings } from "../src/cli/launch.ts";

// First, before the runtime is loaded: re-executes once with the runtime's memory allocator
// settings (src/cli/launch.ts says which and why).
relaunchWithRuntimeSettings();
const { main } = await import("../src/cli/main.ts");

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`surplus-edge: ${error.message}`);
    process.exitCode = 1;
  },
);
