/**
 * docker-compose.yml cannot be run here (no Docker), so its shape is checked:
 * it parses, every service the fleet needs is there and wired to Redis and
 * MinIO, the bucket is created before the fleet starts, compress scales, and
 * every command points at a file the build produces.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Stores } from "@xenfleet/fleet";
import { ROOT } from "./helpers.js";

interface Service {
  image?: string;
  build?: string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  container_name?: string;
  ports?: string[];
  hostname?: string;
  stop_grace_period?: string;
  healthcheck?: { test?: string[]; disable?: boolean };
  profiles?: string[];
  volumes?: string[];
}

const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const fleet = ["controller", "host-1", "host-2", "host-3", "compress", "dashboard"];
const PROMTOOL = "/usr/bin/promtool";

describe("docker-compose.yml", () => {
  it("has Redis, MinIO, the bucket job, the controller, several hosts and compress workers", () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(["redis", "minio", "minio-init", ...fleet]));
    expect(services["minio-init"]!.entrypoint!.join(" ")).toMatch(/mc mb --ignore-existing local\/xenfleet/);
  });

  it("starts the fleet once Redis is healthy and the bucket exists, with the same store and Redis everywhere", () => {
    for (const name of fleet) {
      const s = services[name]!;
      expect(s.depends_on).toMatchObject({
        redis: { condition: "service_healthy" },
        "minio-init": { condition: "service_completed_successfully" },
      });
      expect(s.environment).toMatchObject({
        XENFLEET_REDIS: "redis://redis:6379",
        XENFLEET_STORE: expect.stringMatching(/^s3:\/\/xenfleet\/.*endpoint=http:\/\/minio:9000/),
        // The store's own credentials, MinIO's user as minio-init logs in with it; no fleet-wide AWS_* keys.
        XENFLEET_STORE_MAIN_ACCESS_KEY_ID: services.minio!.environment!.MINIO_ROOT_USER,
        XENFLEET_STORE_MAIN_SECRET_ACCESS_KEY: services.minio!.environment!.MINIO_ROOT_PASSWORD,
      });
      expect(s.environment!.AWS_ACCESS_KEY_ID).toBeUndefined();
      expect(s.environment!.XENFLEET_STORES).toBeUndefined();
      // What the workers read it as: one store, main, opened with main's own key.
      const stores = new Stores(s.environment!);
      expect(stores.names).toEqual(["main"]);
      expect(stores.config("main")).toMatchObject({ kind: "s3", s3: { credentials: { accessKeyId: "xenfleet" } } });
      expect(s.stop_grace_period).toBe("90s");
    }
  });

  it("gives the CLI the fleet's store under the same name, with the same credentials", () => {
    const cli = services.cli!.environment!;
    const controller = services.controller!.environment!;
    for (const key of ["XENFLEET_STORE", "XENFLEET_STORE_MAIN_ACCESS_KEY_ID", "XENFLEET_STORE_MAIN_SECRET_ACCESS_KEY"])
      expect(cli[key]).toBe(controller[key]);
  });

  it("runs each host's workers with its own id and sim state, and keeps compress scalable", () => {
    for (const host of ["host-1", "host-2", "host-3"]) {
      const s = services[host]!;
      expect(s.environment).toMatchObject({ XENFLEET_HOST: host, XENFLEET_HYPERVISOR: "sim" });
      expect(s.entrypoint).toEqual(expect.arrayContaining(["run-host"]));
    }
    // A fixed container name or host port would stop `--scale compress=N`.
    expect(services.compress!.container_name).toBeUndefined();
    expect(services.compress!.ports).toBeUndefined();
  });

  it("serves the dashboard on the Docker host's loopback only, with the token from the environment", () => {
    const dashboard = services.dashboard!;
    expect(dashboard.ports).toEqual(["127.0.0.1:8080:8080"]);
    expect(dashboard.environment).toMatchObject({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own interpolation, from the environment
      XENFLEET_DASHBOARD_TOKEN: "${XENFLEET_DASHBOARD_TOKEN:-}",
      XENFLEET_DASHBOARD_PORT: "8080",
    });
  });

  it("points every command at an entry point of the build", () => {
    for (const name of fleet) {
      // node [--flags] <script> [args]: the script is the first word after node's flags.
      const script = services[name]!.entrypoint!.slice(1).find((w) => !w.startsWith("--")) ?? "";
      expect(script).toMatch(/dist\/main\.js$/);
      expect(existsSync(join(ROOT, script.replace(/dist\/main\.js$/, "src/main.ts")))).toBe(true);
    }
  });

  it("pins every image to a version", () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image === undefined || s.build !== undefined) continue;
      expect([name, s.image]).toEqual([
        name,
        expect.stringMatching(/^[\w./-]+:(v?\d+\.\d+\.\d+[\w.-]*|RELEASE\.[\w.-]+)$/),
      ]);
    }
  });

  it("checks the health of every long-running service, the fleet's through each service's /healthz", () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === "minio-init" || name === "cli") continue;
      expect([name, s.healthcheck?.test?.[0]]).toEqual([name, "CMD"]);
    }
    // Each host container runs three workers, one metrics port each.
    for (const host of ["host-1", "host-2", "host-3"])
      expect(services[host]!.healthcheck!.test).toEqual([
        "CMD",
        "node",
        "deploy/healthcheck.mjs",
        "9464",
        "9465",
        "9466",
      ]);
    for (const name of ["controller", "compress", "dashboard"])
      expect(services[name]!.healthcheck!.test).toEqual(["CMD", "node", "deploy/healthcheck.mjs", "9464"]);
    expect(existsSync(join(ROOT, "deploy", "healthcheck.mjs"))).toBe(true);
    expect(services.cli!.healthcheck).toEqual({ disable: true });
    // The workers log to the container's stdout.
    for (const host of ["host-1", "host-2", "host-3"]) {
      const args = services[host]!.entrypoint!;
      expect(args[args.indexOf("--log-dir") + 1]).toBe("-");
    }
  });

  describe.skipIf(!existsSync(PROMTOOL))("Prometheus", () => {
    const dir = join(ROOT, "deploy", "prometheus");
    const promtool = (...args: string[]) => {
      const run = spawnSync(PROMTOOL, args, { cwd: dir, encoding: "utf8" });
      return { code: run.status, output: run.stdout + run.stderr };
    };

    it("runs with the repository's configuration and scrapes every xenfleet service on its metrics ports", () => {
      expect(services.prometheus!.volumes).toContain("./deploy/prometheus:/etc/prometheus:ro");
      const check = promtool("check", "config", "prometheus.yml");
      expect(check.code, check.output).toBe(0);
      const config = parse(readFileSync(join(dir, "prometheus.yml"), "utf8")) as {
        scrape_configs: Array<{
          static_configs?: Array<{ targets: string[] }>;
          dns_sd_configs?: Array<{ names: string[]; port: number }>;
        }>;
      };
      const targets = config.scrape_configs.flatMap((c) => [
        ...(c.static_configs ?? []).flatMap((s) => s.targets),
        ...(c.dns_sd_configs ?? []).flatMap((d) => d.names.map((n) => `${n}:${d.port}`)),
      ]);
      const port = Number(services.controller!.environment!.XENFLEET_METRICS_PORT);
      const expected = [
        `controller:${port}`,
        `compress:${port}`,
        `dashboard:${port}`,
        ...["host-1", "host-2", "host-3"].flatMap((h) => [0, 1, 2].map((i) => `${h}:${port + i}`)),
      ];
      expect(targets).toEqual(expect.arrayContaining(expected));
    });

    it("alerts on a domain without a good image for 36 hours", () => {
      const rules = promtool("check", "rules", "alerts.yml");
      expect(rules.code, rules.output).toBe(0);
      expect(readFileSync(join(dir, "alerts.yml"), "utf8")).toContain(
        "time() - xenfleet_domain_last_good_image_timestamp_seconds > 36 * 3600",
      );
      // The rule's own unit test: fires at 37 h without a good image, not at 35 h, and not for a domain saved nightly.
      const tested = promtool("test", "rules", "alerts.test.yml");
      expect(tested.code, tested.output).toBe(0);
    });
  });
});
