/**
 * Running the embedded fleet from the CLI: prepare the sim hosts, start the
 * supervisor, wait until every host reports up, and stop it all again.
 * Shared by `xenfleet up` and `xenfleet demo`.
 */
import { fleetChildren, hostIds, prepareSimHosts, Supervisor, type EmbeddedFleet } from "@xenfleet/fleet";
import { listHosts } from "@xenfleet/jobs";
import type { Redis } from "ioredis";
import { join } from "node:path";
import { childEnv } from "./fleet-options.js";

export interface RunningFleet {
  supervisor: Supervisor;
  stop(): Promise<void>;
}

export async function startEmbeddedFleet(fleet: EmbeddedFleet, log: (line: string) => void): Promise<RunningFleet> {
  const created = await prepareSimHosts(fleet);
  if (created.length > 0) log(`created ${created.length} sim domains`);
  const supervisor = new Supervisor({
    logDir: join(fleet.stateDir, "logs"),
    onEvent: (e) => {
      if (e.type === "exited" && e.restartInMs !== undefined) {
        log(`${e.name} exited (${e.signal ?? `code ${e.code}`}); restarting in ${e.restartInMs} ms`);
      }
    },
  });
  supervisor.start(fleetChildren(fleet, childEnv()));
  // If this process ends without stopping the fleet (an uncaught error), take the children with it.
  const killAll = () => {
    for (const pid of Object.values(supervisor.pids())) if (pid !== undefined) safeKill(pid);
  };
  process.once("exit", killAll);
  return {
    supervisor,
    stop: async () => {
      await supervisor.stop();
      process.removeListener("exit", killAll);
    },
  };
}

/** Resolve once every host of the fleet reports up; reject after `timeoutMs`. */
export async function waitForHosts(
  redis: Redis,
  prefix: string,
  count: number,
  timeoutMs = 120_000,
  signal?: AbortSignal,
): Promise<void> {
  const want = hostIds(count);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const hosts = await listHosts(redis, prefix);
    const up = want.filter((id) => hosts.some((h) => h.id === id && h.state === "up"));
    if (up.length === want.length) return;
    if (Date.now() > deadline) {
      throw new Error(
        `hosts not up after ${timeoutMs / 1000} s: ${want.filter((id) => !up.includes(id)).join(", ")} (see the logs)`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function safeKill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
