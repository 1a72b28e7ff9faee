import { describe, expect, it } from "vitest";
import {
  InvalidKeyError,
  LimitStore,
  MemoryStore,
  ObjectNotFoundError,
  CorruptObjectError,
  RetryStore,
  StoreRequestError,
  StoreUnavailableError,
  isTransientError,
  type ListEntry,
  type ObjectStore,
  type RetryEvent,
} from "@xenfleet/store";
import { FaultyStore, describeObjectStoreConformance } from "@xenfleet/store/testing";

const noWait = async () => {};

function retrying(inner: ObjectStore, events: RetryEvent[] = []) {
  return new RetryStore(inner, { retries: 3, sleep: noWait, random: () => 0.5, onRetry: (e) => events.push(e) });
}

async function collect(iterable: AsyncIterable<ListEntry>): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of iterable) keys.push(entry.key);
  return keys;
}

function econnreset(): Error {
  return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
}

describe("isTransientError", () => {
  it.each([
    [new StoreUnavailableError("get", "k", "503"), true],
    [econnreset(), true],
    [Object.assign(new Error("t"), { code: "ETIMEDOUT" }), true],
    [new ObjectNotFoundError("k"), false],
    [new InvalidKeyError("/k", "leading"), false],
    [new CorruptObjectError("k", "hash"), false],
    [new StoreRequestError("get", "k", "403"), false],
    [new Error("plain"), false],
    [undefined, false],
  ])("%o → %s", (error, transient) => {
    expect(isTransientError(error)).toBe(transient);
  });
});

describe("RetryStore", () => {
  it("retries transient failures until the call succeeds, backing off exponentially", async () => {
    const inner = new MemoryStore();
    await inner.put("k/1", Buffer.from("hello"));
    const faulty = new FaultyStore(inner).failNext("get", 2);
    const events: RetryEvent[] = [];
    const store = new RetryStore(faulty, {
      retries: 5,
      baseDelayMs: 100,
      sleep: noWait,
      random: () => 0.999,
      onRetry: (e) => events.push(e),
    });
    expect((await store.get("k/1")).toString()).toBe("hello");
    expect(faulty.calls.get).toBe(3);
    expect(events.map((e) => [e.attempt, e.delayMs])).toEqual([
      [1, 99],
      [2, 199],
    ]);
  });

  it("retries raw connection errors too", async () => {
    const faulty = new FaultyStore(new MemoryStore()).failNext("put", 1, econnreset);
    expect(await retrying(faulty).put("k/1", Buffer.from("x"))).toEqual({ created: true });
    expect(faulty.calls.put).toBe(2);
  });

  it("caps the delay at maxDelayMs", async () => {
    const events: RetryEvent[] = [];
    const faulty = new FaultyStore(new MemoryStore()).failNext("head", 6);
    const store = new RetryStore(faulty, {
      retries: 6,
      baseDelayMs: 100,
      maxDelayMs: 300,
      sleep: noWait,
      random: () => 0.999,
      onRetry: (e) => events.push(e),
    });
    await store.head("k");
    expect(Math.max(...events.map((e) => e.delayMs))).toBe(299);
  });

  it("gives up after `retries` retries with the last error", async () => {
    const faulty = new FaultyStore(new MemoryStore()).failNext("head", 10);
    await expect(retrying(faulty).head("k/1")).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(faulty.calls.head).toBe(4);
  });

  it.each([
    ["not found", () => new ObjectNotFoundError("k/1")],
    ["corruption", () => new CorruptObjectError("k/1", "bad hash")],
    ["a refusal (4xx)", () => new StoreRequestError("get", "k/1", "AccessDenied (HTTP 403)")],
  ])("does not retry %s", async (_label, makeError) => {
    const faulty = new FaultyStore(new MemoryStore()).failNext("get", 1, makeError);
    await expect(retrying(faulty).get("k/1")).rejects.toBeInstanceOf(makeError().constructor);
    expect(faulty.calls.get).toBe(1);
  });

  it("does not retry a put from a stream, which cannot be replayed", async () => {
    const faulty = new FaultyStore(new MemoryStore()).failNext("put", 1);
    async function* source() {
      yield Buffer.from("x");
    }
    await expect(retrying(faulty).put("k/1", source())).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(faulty.calls.put).toBe(1);
  });

  it("resumes a failed listing after the last key it yielded, repeating none", async () => {
    const inner = new MemoryStore();
    const keys = Array.from({ length: 10 }, (_, i) => `l/${i}`);
    for (const key of keys) await inner.put(key, Buffer.from(key));
    const faulty = new FaultyStore(inner).failNext("list", 2, undefined, 4);
    expect(await collect(retrying(faulty).list("l/"))).toEqual(keys);
    expect(faulty.calls.list).toBe(3);
  });

  describeObjectStoreConformance(
    "retry wrapper over a store whose first call of each operation fails",
    async () => {
      // Every operation's first call fails transiently; the wrapper must hide it.
      const faulty = new FaultyStore(new MemoryStore());
      for (const op of [
        "get",
        "getStream",
        "head",
        "delete",
        "getRef",
        "putRef",
        "deleteRef",
        "list",
        "listRefs",
      ] as const) {
        faulty.failNext(op, 1);
      }
      return { store: new RetryStore(faulty, { sleep: noWait }), cleanup: async () => {} };
    },
    { listCount: 1100 },
  );
});

/** A store whose calls wait until released, to observe how many run at once. */
class GateStore extends MemoryStore {
  active = 0;
  maxActive = 0;
  private readonly waiters: Array<() => void> = [];

  override async head(key: string) {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.active--;
    return super.head(key);
  }

  /** Releases the calls waiting now; returns how many. */
  release(): number {
    const n = this.waiters.length;
    for (const w of this.waiters.splice(0)) w();
    return n;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe("LimitStore", () => {
  it("runs at most `limit` calls at once and serves the rest in turn", async () => {
    const gate = new GateStore();
    const store = new LimitStore(gate, 3);
    const calls = Array.from({ length: 10 }, (_, i) => store.head(`k/${i}`));
    await settle();
    expect(gate.active).toBe(3);
    let released = 0;
    while (released < 10) {
      released += gate.release();
      await settle();
    }
    await Promise.all(calls);
    expect(gate.maxActive).toBe(3);
  });

  it("frees its slot when a call fails", async () => {
    const faulty = new FaultyStore(new MemoryStore()).failNext("get", 5, () => new StoreRequestError("get", "k", "no"));
    const store = new LimitStore(faulty, 1);
    for (let i = 0; i < 5; i++) await expect(store.get("k/1")).rejects.toBeInstanceOf(StoreRequestError);
    await expect(store.get("k/1")).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it("refuses a limit below 1", () => {
    expect(() => new LimitStore(new MemoryStore(), 0)).toThrow(RangeError);
  });

  describeObjectStoreConformance("limit wrapper", async () => ({
    store: new LimitStore(new MemoryStore(), 2),
    cleanup: async () => {},
  }));
});
