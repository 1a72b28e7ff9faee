/**
 * The S3 backend behind a fault-injecting proxy, wrapped in RetryStore as
 * openStore wraps it: every call either returns the right bytes or fails
 * with a typed store error; nothing half-written becomes visible; corrupt
 * bytes never pass the content checks.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CorruptObjectError,
  ObjectNotFoundError,
  PackReader,
  PackWriter,
  RetryStore,
  StoreRequestError,
  StoreUnavailableError,
  getContent,
  parseContentId,
  putContent,
  writePack,
  type ObjectStore,
} from "@xenfleet/store";
import { S3Store } from "@xenfleet/store/s3";
import { XenfleetError } from "@xenfleet/core";
import {
  randomFaults,
  startFaultProxy,
  startTestS3Server,
  type FaultProxy,
  type ProxyFault,
  type TestS3Server,
} from "@xenfleet/store/testing";

let server: TestS3Server;
let proxy: FaultProxy;
beforeAll(async () => {
  server = await startTestS3Server();
  proxy = await startFaultProxy(server.endpoint);
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A store as the fleet opens one (retries on top of the SDK's own), talking through the proxy. */
async function faultyS3(
  options: { sdkAttempts?: number; retries?: number } = {},
): Promise<{ store: ObjectStore; direct: ObjectStore }> {
  const bucket = await server.createBucket();
  const s3 = new S3Store(
    server.config(bucket, { endpoint: proxy.endpoint, maxAttempts: options.sdkAttempts ?? 1, requestTimeoutMs: 400 }),
  );
  const store = new RetryStore(s3, { retries: options.retries ?? 8, baseDelayMs: 5, maxDelayMs: 50 });
  return { store, direct: new S3Store(server.config(bucket)) };
}

/** Typed store errors are the only failures allowed. */
function expectTyped(error: unknown): void {
  expect(error).toBeInstanceOf(XenfleetError);
  expect(
    error instanceof StoreUnavailableError || error instanceof StoreRequestError || error instanceof CorruptObjectError,
  ).toBe(true);
}

const EVERY_FAULT: readonly ProxyFault[] = [
  { kind: "status", status: 500 },
  { kind: "status", status: 503 },
  { kind: "reset" },
  { kind: "cut-upload" },
  { kind: "reset-after" },
  { kind: "truncate" },
  { kind: "stall" },
  { kind: "slow", delayMs: 700 },
];

