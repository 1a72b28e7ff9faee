/**
 * `xenfleet up`: an embedded fleet on this machine (N sim hosts with M
 * domains each, every worker and the controller as supervised child
 * processes), until SIGINT/SIGTERM; `--detach` runs it in the background with
 * a pid file, and `xenfleet down` stops it. The local Redis is started when
 * none answers (local-redis.ts).
 */
import { sleep, isProcessRunning } from "@xenfleet/core";
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Option, type Command } from "commander";
import { DEFAULT_PREFIX } from "@xenfleet/jobs";
import { fleetChildren, type EmbeddedFleet } from "@xenfleet/fleet";
import { count, positive, prefix, sizeOption } from "../args.js";
import { NotFoundError, UsageError, WorkFailedError } from "../errors.js";
import { emit } from "../output.js";
import { addRedisOptions, storeOption, storeUrlOf, withRedis } from "./fleet-options.js";
import { metricsLines, registeredServices, startEmbeddedFleet, waitForHosts } from "./embedded-fleet.js";
import { ensureRedis } from "./local-redis.js";
import {
  addDashboardOptions,
  dashboardChoice,
  dashboardLine,
  dashboardUrl,
  freePort,
  startFleetDashboard,
  TOKEN_VARIABLE,
  type DashboardChoice,
} from "./dashboard.js";

export function addEmbeddedOptions(
  command: Command,
  defaults: { hosts: number; domains: number; memory: string; dirtyRate: number },
): Command {
  // --store here says where the fleet's one store is (its workers call it main): a location, as for image commands.
  return addDashboardOptions(addRedisOptions(command))
    .addOption(storeOption())
    .option("--hosts <n>", "simulated hosts (host-1 ... host-N)", positive, defaults.hosts)
    .option("--domains <m>", "domains per host", count, defaults.domains)
    .addOption(sizeOption("--memory <size>", "memory of each domain", defaults.memory))
    .addOption(
      sizeOption("--host-memory <size>", "memory each host offers (default: room for twice its domains, at least 4G)"),
    )
    .option("--dirty-rate <pages>", "pages per second each running domain writes", count, defaults.dirtyRate)
    .option("--compress-workers <k>", "compress worker processes", count, 1)
    .option("--state-dir <dir>", "sim hosts (hosts/host-N) and logs live here", ".xenfleet")
    .addOption(
      new Option("--log-level <level>", "log level of the services")
        .default("info")
        .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    );
}

export function embeddedFleet(opts: Record<string, unknown>): EmbeddedFleet {
  const domains = opts.domains as number;
  const memory = opts.memory as number;
  return {
    hosts: opts.hosts as number,
    domains,
    domainMemoryBytes: memory,
    hostMemoryBytes: (opts.hostMemory as number | undefined) ?? Math.max(4 * 2 ** 30, 2 * domains * memory),
    dirtyPagesPerSec: opts.dirtyRate as number,
    compressWorkers: opts.compressWorkers as number,
    redis: opts.redis as string,
    prefix: opts.prefix as string,
    store: storeUrlOf(opts.store as string),
    stateDir: resolve(opts.stateDir as string),
    logLevel: opts.logLevel as string,
  };
}

function pidFileOf(opts: Record<string, unknown>): string {
  return resolve(
    (opts.pidFile as string | undefined) ?? join(opts.stateDir as string, `up-${opts.prefix as string}.pid`),
  );
}

