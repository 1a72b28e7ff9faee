import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics, serveMetrics, type MetricsServer } from "../src/index.js";
import { captureLogger } from "./helpers.js";

describe("logger", () => {
  it("redacts secrets at the top level and nested", () => {
    const { logger, lines } = captureLogger();
    logger.info(
      { password: "pw-top", redis: { password: "pw-nested" }, s3: { creds: { secretAccessKey: "sk" } } },
      "x",
    );
    logger.info({ migration: { token: "tok-123" } }, "y");
    const out = lines();
    for (const secret of ["pw-top", "pw-nested", '"sk"', "tok-123"]) expect(out).not.toContain(secret);
    expect(out).toContain("[redacted]");
    expect(JSON.parse(out.split("\n")[0] ?? "").service).toBe("test");
  });
});

describe("metrics server", () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("names Node's process metrics as stock dashboards expect, without a prefix", async () => {
    const metrics = createMetrics({ labels: { service: "test" } });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="test"\} /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{service="test"\} /m);
    expect(text).not.toContain("xenfleet_process_");
    // Prometheus's own linter: names, units, help and types. It objects only to
    // prom-client's gauges named *_total, which keep their standard names.
    metrics.jobs.inc({ queue: "save@h1", type: "save", state: "completed" });
    metrics.jobSeconds.observe({ queue: "save@h1", type: "save", state: "completed" }, 2);
    const check = spawnSync("/usr/bin/promtool", ["check", "metrics"], {
      input: await metrics.registry.metrics(),
      encoding: "utf8",
    });
    const problems = `${check.stdout}${check.stderr}`.split("\n").filter((l) => l.trim() !== "");
    expect(
      problems.filter((l) => !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l)),
    ).toEqual([]);
  });

  it("serves /metrics with the standard metrics and /healthz", async () => {
    const metrics = createMetrics({ labels: { service: "test" }, processMetrics: false });
    metrics.jobs.inc({ queue: "save@h1", type: "save", state: "completed" });
    metrics.bytesNew.inc({ host: "h1" }, 4096);
    metrics.jobSeconds.observe({ queue: "save@h1", type: "save", state: "completed" }, 2);
    let healthy = true;
    server = await serveMetrics({
      registry: metrics.registry,
      port: 0,
      host: "127.0.0.1",
      health: () => (healthy ? { ok: true } : { ok: false, reason: "the store is gone" }),
    });
    const base = `http://127.0.0.1:${server.port}`;

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('xenfleet_jobs_total{queue="save@h1",type="save",state="completed",service="test"} 1');
    expect(text).toContain('xenfleet_bytes_new_total{host="h1",service="test"} 4096');
    expect(text).toContain("xenfleet_job_duration_seconds_bucket");
    expect(text).toContain("xenfleet_bytes_saved_total");
    expect(text).toContain("xenfleet_bytes_restored_total");

    const ok = await fetch(`${base}/healthz`);
    expect([ok.status, await ok.json()]).toEqual([200, { ok: true }]);
    healthy = false;
    const down = await fetch(`${base}/healthz`);
    expect([down.status, await down.json()]).toEqual([503, { ok: false, reason: "the store is gone" }]);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it("keeps the registries of two workers in one process apart", async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.jobs.inc({ queue: "q", type: "save", state: "failed" });
    expect(await a.registry.metrics()).toContain('state="failed"');
    expect(await b.registry.metrics()).not.toContain('state="failed"');
  });
});
