/**
 * Credentials come only from env or config, and never reach a log line:
 * a store opened from env with a secret key, failing against a real S3
 * endpoint, logged the way services log (pino through createLogger, with
 * errors, retry events and even the store object itself), never prints the
 * secret; a store URL carrying credentials is refused without echoing them.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Queue } from "bullmq";
import { bullPrefix, COMPRESS_QUEUE, createLogger, createRedis, JOB_SPECS, jobData } from "@xenfleet/jobs";
import { openStore, parseStoreUrl, RetryStore, type RetryEvent } from "@xenfleet/store";
import { S3Store } from "@xenfleet/store/s3";
import { startTestS3Server, type TestS3Server } from "@xenfleet/store/testing";
import { checkJobsSettled } from "./invariants.js";
import { SHARED_REDIS, ServiceProc, chaosPrefix, deletePrefix, tempDir, waitFor } from "./procs.js";

let server: TestS3Server;
beforeAll(async () => {
  server = await startTestS3Server();
});
afterAll(async () => {
  await server?.close();
});

function capture() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    logger: createLogger({ service: "security-test", level: "trace", destination }),
    text: () => chunks.join(""),
  };
}

describe("object store credentials never reach the logs", () => {
  it("errors, retries and the store object, logged as services log them, do not contain the secret", async () => {
    const bucket = await server.createBucket();
    const secret = `SECRET${randomBytes(16).toString("hex")}`;
    const session = `SESSION${randomBytes(16).toString("hex")}`;
    const { url } = server.url(bucket);
    const env = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: session };
    const { logger, text } = capture();
    const retries: RetryEvent[] = [];
    // One store on the bucket, one on a bucket that does not exist: successes and refusals both get logged.
    const missing = url.replace(bucket, `missing-${randomBytes(4).toString("hex")}`);
    let failures = 0;
    for (const storeUrl of [url, missing]) {
      // Opening reads the store's header, so the missing bucket is refused there.
      const opened = await openStore(storeUrl, env, {
        retry: { retries: 1, baseDelayMs: 1, onRetry: (e) => retries.push(e) },
      }).then(
        (store) => ({ store }),
        (error: unknown) => ({ error }),
      );
      if ("error" in opened) {
        failures++;
        logger.error({ err: opened.error }, "store open failed");
        logger.warn({ err: { cause: (opened.error as Error).cause } }, "cause");
        continue;
      }
      const { store } = opened;
      logger.info({ store, location: store.location, config: parseStoreUrl(storeUrl, env) }, "store opened");
      for (const call of [
        () => store.put("data/x", Buffer.from("x")),
        () => store.get("data/x"),
        () => store.get("data/none"),
        () => store.getRef("r"),
      ]) {
        const outcome = await call().then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        if ("error" in outcome) {
          failures++;
          logger.error({ err: outcome.error }, "store call failed");
          logger.warn({ err: { cause: (outcome.error as Error).cause } }, "cause");
        } else logger.debug({ result: outcome.value }, "store call done");
      }
      expect(store.location).not.toContain(secret);
      await store.close();
    }
    for (const event of retries) logger.warn(event, "retrying");
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(text()).toContain("store call failed");
    expect(text()).toContain("store open failed");
    expect(text()).not.toContain(secret);
    expect(text()).not.toContain(session);
  });

  it("an S3Store logged whole does not print its credentials", () => {
    const secret = `SECRET${randomBytes(16).toString("hex")}`;
    const { logger, text } = capture();
    const store = new S3Store({
      bucket: "b",
      endpoint: server.endpoint,
      credentials: { accessKeyId: "AK", secretAccessKey: secret },
    });
    logger.info({ store, wrapped: new RetryStore(store) }, "s3 store");
    expect(text()).toContain("s3 store");
    expect(text()).not.toContain(secret);
  });

  it("a store URL with credentials in it is refused without repeating them", () => {
    const secret = `SECRET${randomBytes(16).toString("hex")}`;
    const error = (() => {
      try {
        parseStoreUrl(`s3://AKIA:${secret}@bucket/prefix`, {});
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).not.toContain(secret);
  });
});

describe("a service's own log never holds the secrets it was configured with", () => {
  it("a compress worker with S3 credentials (a default and a store's own) and a Redis password in its environment, failing jobs at debug level", async () => {
    const secret = `SECRET${randomBytes(16).toString("hex")}`;
    const coldSecret = `COLDSECRET${randomBytes(16).toString("hex")}`;
    const redisPassword = `REDISPW${randomBytes(8).toString("hex")}`;
    const prefix = chaosPrefix();
    const dir = tempDir();
    const bucket = await server.createBucket();
    const { url } = server.url(bucket);
    const { url: coldUrl } = server.url(await server.createBucket());
    const conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
    const redisUrl = new URL(SHARED_REDIS);
    // The shared Redis has no password: the worker's AUTH is refused, and that error (which carries the password) is logged.
    redisUrl.password = redisPassword;
    const worker = new ServiceProc(
      "compress-secret",
      "compress-worker",
      {
        XENFLEET_REDIS: redisUrl.href,
        XENFLEET_PREFIX: prefix,
        XENFLEET_STORES: `main=${url},cold=${coldUrl}`,
        XENFLEET_LOG_LEVEL: "debug",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: secret,
        XENFLEET_STORE_COLD_ACCESS_KEY_ID: "S3RVER",
        XENFLEET_STORE_COLD_SECRET_ACCESS_KEY: coldSecret,
      },
      dir,
    );
    const queue = new Queue(COMPRESS_QUEUE, { connection: conn, prefix: bullPrefix(prefix) });
    try {
      worker.start();
      // A job for an image that is not there: the store is opened and the failure logged.
      const jobs = [];
      for (const store of ["main", "cold"])
        jobs.push(
          await queue.add(
            "compress",
            jobData("compress", { store, image: "b".repeat(64), algorithm: "zstd", level: 3 }),
            { ...JOB_SPECS.compress.options, attempts: 1 },
          ),
        );
      const ids = jobs.map((job) => ({ queue: COMPRESS_QUEUE, id: job.id! }));
      await waitFor(
        async () =>
          (await checkJobsSettled(conn, prefix, ids)).violations.length === 0 ||
          worker.output().includes("WRONGPASS") ||
          worker.output().includes("AUTH"),
        30_000,
      );
      await worker.stop();
      const log = worker.output();
      // The worker ran the job and logged its failure: the paths that could leak were taken.
      expect(log).toContain("ImageNotFoundError");
      expect(log).not.toContain(secret);
      expect(log).not.toContain(coldSecret);
      expect(log).not.toContain(redisPassword);
    } finally {
      await worker.stop();
      await queue.close();
      await deletePrefix(conn, prefix);
      await conn.quit();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
