/**
 * Running the embedded fleet from the CLI: prepare the sim hosts, start the
 * supervisor, wait until every host reports up, and stop it all again.
 * Shared by `xenfleet up` and `xenfleet demo`.
 */
import { EXIT_CONFIG, fleetChildren, hostIds, prepareSimHosts, Supervisor, type EmbeddedFleet } from "@xenfleet/fleet";
import { PollTimeoutError, poll } from "@xenfleet/core";
import { listHosts, listServices, type RedisClient, type ServiceEntry } from "@xenfleet/jobs";
import { join } from "node:path";
import { WorkFailedError } from "../errors.js";
import { childEnv } from "./fleet-options.js";

export interface RunningFleet {
  supervisor: Supervisor;
  /** How many service processes the fleet runs. */
  services: number;
  stop(): Promise<void>;
}

export async function startEmbeddedFleet(fleet: EmbeddedFleet, log: (line: string) => void): Promise<RunningFleet> {
  const created = await prepareSimHosts(fleet);
  if (created.length > 0) log(`created ${created.length} sim domains`);
  const supervisor = new Supervisor({
    logDir: join(fleet.stateDir, "logs"),
    onEvent: (e) => {
      if (e.type !== "exited") return;
      if (e.restartInMs !== undefined)
        log(`${e.name} exited (${e.signal ?? `code ${e.code}`}); restarting in ${e.restartInMs} ms`);
      else if (e.code === EXIT_CONFIG)
        log(
          `${e.name} refused its configuration and stays stopped; see ${join(fleet.stateDir, "logs", `${e.name}.log`)}`,
        );
    },
  });
  const children = fleetChildren(fleet, childEnv());
  supervisor.start(children);
  // If this process ends without stopping the fleet (an uncaught error), take the children with it.
  const killAll = () => {
    for (const pid of Object.values(supervisor.pids())) if (pid !== undefined) safeKill(pid);
  };
  process.once("exit", killAll);
  return {
    supervisor,
    services: children.length,
    stop: async () => {
      await supervisor.stop();
      process.removeListener("exit", killAll);
    },
  };
}

/** Resolve once every host of the fleet reports up; reject after `timeoutMs`. */
export async function waitForHosts(
  redis: RedisClient,
  prefix: string,
  count: number,
  timeoutMs = 120_000,
  signal?: AbortSignal,
): Promise<void> {
  const want = hostIds(count);
  let missing = want;
  try {
    await poll(
      "hosts to come up",
      async () => {
        const hosts = await listHosts(redis, prefix);
        missing = want.filter((id) => !hosts.some((h) => h.id === id && h.state === "up"));
        return missing.length === 0;
      },
      { timeoutMs, ...(signal ? { signal } : {}) },
    );
  } catch (err) {
    if (!(err instanceof PollTimeoutError)) throw err;
    throw new WorkFailedError(`hosts not up after ${timeoutMs / 1000} s: ${missing.join(", ")} (see the logs)`);
  }
}

function safeKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The fleet's `count` services once they have all registered (every one serves metrics), or as many as did within `timeoutMs`. */
export async function registeredServices(
  redis: RedisClient,
  prefix: string,
  count: number,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<ServiceEntry[]> {
  let services: ServiceEntry[] = [];
  await poll(
    "services to register",
    async () => {
      services = await listServices(redis, prefix);
      return services.length >= count;
    },
    { timeoutMs, ...(signal ? { signal } : {}) },
  ).catch((err: unknown) => {
    if (!(err instanceof PollTimeoutError)) throw err;
  });
  return services;
}

/** "metrics: save-worker@host-1 http://127.0.0.1:40123/metrics", one line per service. */
export function metricsLines(services: readonly ServiceEntry[]): string[] {
  return services.map(
    (s) => `metrics: ${s.host === undefined ? s.service : `${s.service}@${s.host}`} ${s.metricsUrl ?? "(none)"}`,
  );
}
