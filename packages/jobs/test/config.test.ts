import { describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import { z } from "zod";
import {
  clusterOptions,
  ConfigError,
  createRedis,
  describeRedis,
  fleetEnvSchema,
  parseEnv,
  parseRedisUrl,
  parseStoreList,
  redisOptions,
} from "../src/index.js";
import { REDIS_URL } from "./helpers.js";

describe("configuration", () => {
  it("fills defaults for everything but the store", () => {
    expect(parseEnv(fleetEnvSchema, { XENFLEET_STORE: "file:///var/lib/xenfleet" })).toEqual({
      XENFLEET_REDIS: "redis://127.0.0.1:6379",
      XENFLEET_PREFIX: "xenfleet",
      XENFLEET_STORE: "file:///var/lib/xenfleet",
      XENFLEET_METRICS_PORT: 0,
      XENFLEET_METRICS_BIND: "0.0.0.0",
      XENFLEET_LOG_LEVEL: "info",
    });
  });

  it("takes a metrics port, none (0) or a free one (auto)", () => {
    const port = (value: string) =>
      parseEnv(fleetEnvSchema, { XENFLEET_STORE: "file:///x", XENFLEET_METRICS_PORT: value }).XENFLEET_METRICS_PORT;
    expect([port("9464"), port("0"), port("auto")]).toEqual([9464, 0, "auto"]);
    for (const bad of ["any", "-1", "70000", "9464x"]) expect(() => port(bad), bad).toThrow(/XENFLEET_METRICS_PORT/);
  });

  it("takes named stores instead of one, and refuses a list it cannot read", () => {
    const env = { XENFLEET_STORES: "main=file:///var/lib/xenfleet,cold=s3://archive?endpoint=http://minio:9000" };
    expect(parseEnv(fleetEnvSchema, env).XENFLEET_STORES).toBe(env.XENFLEET_STORES);
    expect(parseStoreList(env.XENFLEET_STORES)).toEqual([
      ["main", "file:///var/lib/xenfleet"],
      ["cold", "s3://archive?endpoint=http://minio:9000"],
    ]);
    for (const bad of ["main", "Main=file:///x", "a=file:///x,a=file:///y", "main=ftp://host/x"]) {
      expect(() => parseEnv(fleetEnvSchema, { XENFLEET_STORES: bad })).toThrow(/XENFLEET_STORES/);
    }
    expect(() => parseEnv(fleetEnvSchema, {})).toThrow(/XENFLEET_STORE: required/);
  });

  it("names each bad variable and never repeats a secret", () => {
    const env = {
      XENFLEET_REDIS: "http://user:sup3rsecret@redis:6379",
      XENFLEET_PREFIX: "Bad Prefix",
      XENFLEET_METRICS_PORT: "70000",
    };
    let message = "";
    try {
      parseEnv(fleetEnvSchema, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    for (const name of ["XENFLEET_REDIS", "XENFLEET_PREFIX", "XENFLEET_STORE", "XENFLEET_METRICS_PORT"]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain("sup3rsecret");
  });

  it("lets a service extend the schema with its own variables", () => {
    const schema = fleetEnvSchema.extend({ XENFLEET_HOST: z.string().min(1) });
    const env = parseEnv(schema, { XENFLEET_STORE: "s3://b/p", XENFLEET_HOST: "h1" });
    expect(env.XENFLEET_HOST).toBe("h1");
  });

  it.each([
    ["redis://127.0.0.1:6379", { host: "127.0.0.1", port: 6379, db: 0, tls: false }],
    ["redis://redis", { host: "redis", port: 6379, db: 0, tls: false }],
    ["rediss://cache.example:6380/2", { host: "cache.example", port: 6380, db: 2, tls: true }],
    ["redis://:p%40ss@r:1/0", { host: "r", port: 1, db: 0, tls: false, password: "p@ss" }],
    ["redis://fleet:pw@[::1]:7000", { host: "::1", port: 7000, db: 0, tls: false, username: "fleet", password: "pw" }],
  ])("parses %s", (url, target) => {
    expect(parseRedisUrl(url)).toEqual(target);
  });

  it("parses Sentinel URLs: the sentinels, the master's name, the database and the master's password", () => {
    const target = parseRedisUrl("redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster/2");
    expect(target).toMatchObject({
      db: 2,
      password: "pw",
      sentinel: {
        master: "mymaster",
        nodes: [
          { host: "s1", port: 26379 },
          { host: "s2", port: 26379 },
          { host: "::1", port: 26380 },
        ],
      },
    });
    const options = redisOptions(target, "worker");
    expect(options).toMatchObject({ name: "mymaster", db: 2, password: "pw", sentinels: target.sentinel!.nodes });
    expect(options.host).toBeUndefined();
    expect(describeRedis(target)).toBe("redis+sentinel://:***@s1:26379,s2:26379,[::1]:26380/mymaster/2");
    expect(
      parseEnv(fleetEnvSchema, { XENFLEET_REDIS: "redis+sentinel://s1:26379/m", XENFLEET_STORE: "s3://b/p" })
        .XENFLEET_REDIS,
    ).toBe("redis+sentinel://s1:26379/m");
  });

  it("parses Cluster URLs: the nodes to start from and the password, for a Cluster client of the role", async () => {
    const target = parseRedisUrl("redis+cluster://fleet:pw@c1:7000,c2,[::1]:7002/");
    expect(target).toMatchObject({
      db: 0,
      username: "fleet",
      password: "pw",
      cluster: {
        nodes: [
          { host: "c1", port: 7000 },
          { host: "c2", port: 6379 },
          { host: "::1", port: 7002 },
        ],
      },
    });
    expect(target.sentinel).toBeUndefined();
    expect(clusterOptions(target, "worker").redisOptions).toMatchObject({
      username: "fleet",
      password: "pw",
      maxRetriesPerRequest: null,
    });
    expect(clusterOptions(target, "producer").redisOptions?.maxRetriesPerRequest).toBe(3);
    expect(clusterOptions(target, "worker").redisOptions).not.toHaveProperty("host");
    expect(describeRedis(target)).toBe("redis+cluster://fleet:***@c1:7000,c2:6379,[::1]:7002");
    expect(
      parseEnv(fleetEnvSchema, { XENFLEET_REDIS: "redis+cluster://c1:7000,c2:7001", XENFLEET_STORE: "s3://b/p" })
        .XENFLEET_REDIS,
    ).toBe("redis+cluster://c1:7000,c2:7001");
    // Nothing listens there: the client is only looked at, then closed.
    const client = createRedis("redis+cluster://127.0.0.1:1", "worker", "xenfleet-config-test");
    client.on("error", () => undefined);
    try {
      expect(client).toBeInstanceOf(Cluster);
      expect((client as Cluster).options.redisOptions).toMatchObject({
        connectionName: "xenfleet-config-test",
        maxRetriesPerRequest: null,
      });
    } finally {
      client.disconnect();
    }
  });

  it.each([
    "http://r:1",
    "redis://r/99",
    "not a url",
    "redis+sentinel://s1:26379",
    "redis+sentinel://s1:99999/m",
    "redis+sentinel://s1,,s2/m",
    "redis+sentinel://s1/m/16",
    "redis+cluster://",
    "redis+cluster://c1:7000/0",
    "redis+cluster://c1:7000,,c2",
    "redis+cluster://c1:70000",
    "redis+cluster://c1:7000?tls=1",
  ])("refuses %s", (url) => {
    expect(() => parseRedisUrl(url)).toThrow(ConfigError);
  });

  it("masks the password when describing a connection", () => {
    const text = describeRedis(parseRedisUrl("rediss://fleet:topsecret@r:6380/1"));
    expect(text).toBe("rediss://fleet:***@r:6380/1");
  });

  it("gives workers unlimited retries and producers a bounded number, with TLS for rediss", () => {
    const target = parseRedisUrl("rediss://:pw@r:6380");
    expect(redisOptions(target, "worker").maxRetriesPerRequest).toBeNull();
    expect(redisOptions(target, "producer").maxRetriesPerRequest).toBe(3);
    expect(redisOptions(target, "worker").tls).toEqual({ servername: "r" });
    expect(redisOptions(target, "worker").password).toBe("pw");
    expect(redisOptions(parseRedisUrl("redis://r"), "worker").tls).toBeUndefined();
  });

  it("connects to the real Redis", async () => {
    const client = createRedis(REDIS_URL, "producer");
    try {
      expect(await client.ping()).toBe("PONG");
    } finally {
      await client.quit();
    }
  });
});
