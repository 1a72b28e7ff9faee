import { FlowProducer } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { XenfleetError } from "@xenfleet/core";
import {
  batchSaveFlow,
  batchSaveReport,
  bullPrefix,
  CONTROLLER_QUEUE,
  hostQueue,
  keys,
  runWorker,
  type WorkerHandle,
  scanKeys,
} from "../src/index.js";
import {
  deletePrefix,
  IMAGE,
  queue,
  redis,
  silentLogger,
  testPrefix,
  until,
  UUID_A,
  UUID_B,
  UUID_C,
} from "./helpers.js";

class DomainGone extends XenfleetError {
  readonly code = "XF_TEST_DOMAIN_GONE";
}

describe("batch-save flow", () => {
  const prefix = testPrefix();
  const conn = redis();
  const producer = redis("producer");
  const handles: WorkerHandle[] = [];

  afterEach(async () => {
    await Promise.all(handles.map((h) => h.stop()));
    await deletePrefix(conn, prefix);
    await Promise.all([conn.quit(), producer.quit()]);
  });

  it("runs end to end: children on each host's queue, then the parent's report", async () => {
    // Regression: child ids were batch + uuid, so a uuid that two hosts
    // report (here UUID_B, a clone on h1) gave their two saves one id.
    const saved: string[] = [];
    for (const host of ["h1", "h2"]) {
      handles.push(
        runWorker({
          queue: hostQueue("save", host),
          connection: conn,
          prefix,
          logger: silentLogger,
          handlers: {
            save: async (p) => {
              if (p.host !== host) throw new Error(`job for ${p.host} on ${host}'s queue`);
              if (p.domain.name === "gone") throw new DomainGone(`domain ${p.domain.uuid} no longer exists`);
              saved.push(`${host}/${p.domain.name}/${p.batchId}`);
              return { imageId: IMAGE, bytesTotal: 100, bytesNew: 10, pausedMs: 0, seconds: 0.1 };
            },
          },
        }),
      );
    }
    handles.push(
      runWorker({
        queue: CONTROLLER_QUEUE,
        connection: conn,
        prefix,
        logger: silentLogger,
        handlers: { "batch-save": (payload, ctx) => batchSaveReport(ctx.job, payload) },
      }),
    );

    const flows = new FlowProducer({ connection: producer, prefix: bullPrefix(prefix) });
    const flow = batchSaveFlow({
      prefix,
      batchId: "nightly-1",
      store: "main",
      mode: "checkpoint",
      labels: ["nightly"],
      compress: false,
      hosts: ["h1", "h2"],
      targets: [
        { host: "h1", domain: { uuid: UUID_A, name: "web-1" } },
        { host: "h1", domain: { uuid: UUID_B, name: "db-1-clone" } },
        { host: "h2", domain: { uuid: UUID_B, name: "db-1" } },
        { host: "h2", domain: { uuid: UUID_C, name: "gone" } },
      ],
    });
    try {
      const tree = await flows.add(flow);
      const childIds = (tree.children ?? []).map((c) => c.job.id);
      expect(new Set(childIds).size).toBe(4);
      // A controller retried after a crash adds the same batch again: nothing runs twice.
      await flows.add(flow);
      const parent = tree.job;
      const done = await until("batch parent to complete", async () => {
        return (await parent.getState()) === "completed" ? true : undefined;
      });
      expect(done).toBe(true);
      const controller = queue(CONTROLLER_QUEUE, prefix, conn);
      const finished = await controller.getJob(parent.id ?? "");
      await controller.close();
      expect(finished?.data).toMatchObject({ v: 3, hosts: ["h1", "h2"], total: 4 });
      expect(finished?.returnvalue).toEqual({
        v: 1,
        batchId: "nightly-1",
        total: 4,
        succeeded: 3,
        failed: 1,
        bytesNew: 30,
        outcomes: [
          { host: "h1", domain: UUID_A, imageId: IMAGE },
          { host: "h1", domain: UUID_B, imageId: IMAGE },
          { host: "h2", domain: UUID_C, error: `[XF_TEST_DOMAIN_GONE] domain ${UUID_C} no longer exists` },
          { host: "h2", domain: UUID_B, imageId: IMAGE },
        ],
      });
      expect(saved.sort()).toEqual(["h1/db-1-clone/nightly-1", "h1/web-1/nightly-1", "h2/db-1/nightly-1"]);

      // Every key the flow created sits under the prefix's hash tag.
      const found: string[] = [];
      for await (const batch of scanKeys(conn, `*${prefix}*`)) found.push(...batch);
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((k) => k.startsWith(`${bullPrefix(prefix)}:`))).toBe(true);
      expect(keys.all(prefix)).toBe(`${bullPrefix(prefix)}:*`);
    } finally {
      await flows.close();
    }
  });
});
