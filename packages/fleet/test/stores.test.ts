/**
 * Each configured store is opened with its own credentials: the access key
 * that signs a store's requests, as an HTTP proxy in front of the in-repo
 * S3 server sees it in the Authorization header, is that store's own
 * (XENFLEET_STORE_<NAME>_ACCESS_KEY_ID), or the AWS_* default for a store
 * without its own, never another store's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, startTestS3Server, type FaultProxy, type TestS3Server } from "@xenfleet/store/testing";
import { storeCredentialVariables, Stores, UnknownStoreError } from "../src/index.js";

let s3: TestS3Server;
let proxy: FaultProxy;
/** Per bucket, the access key id and region of each signed request the proxy saw. */
const signedBy = new Map<string, Set<string>>();

beforeAll(async () => {
  s3 = await startTestS3Server();
  proxy = await startFaultProxy(s3.endpoint, (request) => {
    // "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/s3/aws4_request, ..."
    const credential = /Credential=([^/]+)\/[^/]+\/([^/]+)\//.exec(request.authorization ?? "");
    const bucket = request.url.split(/[/?]/)[1] ?? "";
    if (credential !== null) {
      const seen = signedBy.get(bucket) ?? new Set();
      seen.add(`${credential[1]} ${credential[2]}`);
      signedBy.set(bucket, seen);
    }
    return undefined;
  });
});
afterAll(async () => {
  await proxy?.close();
  await s3?.close();
});

const urlOf = (bucket: string) => `s3://${bucket}?endpoint=${encodeURIComponent(proxy.endpoint)}&pathStyle=true`;

describe("per-store credentials", () => {
  it("signs each store's requests with its own key and region, and a store without its own with the defaults", async () => {
    const [main, cold, plain] = [await s3.createBucket(), await s3.createBucket(), await s3.createBucket()];
    const env = {
      XENFLEET_STORES: `main=${urlOf(main)},cold-tier=${urlOf(cold)},plain=${urlOf(plain)}`,
      AWS_ACCESS_KEY_ID: "DEFAULTKEY",
      AWS_SECRET_ACCESS_KEY: "defaultsecret",
      AWS_REGION: "us-east-1",
      // The test server knows one account (S3RVER): main's key is it, cold-tier's is refused by the server.
      XENFLEET_STORE_MAIN_ACCESS_KEY_ID: "S3RVER",
      XENFLEET_STORE_MAIN_SECRET_ACCESS_KEY: "S3RVER",
      XENFLEET_STORE_COLD_TIER_ACCESS_KEY_ID: "COLDKEY",
      XENFLEET_STORE_COLD_TIER_SECRET_ACCESS_KEY: "coldsecret",
      XENFLEET_STORE_COLD_TIER_REGION: "eu-west-1",
    };
    const stores = new Stores(env);
    try {
      await (await stores.get("main")).put("data/a", Buffer.from("a"));
      expect((await (await stores.get("main")).get("data/a")).toString()).toBe("a");
      // Opening reads the store's header, so a refused key may fail the open rather than the put.
      await expect(stores.get("cold-tier").then((s) => s.put("data/b", Buffer.from("b")))).rejects.toThrow();
      await expect(stores.get("plain").then((s) => s.put("data/c", Buffer.from("c")))).rejects.toThrow();
    } finally {
      await stores.close();
    }
    expect(signedBy.get(main)).toEqual(new Set(["S3RVER us-east-1"]));
    expect(signedBy.get(cold)).toEqual(new Set(["COLDKEY eu-west-1"]));
    expect(signedBy.get(plain)).toEqual(new Set(["DEFAULTKEY us-east-1"]));
  });

  it("refuses a store with half a key pair of its own, naming the store's variables", () => {
    expect(
      () =>
        new Stores({
          XENFLEET_STORES: `main=${urlOf("bucket-x")}`,
          XENFLEET_STORE_MAIN_ACCESS_KEY_ID: "ONLYID",
        }),
    ).toThrow(/store main: set both XENFLEET_STORE_MAIN_ACCESS_KEY_ID and XENFLEET_STORE_MAIN_SECRET_ACCESS_KEY/);
  });

  it("keeps only the per-store variables of an environment", () => {
    expect(
      storeCredentialVariables({
        PATH: "/bin",
        AWS_ACCESS_KEY_ID: "X",
        XENFLEET_STORE: "/srv/store",
        XENFLEET_STORE_MAIN_ACCESS_KEY_ID: "A",
        XENFLEET_STORE_COLD_TIER_REGION: "eu-west-1",
        XENFLEET_STORE_MAIN_PASSWORD: "no",
      }),
    ).toEqual({ XENFLEET_STORE_MAIN_ACCESS_KEY_ID: "A", XENFLEET_STORE_COLD_TIER_REGION: "eu-west-1" });
  });

  it("names a store by its name or by the URL of a configured store, and nothing else", () => {
    const stores = new Stores({ XENFLEET_STORES: `main=${urlOf("bucket-m")},local=file:///srv/images` });
    expect(stores.storeName("main")).toBe("main");
    expect(stores.storeName(urlOf("bucket-m"))).toBe("main");
    expect(stores.storeName("/srv/images")).toBe("local");
    expect(() => stores.storeName(urlOf("bucket-other"))).toThrow(UnknownStoreError);
    expect(() => stores.storeName("cold")).toThrow(UnknownStoreError);
  });
});