export function registerUpCommands(program: Command): void {
  addEmbeddedOptions(program.command("up"), { hosts: 3, domains: 4, memory: "64M", dirtyRate: 100 })
    .description("Run an embedded fleet on this machine: sim hosts, all workers and the controller, supervised")
    .option("--detach", "run in the background; write a pid file and return once every host is up")
    .option("--pid-file <file>", "pid file of --detach (default <state-dir>/up-<prefix>.pid)")
    .option("--json", "with --detach: print the result as one JSON document")
    .action(async (opts) => {
      if (opts.json && !opts.detach)
        throw new UsageError("--json goes with --detach (in the foreground, up only logs)");
      const fleet = embeddedFleet(opts);
      const log = (line: string) => process.stderr.write(`up: ${line}\n`);
      await ensureRedis(fleet.redis, fleet.stateDir, log);
      const dashboard = dashboardChoice(opts);
      if (opts.detach) return await detach(fleet, pidFileOf(opts), opts.json, dashboard);
      // Listen first: a signal while the fleet starts must still stop it cleanly.
      const stopRequested = new AbortController();
      const onSignal = () => stopRequested.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const running = await startEmbeddedFleet(fleet, log);
      let failure: unknown;
      let served: Awaited<ReturnType<typeof startFleetDashboard>> | undefined;
      try {
        const services = await withRedis(fleet, async (redis) => {
          await waitForHosts(redis, fleet.prefix, fleet.hosts, 120_000, stopRequested.signal);
          return registeredServices(redis, fleet.prefix, running.services, 30_000, stopRequested.signal);
        });
        if (dashboard !== undefined) served = await startFleetDashboard(fleet, dashboard);
        log(
          `fleet up: ${fleet.hosts} hosts x ${fleet.domains} domains, prefix ${fleet.prefix}, store ${fleet.store}, logs in ${join(fleet.stateDir, "logs")}`,
        );
        if (served !== undefined && dashboard !== undefined) log(dashboardLine(served.url, dashboard));
        for (const line of metricsLines(services)) log(line);
        if (served?.metricsUrl !== undefined) log(`metrics: dashboard ${served.metricsUrl}`);
        await new Promise<void>((done) => {
          if (stopRequested.signal.aborted) done();
          else stopRequested.signal.addEventListener("abort", () => done(), { once: true });
        });
      } catch (err) {
        if (!stopRequested.signal.aborted) failure = err;
      }
      log("stopping the fleet");
      await served?.close().catch(() => undefined);
      await running.stop();
      log("fleet stopped");
      if (failure !== undefined) throw failure;
    });

  program
    .command("down")
    .description("Stop a fleet started with `xenfleet up --detach`")
    .addOption(
      new Option("--prefix <prefix>", "as given to up")
        .env("XENFLEET_PREFIX")
        .default(DEFAULT_PREFIX)
        .argParser(prefix),
    )
    .option("--state-dir <dir>", "as given to up", ".xenfleet")
    .option("--pid-file <file>", "as given to up")
    .option("--json", "print the result as one JSON document")
    .action(async (opts) => {
      const file = pidFileOf(opts);
      if (!existsSync(file))
        throw new NotFoundError(
          "fleet",
          opts.prefix,
          `no fleet with prefix ${opts.prefix} is running here (no pid file ${file})`,
        );
      const pid = Number(readFileSync(file, "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`${file} holds no pid`);
      if (isProcessRunning(pid)) process.kill(pid, "SIGTERM");
      const deadline = Date.now() + 120_000;
      while (isProcessRunning(pid)) {
        if (Date.now() > deadline) throw new WorkFailedError(`the fleet (pid ${pid}) is still running after 120 s`);
        await sleep(200);
      }
      rmSync(file, { force: true });
      emit(opts.json, { pid, pidFile: file, state: "stopped" }, () => `fleet (pid ${pid}) stopped`);
    });
}

/** Start `up` again without --detach, in the background, and wait until its hosts are up. */
async function detach(
  fleet: EmbeddedFleet,
  pidFile: string,
  json: boolean | undefined,
  dashboard: DashboardChoice | undefined,
): Promise<void> {
  if (existsSync(pidFile) && isProcessRunning(Number(readFileSync(pidFile, "utf8").trim()))) {
    throw new UsageError(`a fleet is already running (pid file ${pidFile})`);
  }
  mkdirSync(join(fleet.stateDir, "logs"), { recursive: true });
  const logFile = join(fleet.stateDir, "logs", "up.log");
  const out = openSync(logFile, "a");
  const args = [
    ...process.execArgv,
    process.argv[1] ?? "",
    "up",
    "--redis",
    fleet.redis,
    "--prefix",
    fleet.prefix,
    "--store",
    fleet.store,
    "--hosts",
    String(fleet.hosts),
    "--domains",
    String(fleet.domains),
    "--memory",
    String(fleet.domainMemoryBytes),
    "--host-memory",
    String(fleet.hostMemoryBytes),
    "--dirty-rate",
    String(fleet.dirtyPagesPerSec),
    "--compress-workers",
    String(fleet.compressWorkers),
    "--state-dir",
    fleet.stateDir,
    "--log-level",
    fleet.logLevel ?? "info",
  ];
  // The port is chosen here, so that the URL printed is the one the background fleet listens on.
  const port = dashboard === undefined ? 0 : dashboard.port || (await freePort(dashboard.bind));
  if (dashboard === undefined) args.push("--no-dashboard");
  else args.push("--dashboard-port", String(port), "--dashboard-bind", dashboard.bind);
  const env = dashboard === undefined ? process.env : { ...process.env, [TOKEN_VARIABLE]: dashboard.token };
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", out, out], env });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new WorkFailedError("could not start the fleet process");
  child.unref();
  writeFileSync(pidFile, `${pid}\n`);
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new WorkFailedError(`the fleet process exited (code ${code}); see ${logFile}`)),
    ),
  );
  // The fleet's processes, and the dashboard the background process serves.
  const expected = fleetChildren(fleet, {}).length + (dashboard === undefined ? 0 : 1);
  const services = await withRedis(fleet, (redis) =>
    Promise.race([
      waitForHosts(redis, fleet.prefix, fleet.hosts).then(() => registeredServices(redis, fleet.prefix, expected)),
      exited,
    ]),
  );
  child.removeAllListeners("exit");
  const url = dashboard === undefined ? undefined : dashboardUrl(dashboard.bind, port);
  emit(
    json,
    {
      pid,
      pidFile,
      log: logFile,
      hosts: fleet.hosts,
      prefix: fleet.prefix,
      store: fleet.store,
      state: "up",
      services: services.map((s) => ({
        service: s.service,
        ...(s.host === undefined ? {} : { host: s.host }),
        metricsUrl: s.metricsUrl ?? null,
      })),
      ...(url === undefined || dashboard === undefined
        ? {}
        : { dashboard: { url, ...(dashboard.generated ? { token: dashboard.token } : {}) } }),
    },
    () =>
      [
        `fleet up in the background (pid ${pid}, pid file ${pidFile}, log ${logFile})`,
        ...(url === undefined || dashboard === undefined ? [] : [dashboardLine(url, dashboard)]),
        ...metricsLines(services),
      ].join("\n"),
  );
}
