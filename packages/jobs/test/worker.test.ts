import type { Queue } from "bullmq";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { XenfleetError } from "@xenfleet/core";
import {
  createMetrics,
  hostQueue,
  runWorker,
  type RunWorkerOptions,
  type WorkerHandle,
  type RedisClient,
} from "../src/index.js";
import {
  deferred,
  deletePrefix,
  FAST_RETRY,
  queue,
  redis,
  saveResult,
  savePayload,
  silentLogger,
  testPrefix,
  until,
  UUID_B,
} from "./helpers.js";

class StoreUnavailable extends XenfleetError {
  readonly code = "XF_TEST_STORE_UNAVAILABLE";
  override readonly unrecoverable = false;
}

class ImageCorrupt extends XenfleetError {
  readonly code = "XF_TEST_IMAGE_CORRUPT";
}

describe("worker harness", () => {
  let prefix: string;
  let conn: RedisClient;
  let q: Queue;
  const name = hostQueue("save", "h1");
  const handles: WorkerHandle[] = [];

  const start = (opts: Partial<RunWorkerOptions>): WorkerHandle => {
    const handle = runWorker({ queue: name, connection: conn, prefix, handlers: {}, logger: silentLogger, ...opts });
    handles.push(handle);
    return handle;
  };
  const state = async (id: string | undefined) => (await q.getJob(id ?? ""))?.getState();
  const waitFor = (id: string | undefined, want: string) =>
    until(`job ${id} ${want}`, async () => ((await state(id)) === want ? true : undefined));

  beforeEach(() => {
    prefix = testPrefix();
    conn = redis();
    q = queue(name, prefix, conn);
  });

  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await q.close();
    await deletePrefix(conn, prefix);
    await conn.quit();
  });

  it("fails a malformed job once with a clear reason and keeps serving", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const seen: string[] = [];
    start({
      metrics,
      handlers: {
        save: async (p) => {
          seen.push(p.domain.name);
          return saveResult;
        },
      },
    });
    const opts = { attempts: 5 };
    const bad = await q.add("save", { ...savePayload("h1"), domain: { uuid: "not-a-uuid", name: "x" } }, opts);
    const future = await q.add("save", { ...savePayload("h1"), v: 7, hibernate: true }, opts);
    const wrongType = await q.add("gc", { v: 2, store: "main", graceSeconds: 3600, dryRun: true }, opts);
    const good = await q.add("save", savePayload("h1", { domain: { uuid: UUID_B, name: "db-1" } }), opts);

    await waitFor(good.id, "completed");
    for (const job of [bad, future, wrongType]) await waitFor(job.id, "failed");

    const badJob = await q.getJob(bad.id ?? "");
    expect(badJob?.failedReason).toMatch(/invalid save job \(v2\).*domain\.uuid/);
    expect(badJob?.attemptsMade).toBe(1); // five allowed, one used: not retried
    const futureJob = await q.getJob(future.id ?? "");
    expect(futureJob?.failedReason).toMatch(/invalid save job \(v7\).*newer than this worker understands/);
    expect(futureJob?.attemptsMade).toBe(1);
    expect((await q.getJob(wrongType.id ?? ""))?.failedReason).toMatch(/does not take gc jobs/);
    expect(seen).toEqual(["db-1"]);
    expect((await q.getJob(good.id ?? ""))?.returnvalue).toEqual({ v: 2, ...saveResult });
    expect(await metrics.registry.metrics()).toMatch(
      /xenfleet_jobs_total\{queue="save@h1",type="save",state="invalid"\} 2/,
    );
    expect(await metrics.registry.metrics()).toContain('xenfleet_bytes_new_total{host="h1"} 50');
  });

  it("retries transient errors and gives up at once on unrecoverable ones", async () => {
    let calls = 0;
    start({
      handlers: {
        save: async (p) => {
          if (p.domain.name === "corrupt") throw new ImageCorrupt("manifest checksum mismatch");
          calls++;
          if (calls < 3) throw calls === 1 ? new Error("ECONNRESET") : new StoreUnavailable("503 from store");
          return saveResult;
        },
      },
    });
    const flaky = await q.add("save", savePayload("h1"), FAST_RETRY);
    await waitFor(flaky.id, "completed");
    // Two failed attempts, then the one that completed.
    expect((await q.getJob(flaky.id ?? ""))?.attemptsMade).toBe(3);
    expect(calls).toBe(3);

    const corrupt = await q.add("save", savePayload("h1", { domain: { uuid: UUID_B, name: "corrupt" } }), FAST_RETRY);
    await waitFor(corrupt.id, "failed");
    const job = await q.getJob(corrupt.id ?? "");
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toBe("[XF_TEST_IMAGE_CORRUPT] manifest checksum mismatch");
  });

  it("refuses a result that does not match the result schema", async () => {
    start({ handlers: { save: async () => ({ ...saveResult, imageId: "not-hex" }) } });
    const job = await q.add("save", savePayload("h1"), FAST_RETRY);
    await waitFor(job.id, "failed");
    expect((await q.getJob(job.id ?? ""))?.failedReason).toMatch(/save.*result.*imageId/);
  });

  it("on shutdown, takes no new job and finishes the one in hand", async () => {
    const started = deferred();
    const release = deferred();
    let signalAborted: boolean | undefined;
    const shutdown = new AbortController();
    const handle = start({
      signal: shutdown.signal,
      graceMs: 30_000,
      handlers: {
        save: async (_p, ctx) => {
          started.resolve();
          await release.promise;
          signalAborted = ctx.signal.aborted;
          return saveResult;
        },
      },
    });
    const first = await q.add("save", savePayload("h1"));
    await started.promise;
    shutdown.abort();
    const second = await q.add("save", savePayload("h1", { domain: { uuid: UUID_B, name: "db-1" } }));
    release.resolve();

    expect(await handle.stopped).toBe("finished");
    expect(await state(first.id)).toBe("completed");
    expect(await state(second.id)).toBe("waiting");
    expect(signalAborted).toBe(false);
  });

  it("after the grace period, aborts the job in hand and hands it back unspent", async () => {
    const started = deferred();
    const handle = start({
      graceMs: 100,
      handlers: {
        save: (_p, ctx) => {
          started.resolve();
          return new Promise((_resolve, reject) => {
            ctx.signal.addEventListener("abort", () => reject(new Error("aborted by shutdown")));
          });
        },
      },
    });
    const job = await q.add("save", savePayload("h1"), FAST_RETRY);
    await started.promise;

    expect(await handle.stop()).toBe("handed-back");
    expect(await state(job.id)).toBe("waiting");
    expect((await q.getJob(job.id ?? ""))?.attemptsMade).toBe(0);

    // The next worker picks it up as if nothing happened.
    start({ handlers: { save: async () => saveResult } });
    await waitFor(job.id, "completed");
  });

  it("reports a job whose handler ignores the abort as abandoned; it stays owned until the process ends", async () => {
    const started = deferred();
    const release = deferred();
    const handle = start({
      graceMs: 50,
      handBackMs: 50,
      handlers: {
        save: async () => {
          started.resolve();
          await release.promise;
          return saveResult;
        },
      },
    });
    const job = await q.add("save", savePayload("h1"));
    await started.promise;
    expect(await handle.stop()).toBe("abandoned");
    expect(await state(job.id)).toBe("active");
    // Here a service exits and the lock lapses; this test lets the handler finish instead.
    release.resolve();
    await handle.worker.close();
    expect(await state(job.id)).toBe("completed");
  });
});
