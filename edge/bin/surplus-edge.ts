#!/usr/bin/env node
import { main } from "../src/cli/main.ts";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`surplus-edge: ${error.message}`);
    process.exitCode = 1;
  },
);
