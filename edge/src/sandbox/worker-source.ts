// The worker isolation mode's code: the executor's own source text plus a message loop, run with
// `new Worker(source, { eval: true })` so the runtime still bundles into one file.
import { createExecutor } from "./executor.ts";

export const WORKER_SOURCE = `
const createExecutor = ${createExecutor.toString()};
const { parentPort, workerData } = require("node:worker_threads");
const executor = createExecutor(workerData.module, workerData.maxPages);
parentPort.on("message", ({ id, inputs }) => {
  const results = executor.runBatch(inputs);
  parentPort.postMessage({ id, results }, results.filter((r) => r.ok).map((r) => r.output.buffer));
});
`;
