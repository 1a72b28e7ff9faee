/**
 * Every service of a running embedded fleet (`xenfleet up --detach`), its
 * dashboard included, serves its metrics on a port of its own, registered where `up` and `status` find
 * it. After a batch save (compressed), a live migration and a verify run,
 * each scrape passes `promtool check metrics` and holds the metrics an
 * operator alerts on, moved by that real work: saves' paused time on the
 * save workers, migrations' downtime, duration and bytes on the source's
 * migrate worker, compress and verify bytes on the compress worker, and
 * the fleet's gauges on the controller. Every metric the Grafana dashboard
 * in deploy/ queries is among them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisClient } from "@xenfleet/jobs";
import { cli, deletePrefix, fileUrl, redis, REDIS_URL, ROOT, tempDir, testPrefix } from "./helpers.js";

const PROMTOOL = "/usr/bin/promtool";

interface Registered {
  service: string;
  host?: string;
  metricsUrl: string | null;
}

const nameOf = (s: Registered) => (s.host === undefined ? s.service : `${s.service}@${s.host}`);

/** The value of the first sample of `metric` whose labels include every one of `labels`. */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(" ").pop());
  }
  return undefined;
}

/** Metric families a scrape declares (# TYPE lines). */
function families(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

describe.skipIf(!existsSync(PROMTOOL))("metrics of every service of an embedded fleet", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  const env = { XENFLEET_STORE: storeUrl, XENFLEET_DASHBOARD_TOKEN: "e2e-metrics-token-0123456789" };
  const fleet = ["--redis", REDIS_URL, "--prefix", prefix];
  let conn: RedisClient;
  let services: Registered[] = [];
  const scrapes = new Map<string, string>();

  beforeAll(async () => {
    conn = redis();
    const up = await cli(
      [
        "up",
        ...fleet,
        "--store",
        storeUrl,
        "--detach",
        "--json",
        "--dashboard-port",
        "0",
        "--hosts",
        "2",
        "--domains",
        "2",
        "--memory",
        "8M",
        "--dirty-rate",
        "20",
        "--state-dir",
        dir,
      ],
      env,
    );
    expect(up.code, up.stderr + up.stdout).toBe(0);
    services = (JSON.parse(up.stdout) as { services: Registered[] }).services;

    const batch = await cli(["batch-save", ...fleet, "--wait", "--json"], env);
    expect(batch.code, batch.stderr + batch.stdout).toBe(0);
    const moved = await cli(["migrate", "host-1-vm-1", "--to", "host-2", ...fleet, "--wait", "--json"], env);
    expect(moved.code, moved.stderr + moved.stdout).toBe(0);
    // Verification runs on the compress workers, after the batch's compress jobs.
    const verified = await cli(["verify-all", ...fleet, "--wait", "--json"], env);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    for (const s of services) scrapes.set(nameOf(s), await (await fetch(s.metricsUrl ?? "")).text());
  }, 600_000);

  afterAll(async () => {
    if (existsSync(join(dir, `up-${prefix}.pid`))) await cli(["down", "--prefix", prefix, "--state-dir", dir], env);
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers every service with a metrics URL on 127.0.0.1, as up prints and status lists them", async () => {
    expect(services.map(nameOf).sort()).toEqual([
      "compress-worker",
      "controller",
      // Served by the up process itself, beside the fleet.
      "dashboard",
      "migrate-worker@host-1",
      "migrate-worker@host-2",
      "restore-worker@host-1",
      "restore-worker@host-2",
      "save-worker@host-1",
      "save-worker@host-2",
    ]);
    for (const s of services) expect(s.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new Set(services.map((s) => s.metricsUrl)).size).toBe(services.length);
    const status = await cli(["status", ...fleet, "--json"], env);
    const listed = (JSON.parse(status.stdout) as { services: Registered[] }).services;
    expect(listed.map((s) => [nameOf(s), s.metricsUrl]).sort()).toEqual(
      services.map((s) => [nameOf(s), s.metricsUrl]).sort(),
    );
    for (const s of services) {
      const health = await fetch((s.metricsUrl ?? "").replace(/metrics$/, "healthz"));
      expect([nameOf(s), health.status, await health.json()]).toEqual([nameOf(s), 200, { ok: true }]);
    }
  });

  it("passes promtool check metrics on every service, with Node's process metrics under their standard names", () => {
    expect(scrapes.size).toBe(9);
    for (const [name, text] of scrapes) {
      const check = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
      // promtool objects only to prom-client's gauges named *_total, which keep their standard names.
      const problems = `${check.stdout}${check.stderr}`
        .split("\n")
        .filter((l) => l.trim() !== "")
        .filter((l) => !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l));
      expect([name, problems]).toEqual([name, []]);
      expect(sample(text, "process_cpu_user_seconds_total"), name).toBeGreaterThan(0);
      expect(families(text).has("nodejs_eventloop_lag_seconds"), name).toBe(true);
      expect(families(text).has("xenfleet_jobs_total"), name).toBe(true);
    }
  });

  it("counts what the jobs did where they ran", () => {
    const save = scrapes.get("save-worker@host-1") ?? "";
    expect(sample(save, "xenfleet_save_paused_seconds_count", { host: "host-1" })).toBeGreaterThanOrEqual(2);
    expect(sample(save, "xenfleet_bytes_saved_total", { host: "host-1" })).toBeGreaterThan(2 * 8 * 2 ** 20);

    const source = scrapes.get("migrate-worker@host-1") ?? "";
    const live = { host: "host-1", mode: "live" };
    expect(sample(source, "xenfleet_migration_downtime_seconds_count", live)).toBe(1);
    expect(sample(source, "xenfleet_migration_downtime_seconds_sum", live)).toBeGreaterThan(0);
    expect(sample(source, "xenfleet_migration_duration_seconds_count", live)).toBe(1);
    expect(sample(source, "xenfleet_migration_sent_bytes_sum", live)).toBeGreaterThan(0);
    // The target received; only the source observes a migration.
    expect(sample(scrapes.get("migrate-worker@host-2") ?? "", "xenfleet_migration_duration_seconds_count")).toBe(
      undefined,
    );

    const compress = scrapes.get("compress-worker") ?? "";
    expect(sample(compress, "xenfleet_compress_read_bytes_total")).toBeGreaterThan(0);
    expect(sample(compress, "xenfleet_compress_written_bytes_total")).toBeGreaterThan(0);
    expect(sample(compress, "xenfleet_verify_read_bytes_total")).toBeGreaterThan(0);
  });

  it("shows the fleet's state on the controller", () => {
    const controller = scrapes.get("controller") ?? "";
    expect(sample(controller, "xenfleet_hosts", { state: "up" })).toBe(2);
    expect(sample(controller, "xenfleet_queue_waiting_jobs", { queue: "compress" })).toBeGreaterThanOrEqual(0);
    expect(families(controller).has("xenfleet_queue_oldest_waiting_job_age_seconds")).toBe(true);
    const good = sample(controller, "xenfleet_domain_last_good_image_timestamp_seconds", { domain: "host-2-vm-2" });
    expect(good).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(sample(controller, "xenfleet_store_size_bytes", { store: "main" })).toBeGreaterThan(0);
    expect(sample(controller, "xenfleet_store_dedup_ratio", { store: "main" })).toBeGreaterThan(0);
    expect(sample(controller, "xenfleet_images_unverified", { store: "main" })).toBe(0);
    expect(sample(controller, "xenfleet_images_broken", { store: "main" })).toBe(0);
  });

  it("serves every metric the Grafana dashboard queries", () => {
    const dashboard = readFileSync(join(ROOT, "deploy", "grafana", "xenfleet.json"), "utf8");
    const exprs = [...dashboard.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    expect(exprs.length).toBeGreaterThan(5);
    const served = new Set([...scrapes.values()].flatMap((t) => [...families(t)]));
    const named = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b((?:xenfleet|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!)),
    );
    const missing = [...named].filter((n) => !served.has(n.replace(/_(bucket|count|sum)$/, "")) && !served.has(n));
    expect(missing).toEqual([]);
  });
});