describe("S3 through a faulty network, one fault at a time", () => {
  for (const fault of EVERY_FAULT) {
    const name = fault.kind === "status" ? `HTTP ${fault.status}` : fault.kind;
    it(`${name} on the first request of each call is retried to the right answer`, async () => {
      const { store, direct } = await faultyS3();
      const data = randomBytes(100_000);
      const key = `data/${sha256(data)}`;
      // Fail only the first request of each call that follows.
      const once = () => {
        let used = false;
        proxy.setPlan(() => (used ? undefined : ((used = true), fault)));
      };
      try {
        once();
        const put = await store.put(key, data);
        // A put whose first attempt landed before the connection failed reports created: false on the retry.
        expect(typeof put.created).toBe("boolean");
        once();
        expect(sha256(await store.get(key))).toBe(sha256(data));
        once();
        expect((await store.get(key, { offset: 1000, length: 5000 })).equals(data.subarray(1000, 6000))).toBe(true);
        once();
        expect((await store.head(key))?.size).toBe(data.length);
        once();
        const listed = [];
        for await (const entry of store.list("data/")) listed.push(entry.key);
        expect(listed).toEqual([key]);
        once();
        await store.putRef("domains/a", Buffer.from("image-1"));
        once();
        expect((await store.getRef("domains/a"))?.data.toString()).toBe("image-1");
        proxy.setPlan(() => undefined);
        expect(sha256(await direct.get(key))).toBe(sha256(data));
      } finally {
        proxy.setPlan(() => undefined);
        await store.close();
        await direct.close();
      }
    });
  }

  it("a service that stops answering fails the call instead of hanging it (regression: requestTimeout only warned)", async () => {
    const { store, direct } = await faultyS3({ retries: 0 });
    try {
      const data = randomBytes(64 * 1024);
      await direct.put("data/h", data);
      // Long enough that waiting it out would still return the right bytes: only a timeout fails the call.
      proxy.setPlan(() => ({ kind: "slow", delayMs: 5000 }));
      expect(await store.get("data/h").catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);
      // Headers and half the body, then silence on an open connection.
      proxy.setPlan(() => ({ kind: "stall" }));
      expect(await store.get("data/h").catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);
    } finally {
      proxy.setPlan(() => undefined);
      await store.close();
      await direct.close();
    }
  });

  it("a response cut short is never returned as the object (no retries: the error surfaces)", async () => {
    const { store, direct } = await faultyS3({ retries: 0 });
    try {
      const data = randomBytes(64 * 1024);
      await direct.put("data/t", data);
      proxy.setPlan(() => ({ kind: "truncate" }));
      const whole = await store.get("data/t").catch((e: unknown) => e);
      expect(whole).toBeInstanceOf(StoreUnavailableError);
      const part = await store.get("data/t", { offset: 10, length: 20_000 }).catch((e: unknown) => e);
      expect(part).toBeInstanceOf(StoreUnavailableError);
      const ref = await direct.putRef("r", Buffer.from("0123456789".repeat(100)));
      expect(ref.version).not.toBe("");
      const readRef = await store.getRef("r").catch((e: unknown) => e);
      expect(readRef).toBeInstanceOf(StoreUnavailableError);
    } finally {
      proxy.setPlan(() => undefined);
      await store.close();
      await direct.close();
    }
  });

  it("an upload cut short leaves no object behind (regression: the test server kept partial bodies)", async () => {
    const { store, direct } = await faultyS3({ retries: 0 });
    try {
      const data = randomBytes(256 * 1024);
      const key = `data/${sha256(data)}`;
      proxy.setPlan((r) => (r.method === "PUT" ? { kind: "cut-upload" } : undefined));
      const error = await store.put(key, data).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      proxy.setPlan(() => undefined);
      expect(await direct.head(key)).toBeUndefined();
      await expect(direct.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      // The retry a job would make stores the real bytes.
      expect(await store.put(key, data)).toEqual({ created: true });
      expect(sha256(await direct.get(key))).toBe(sha256(data));
    } finally {
      proxy.setPlan(() => undefined);
      await store.close();
      await direct.close();
    }
  });

  it("bytes corrupted in flight fail the content check, naming the object", async () => {
    const { store, direct } = await faultyS3();
    try {
      const data = randomBytes(10_000);
      const { id, key } = await putContent(direct, "blobs", data);
      proxy.setPlan(() => ({ kind: "corrupt" }));
      const error = await getContent(store, "blobs", id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptObjectError);
      expect((error as CorruptObjectError).message).toContain(key);

      const pages = Array.from({ length: 20 }, () => randomBytes(4096));
      const writer = new PackWriter({ entryHash: "sha256", compression: "zstd" });
      for (const p of pages) writer.add(parseContentId("sha256", sha256(p)), p);
      const pack = writer.finish();
      await writePack(direct, pack);
      const reader = await PackReader.open(store, pack.id).catch((e: unknown) => e);
      // Corrupt bytes in the header, the index or a frame: a typed error naming the pack, never a page.
      if (reader instanceof PackReader) {
        const read = await reader.read(parseContentId("sha256", sha256(pages[3]!))).catch((e: unknown) => e);
        expect(read).toBeInstanceOf(XenfleetError);
      } else {
        expect(reader).toBeInstanceOf(XenfleetError);
        expect((reader as Error).message).toContain(pack.id);
      }
    } finally {
      proxy.setPlan(() => undefined);
      await store.close();
      await direct.close();
    }
  });
});

describe("S3 through a faulty network, many faults at random", () => {
  it("every call is right or a typed error; afterwards every acknowledged object is intact and nothing partial is listed", async () => {
    const { store, direct } = await faultyS3({ sdkAttempts: 2, retries: 3 });
    const seed = Number(process.env.FAULT_SEED ?? 7);
    const before = { ...proxy.injected };
    proxy.setPlan(randomFaults(seed, 0.3, [...EVERY_FAULT, { kind: "slow", delayMs: 50 }]));
    const acknowledged = new Map<string, Buffer>();
    const unacknowledged = new Map<string, Buffer>();
    let succeeded = 0;
    let failed = 0;
    try {
      for (let i = 0; i < 60; i++) {
        const data = randomBytes(1 + ((i * 7919) % 200_000));
        const key = `data/${sha256(data)}`;
        try {
          await store.put(key, data);
          acknowledged.set(key, data);
          succeeded++;
        } catch (error) {
          expectTyped(error);
          unacknowledged.set(key, data);
          failed++;
        }
        // Read back something acknowledged earlier, whole or in part.
        const earlier = [...acknowledged.entries()][i % Math.max(1, acknowledged.size)];
        if (earlier !== undefined) {
          const [k, bytes] = earlier;
          const offset = i % 3 === 0 ? Math.floor(bytes.length / 3) : 0;
          const want = i % 3 === 0 ? bytes.subarray(offset, offset + 1000) : bytes;
          const got = await (i % 3 === 0 ? store.get(k, { offset, length: 1000 }) : store.get(k)).catch(
            (e: unknown) => e,
          );
          if (Buffer.isBuffer(got)) {
            expect(got.equals(want)).toBe(true);
            succeeded++;
          } else {
            expectTyped(got);
            failed++;
          }
        }
      }
    } finally {
      proxy.setPlan(() => undefined);
    }
    const injected =
      Object.values(proxy.injected).reduce((a, b) => a + b, 0) - Object.values(before).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(10);
    const byKind = Object.fromEntries(
      Object.entries(proxy.injected).map(([k, n]) => [k, n - before[k as keyof typeof before]]),
    );
    console.log(JSON.stringify({ chaos: "s3-storm", seed, injected, byKind, right: succeeded, typedFailures: failed }));
    expect(succeeded).toBeGreaterThan(0);
    // After the storm: every acknowledged put is there, intact; a put that
    // failed left nothing or the whole object (it may have landed before the
    // answer was lost), never a part.
    for (const [key, bytes] of acknowledged) expect(sha256(await direct.get(key))).toBe(sha256(bytes));
    for (const key of unacknowledged.keys()) {
      const info = await direct.head(key);
      if (info !== undefined) expect(sha256(await direct.get(key))).toBe(key.slice("data/".length));
    }
    for await (const entry of direct.list("data/")) {
      expect(sha256(await direct.get(entry.key))).toBe(entry.key.slice("data/".length));
    }
    await store.close();
    await direct.close();
  });
});
