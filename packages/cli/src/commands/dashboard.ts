/**
 * `xenfleet dashboard`: the web dashboard on its own; and the dashboard of
 * the embedded fleet that `xenfleet up` and `xenfleet demo` start beside it.
 * It needs a token (XENFLEET_DASHBOARD_TOKEN); the embedded fleet makes one
 * when none is set, and prints it.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Option, type Command } from "commander";
import { startDashboard, type Dashboard } from "@xenfleet/dashboard";
import { checkStoresHealth, startServiceEndpoint, Stores, type EmbeddedFleet } from "@xenfleet/fleet";
import { bindAddress, port } from "../args.js";
import { UsageError } from "../errors.js";
import { addRedisOptions, fleetStores, reachRedis } from "./fleet-options.js";

export const TOKEN_VARIABLE = "XENFLEET_DASHBOARD_TOKEN";

export function registerDashboardCommand(program: Command): void {
  addRedisOptions(program.command("dashboard"))
    .description(
      `Serve the web dashboard (hosts, domains, batches, evacuations, images) until Ctrl-C; requests need ${TOKEN_VARIABLE}`,
    )
    .option("--port <port>", "the port to listen on (0: a free one)", port, 8080)
    .option("--bind <address>", "the address to listen on", bindAddress, "127.0.0.1")
    .action(async (opts: { redis: string; prefix: string; port: number; bind: string }) => {
      const token = process.env[TOKEN_VARIABLE];
      if (!token) throw new UsageError(`${TOKEN_VARIABLE} is not set: the dashboard serves no one without a token`);
      await reachRedis(opts.redis);
      const stores = fleetStores();
      const dashboard = await startDashboard({
        redisUrl: opts.redis,
        prefix: opts.prefix,
        stores,
        token,
        port: opts.port,
        bind: opts.bind,
      });
      process.stderr.write(`dashboard: ${dashboard.url}\n`);
      await new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      await dashboard.close();
      await stores.close();
    });
}

/** --dashboard-port and --dashboard-bind, for `up` and `demo`. */
export function addDashboardOptions(command: Command): Command {
  return command
    .addOption(new Option("--dashboard-port <port>", "the dashboard's port (0: a free one)").argParser(port).default(0))
    .addOption(
      new Option("--dashboard-bind <address>", "the dashboard's address").argParser(bindAddress).default("127.0.0.1"),
    )
    .option("--no-dashboard", "run no dashboard");
}

export interface DashboardChoice {
  port: number;
  bind: string;
  token: string;
  /** True when the token was made here (none was set): then it is printed. */
  generated: boolean;
}

/** The dashboard the options ask for, with its token; undefined for --no-dashboard. */
export function dashboardChoice(opts: Record<string, unknown>): DashboardChoice | undefined {
  if (opts.dashboard === false) return undefined;
  const given = process.env[TOKEN_VARIABLE];
  return {
    port: opts.dashboardPort as number,
    bind: opts.dashboardBind as string,
    token: given || randomBytes(24).toString("base64url"),
    generated: !given,
  };
}

/** A port free now on `bind` (for a background fleet, whose URL is printed before it listens). */
export async function freePort(bind: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, bind, () => resolve());
  });
  const { port: found } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return found;
}

export function dashboardUrl(bind: string, port: number): string {
  const host = bind.includes(":") ? `[${bind}]` : bind === "0.0.0.0" ? "127.0.0.1" : bind;
  return `http://${host}:${port}/`;
}

/** What `up` and `demo` print of their dashboard. */
export function dashboardLine(url: string, choice: DashboardChoice): string {
  return `dashboard ${url}${choice.generated ? ` (token ${choice.token}; set ${TOKEN_VARIABLE} to choose it)` : ""}`;
}

/** The embedded fleet's dashboard: its one store, main, as its workers have it. */
/**
 * The embedded fleet's dashboard, in this process: like the fleet's other
 * services it serves metrics and /healthz on a free port of 127.0.0.1 and
 * registers them (`metricsUrl`).
 */
export async function startFleetDashboard(
  fleet: EmbeddedFleet,
  choice: DashboardChoice,
): Promise<Dashboard & { stores: Stores; metricsUrl: string | undefined }> {
  const stores = new Stores({ ...process.env, ...fleet.env, XENFLEET_STORES: undefined, XENFLEET_STORE: fleet.store });
  const endpoint = await startServiceEndpoint({
    name: "dashboard",
    redisUrl: fleet.redis,
    prefix: fleet.prefix,
    port: "auto",
    bind: "127.0.0.1",
  });
  checkStoresHealth(endpoint, stores);
  const dashboard = await startDashboard({
    redisUrl: fleet.redis,
    prefix: fleet.prefix,
    stores,
    token: choice.token,
    port: choice.port,
    bind: choice.bind,
  });
  return {
    ...dashboard,
    stores,
    metricsUrl: endpoint.metricsUrl,
    close: async () => {
      await dashboard.close();
      await endpoint.close();
      await stores.close();
    },
  };
}
