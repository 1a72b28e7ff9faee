/**
 * docker-compose.yml cannot be run here (no Docker), so its shape is checked:
 * it parses, every service the fleet needs is there and wired to Redis and
 * MinIO, the bucket is created before the fleet starts, compress scales, and
 * every command points at a file the build produces.
 */
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
}

const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const fleet = ["controller", "host-1", "host-2", "host-3", "compress", "dashboard"];

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
});
