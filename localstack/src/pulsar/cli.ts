// A real Apache Pulsar standalone broker for development and tests, without Docker (index.ts):
//
//   node localstack/src/pulsar/cli.ts start        start (or reuse) the broker and print its endpoints
//   node localstack/src/pulsar/cli.ts stop         stop it cleanly
//   node localstack/src/pulsar/cli.ts status       is it running?
//   node localstack/src/pulsar/cli.ts token ADDR   mint a participant token (sub = address, lower-cased)
//   node localstack/src/pulsar/cli.ts env          print the endpoints as shell exports
import { tokenFor } from "./credentials.ts";
import { defaultLog, PulsarLocalError, resolveOptions } from "./options.ts";
import { pulsarInfo, readPid, startPulsar, stopPulsar } from "./process.ts";

async function main(argv: string[]): Promise<void> {
  const [command = "start", arg] = argv;
  switch (command) {
    case "start": {
      const local = await startPulsar();
      process.stdout.write(
        `${JSON.stringify({ webUrl: local.webUrl, serviceUrl: local.serviceUrl, pid: local.pid, dataDir: local.dataDir }, null, 2)}\n`,
      );
      return;
    }
    case "stop":
      if (!(await stopPulsar())) defaultLog("no broker running");
      return;
    case "status": {
      const o = resolveOptions({});
      const pid = await readPid(o.dataDir);
      process.stdout.write(pid ? `running (pid ${pid}) at ${o.webUrl}\n` : "not running\n");
      process.exitCode = pid ? 0 : 1;
      return;
    }
    case "token": {
      if (!arg) throw new PulsarLocalError("usage: cli.ts token <ethereum-address | admin>");
      process.stdout.write(`${await tokenFor(resolveOptions({}).dataDir, arg)}\n`);
      return;
    }
    case "env": {
      const info = await pulsarInfo();
      for (const [k, v] of Object.entries({
        SURPLUS_PULSAR_WEB_URL: info.webUrl,
        SURPLUS_PULSAR_SERVICE_URL: info.serviceUrl,
        SURPLUS_PULSAR_ADMIN_TOKEN: info.adminToken,
        SURPLUS_PULSAR_TOKEN_SECRET: info.tokenSecret,
        SURPLUS_PULSAR_WEB_URL_TLS: info.webUrlTls,
      })) {
        process.stdout.write(`export ${k}=${JSON.stringify(v)}\n`);
      }
      return;
    }
    default:
      throw new PulsarLocalError(`unknown command ${command} (start | stop | status | token ADDR | env)`);
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`[pulsar] error: ${error.message}\n`);
  process.exit(1);
});
