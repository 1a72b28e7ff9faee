import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_STORE_PATH, InvalidStoreUrlError, openStore, parseStoreUrl, type StoreEnv } from "@xenfleet/store";
import { startTestS3Server } from "@xenfleet/store/testing";

const creds: StoreEnv = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret-value-never-logged" };

describe("parseStoreUrl", () => {
  it.each<[string | undefined, StoreEnv, unknown]>([
    [undefined, {}, { kind: "file", root: join("/srv/app", DEFAULT_STORE_PATH) }],
    ["", { XENFLEET_STORE: "file:///var/lib/xenfleet" }, { kind: "file", root: "/var/lib/xenfleet" }],
    [undefined, { XENFLEET_STORE: "data/store" }, { kind: "file", root: "/srv/app/data/store" }],
    ["file:///var/lib/x%20y", {}, { kind: "file", root: "/var/lib/x y" }],
    ["file://localhost/abs", {}, { kind: "file", root: "/abs" }],
    ["/abs/path", {}, { kind: "file", root: "/abs/path" }],
    ["memory:", {}, { kind: "memory" }],
    [
      "s3://fleet-images/prod/eu?endpoint=http://127.0.0.1:9000&region=eu-west-1",
      creds,
      {
        kind: "s3",
        s3: {
          bucket: "fleet-images",
          prefix: "prod/eu",
          endpoint: "http://127.0.0.1:9000",
          region: "eu-west-1",
          forcePathStyle: true,
          conditionalWrites: false,
          credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret-value-never-logged" },
        },
      },
    ],
    [
      "s3://fleet-images?pathStyle=false&conditionalWrites=true&partSize=16777216",
      { AWS_REGION: "us-west-2" },
      {
        kind: "s3",
        s3: {
          bucket: "fleet-images",
          prefix: "",
          region: "us-west-2",
          forcePathStyle: false,
          conditionalWrites: true,
          partSize: 16777216,
        },
      },
    ],
  ])("%s with %o", (url, env, expected) => {
    expect(parseStoreUrl(url, env, "/srv/app")).toEqual(expected);
  });

  it.each([
    ["s3://AB/x", /bucket/],
    ["s3://b/x", /bucket/],
    ["s3://user:pass@bucket-1/x", /credentials/],
    ["s3://bucket-1:9000/x", /endpoint=/],
    ["s3://bucket-1?endpoint=ftp://h", /endpoint/],
    ["s3://bucket-1?pathStyle=yes", /pathStyle/],
    ["s3://bucket-1?partSize=1024", /partSize/],
    ["s3://bucket-1?secret=1", /unknown parameter secret/],
    ["file://otherhost/x", /local path/],
    ["file:///x?y=1", /query/],
    ["gs://bucket/x", /unknown scheme/],
  ])("refuses %s", (url, message) => {
    let error: unknown;
    try {
      parseStoreUrl(url, {}, "/");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidStoreUrlError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("pass");
  });

  it("refuses half a set of credentials", () => {
    expect(() => parseStoreUrl("s3://bucket-1", { AWS_ACCESS_KEY_ID: "a" })).toThrow(/both/);
  });
});

describe("openStore", () => {
  it("opens a filesystem store that works, and whose location names it", async () => {
    const root = await mkdtemp(join(tmpdir(), "xenfleet-url-"));
    try {
      const store = await openStore(`file://${root}/s`, {}, { retry: { sleep: async () => {} } });
      expect(store.location).toBe(`file://${root}/s`);
      await store.put("a/b", Buffer.from("x"));
      expect((await store.get("a/b")).toString()).toBe("x");
      await store.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("opens an S3 store over HTTP; its location holds no credentials", async () => {
    const server = await startTestS3Server();
    try {
      const bucket = await server.createBucket();
      const { url, env } = server.url(bucket);
      const store = await openStore(`${url}`.replace(`s3://${bucket}?`, `s3://${bucket}/pre/fix?`), env);
      expect(store.location).toBe(`s3://${bucket}/pre/fix at ${server.endpoint}`);
      expect(store.location).not.toContain(env.AWS_SECRET_ACCESS_KEY);
      expect(await store.put("a/b", Buffer.from("x"))).toEqual({ created: true });
      expect((await store.get("a/b")).toString()).toBe("x");
      await store.close();
    } finally {
      await server.close();
    }
  });
});
