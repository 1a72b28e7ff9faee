/**
 * probeStore, what a service's /healthz asks of each store: a filesystem
 * store's directory, once there, must stay (an empty listing would not
 * tell), while one not created yet is no failure; an S3
 * store must answer a listing, and neither may take longer than the timeout.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestS3Server, type TestS3Server } from "@xenfleet/store/testing";
import { probeStore, Stores } from "../src/index.js";

describe("probeStore", () => {
  let dir: string;
  let s3: TestS3Server;
  /** Accepts connections and never answers. */
  let silent: Server;
  let silentPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "xenfleet-probe-"));
    s3 = await startTestS3Server();
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    silentPort = (silent.address() as { port: number }).port;
  }, 60_000);

  afterAll(async () => {
    await s3?.close();
    silent?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("passes before a filesystem store is created and while it exists, and names it once it is gone", async () => {
    const root = join(dir, "store");
    const stores = new Stores({ XENFLEET_STORE: pathToFileURL(root).href });
    // A new fleet's store: its first save creates it.
    await expect(probeStore(stores, "main", 1000)).resolves.toBeUndefined();
    await (await stores.get("main")).close(); // opening creates it
    await expect(probeStore(stores, "main", 1000)).resolves.toBeUndefined();
    await rm(root, { recursive: true });
    await expect(probeStore(stores, "main", 1000)).rejects.toThrow(`store main: ${root} is not a directory`);
    await stores.close();
  });

  it("fails when a filesystem store's path is not a directory", async () => {
    const stores = new Stores({ XENFLEET_STORE: pathToFileURL(join(dir, "store-file")).href });
    await writeFile(join(dir, "store-file"), "not a store");
    await expect(probeStore(stores, "main", 1000)).rejects.toThrow(/store-file is not a directory/);
  });

  it("passes while an S3 store answers a listing, and fails within the timeout when its endpoint does not answer", async () => {
    const bucket = await s3.createBucket();
    const { url, env } = s3.url(bucket);
    const up = new Stores({ XENFLEET_STORE: url, ...env });
    await expect(probeStore(up, "main", 5000)).resolves.toBeUndefined();
    await up.close();

    const down = new Stores({
      XENFLEET_STORE: `s3://${bucket}?endpoint=http://127.0.0.1:${silentPort}&pathStyle=true`,
      ...env,
    });
    await expect(probeStore(down, "main", 500)).rejects.toThrow("store main did not answer within 500 ms");
    await down.close();
  });
});
