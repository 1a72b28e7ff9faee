/**
 * Regression: a handler that adds children to its own job and moves it to
 * waiting-children throws BullMQ's WaitingChildrenError; the harness counted
 * and logged that as a failed attempt ("job failed, will retry").
 */
import { WaitingChildrenError } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchSaveReport,
  CONTROLLER_QUEUE,
  createMetrics,
  hostQueue,
  JOB_SPECS,
  jobData,
  runWorker,
  saveChildJobId,
  type WorkerHandle,
} from "../src/index.js";
import {
  captureLogger,
  deletePrefix,
  queue,
  redis,
  saveResult,
  savePayload,
  silentLogger,
  testPrefix,
  until,
} from "./helpers.js";

describe("a parent job waiting for its children", () => {
  const prefix = testPrefix();
  const conn = redis();
  const handles: WorkerHandle[] = [];

  afterEach(async () => {
    await Promise.all(handles.map((h) => h.stop()));
    await deletePrefix(conn, prefix);
    await conn.quit();
  });

  it("is counted as waiting_children, not as a failed attempt, and completes once they are done", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const { logger, lines } = captureLogger();
    const saves = queue(hostQueue("save", "h1"), prefix, conn);
    let runs = 0;
    handles.push(
      runWorker({
        queue: hostQueue("save", "h1"),
        connection: conn,
        prefix,
        logger: silentLogger,
        handlers: { save: async () => saveResult },
      }),
      runWorker({
        queue: CONTROLLER_QUEUE,
        connection: conn,
        prefix,
        logger,
        metrics,
        handlers: {
          "batch-save": async (payload, { job }) => {
            runs++;
            if (runs === 1) {
              const child = savePayload("h1", { batchId: payload.batchId });
              await saves.add("save", child, {
                jobId: saveChildJobId(payload.batchId, "h1", child.domain.uuid),
                parent: { id: job.id ?? "", queue: job.queueQualifiedName },
              });
              if (await job.moveToWaitingChildren(job.token ?? "")) throw new WaitingChildrenError();
            }
            return batchSaveReport(job, payload);
          },
        },
      }),
    );
    const controller = queue(CONTROLLER_QUEUE, prefix, conn);
    try {
      const parent = await controller.add(
        "batch-save",
        jobData("batch-save", { batchId: "b1", store: "main", mode: "checkpoint", labels: [], total: 1 }),
        JOB_SPECS["batch-save"].options,
      );
      await until("the parent to complete", async () => ((await parent.getState()) === "completed" ? true : undefined));
      expect(runs).toBe(2);
      const done = await controller.getJob(parent.id ?? "");
      expect(done?.attemptsMade).toBe(1);
      expect(done?.returnvalue).toMatchObject({ succeeded: 1, failed: 0 });
      const text = await metrics.registry.metrics();
      expect(text).toContain('xenfleet_jobs_total{queue="controller",type="batch-save",state="waiting_children"} 1');
      expect(text).toContain('xenfleet_jobs_total{queue="controller",type="batch-save",state="completed"} 1');
      expect(text).not.toMatch(/type="batch-save",state="(failed|retrying)"/);
      expect(lines()).not.toMatch(/job failed/);
    } finally {
      await Promise.all([controller.close(), saves.close()]);
    }
  });
});
