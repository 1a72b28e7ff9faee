/**
 * Redis connections. BullMQ's ESM build cannot load ioredis from options by
 * itself, so services always hand it a client made here.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { ConfigError } from "./errors.js";

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /**
   * PEM files for TLS, from the rediss:// URL's query: `ca` (the CA that
   * signed the server's certificate, for a private CA), `cert` and `key`
   * (a client certificate, for servers that ask for one). Paths, not
   * contents: the URL stays short and holds no key material.
   */
  tlsFiles?: { ca?: string; cert?: string; key?: string };
  /**
   * Reached through Redis Sentinel (redis+sentinel://h1:p1,h2:p2/master):
   * the sentinels to ask and the name of the master they watch. ioredis asks
   * them for the master, and asks again after a failover. `host` and
   * `port` are then the first sentinel's.
   */
  sentinel?: { nodes: Array<{ host: string; port: number }>; master: string };
  /**
   * A Redis Cluster (redis+cluster://h1:p1,h2:p2): some of its nodes, from
   * which ioredis learns the rest and which node holds which slot. `host`
   * and `port` are then the first node's; `db` is 0, the only one a cluster has.
   */
  cluster?: { nodes: Array<{ host: string; port: number }> };
}

/**
 * A connection made here: one Redis server (direct or through Sentinel) or
 * a Redis Cluster. Both take the same commands; every key xenfleet uses is
 * in one hash slot (see names.ts), so multi-key commands, scripts and
 * MULTI work on either.
 */
export type RedisClient = Redis | Cluster;

const TLS_FILE_PARAMS = ["ca", "cert", "key"] as const;

/**
 * What a connection is for. Workers (and QueueEvents) block on Redis and
 * must wait out outages: BullMQ requires maxRetriesPerRequest null there.
 * Producers (the CLI, the controller adding jobs) fail a command after a few
 * retries instead, so a user is told Redis is down rather than left hanging.
 */
export type ConnectionRole = "worker" | "producer";

/** redis+sentinel://[user:password@]host:port[,host:port...]/master[/db] */
const SENTINEL_URL = /^redis\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/@]+)\/([^/?#]+)(?:\/(\d+))?\/?$/;

/** redis+cluster://[user:password@]host:port[,host:port...][/] */
const CLUSTER_URL = /^redis\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/@?#]+)\/?$/;

export function parseRedisUrl(url: string): RedisTarget {
  if (url.startsWith("redis+sentinel:")) return parseSentinelUrl(url);
  if (url.startsWith("redis+cluster:")) return parseClusterUrl(url);
  if (!URL.canParse(url)) throw new ConfigError("XENFLEET_REDIS: not a URL");
  const u = new URL(url);
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new ConfigError(
      `XENFLEET_REDIS must use redis://, rediss://, redis+sentinel:// or redis+cluster://, not ${u.protocol}//`,
    );
  }
  const dbText = u.pathname.replace(/^\//, "");
  const db = dbText === "" ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new ConfigError("XENFLEET_REDIS database must be 0-15");
  const target: RedisTarget = {
    host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: u.port === "" ? 6379 : Number(u.port),
    db,
    tls: u.protocol === "rediss:",
  };
  if (u.username !== "") target.username = decodeURIComponent(u.username);
  if (u.password !== "") target.password = decodeURIComponent(u.password);
  for (const param of TLS_FILE_PARAMS) {
    const path = u.searchParams.get(param);
    if (path === null) continue;
    if (!target.tls) throw new ConfigError(`XENFLEET_REDIS: "${param}" needs rediss:// (TLS)`);
    if (path === "") throw new ConfigError(`XENFLEET_REDIS: "${param}" is an empty path`);
    target.tlsFiles = { ...target.tlsFiles, [param]: path };
  }
  if (target.tlsFiles !== undefined && (target.tlsFiles.cert === undefined) !== (target.tlsFiles.key === undefined)) {
    throw new ConfigError('XENFLEET_REDIS: "cert" and "key" go together');
  }
  return target;
}

function parseSentinelUrl(url: string): RedisTarget {
  const m = SENTINEL_URL.exec(url);
  if (m === null)
    throw new ConfigError(
      "XENFLEET_REDIS: a Sentinel URL is redis+sentinel://[user:password@]host:port[,host:port...]/master[/db]",
    );
  const nodes = parseNodes(m[3]!, "sentinel", 26379);
  const db = m[5] === undefined ? 0 : Number(m[5]);
  if (db > 15) throw new ConfigError("XENFLEET_REDIS database must be 0-15");
  const target: RedisTarget = {
    host: nodes[0]!.host,
    port: nodes[0]!.port,
    db,
    tls: false,
    sentinel: { nodes, master: decodeURIComponent(m[4]!) },
  };
  if (m[1] !== undefined && m[1] !== "") target.username = decodeURIComponent(m[1]);
  if (m[2] !== undefined && m[2] !== "") target.password = decodeURIComponent(m[2]);
  return target;
}

/** `host:port,host:port`, each port defaulting to `defaultPort`; `what` names a node in errors. */
function parseNodes(list: string, what: string, defaultPort: number): Array<{ host: string; port: number }> {
  return list.split(",").map((node) => {
    const at = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(node);
    const port = at?.[2] === undefined ? defaultPort : Number(at[2]);
    if (at === null || port < 1 || port > 65_535)
      throw new ConfigError(`XENFLEET_REDIS: not a ${what} host:port: ${JSON.stringify(node)}`);
    return { host: at[1]!.replace(/^\[|\]$/g, ""), port };
  });
}

function parseClusterUrl(url: string): RedisTarget {
  const m = CLUSTER_URL.exec(url);
  if (m === null)
    throw new ConfigError(
      "XENFLEET_REDIS: a Cluster URL is redis+cluster://[user:password@]host:port[,host:port...] (no database: a cluster has only 0)",
    );
  const nodes = parseNodes(m[3]!, "cluster node", 6379);
  const target: RedisTarget = { host: nodes[0]!.host, port: nodes[0]!.port, db: 0, tls: false, cluster: { nodes } };
  if (m[1] !== undefined && m[1] !== "") target.username = decodeURIComponent(m[1]);
  if (m[2] !== undefined && m[2] !== "") target.password = decodeURIComponent(m[2]);
  return target;
}

/** Reads one PEM file named in the URL; the error names the parameter and path, never file contents. */
function readPem(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `XENFLEET_REDIS: cannot read the "${param}" file ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
}

/** ioredis options for a target and role. */
export function redisOptions(target: RedisTarget, role: ConnectionRole): RedisOptions {
  const options: RedisOptions = {
    ...(target.sentinel === undefined
      ? { host: target.host, port: target.port }
      : {
          sentinels: target.sentinel.nodes,
          name: target.sentinel.master,
          // The same back-off for asking the sentinels as for the master itself.
          sentinelRetryStrategy: (times: number) => Math.min(1000 * 2 ** Math.min(times, 5), 20_000),
        }),
    db: target.db,
    maxRetriesPerRequest: role === "worker" ? null : 3,
    // Reconnect forever, backing off from 1s to 20s so a Redis restart is not
    // met by every worker in the fleet reconnecting in the same millisecond.
    retryStrategy: (times) => Math.min(1000 * 2 ** Math.min(times, 5), 20_000),
  };
  if (target.username !== undefined) options.username = target.username;
  if (target.password !== undefined) options.password = target.password;
  if (target.tls) {
    // SNI carries host names only; for an IP address the certificate is still checked against it.
    const tls: NonNullable<RedisOptions["tls"]> = isIP(target.host) === 0 ? { servername: target.host } : {};
    const files = target.tlsFiles;
    if (files?.ca !== undefined) tls.ca = readPem("ca", files.ca);
    if (files?.cert !== undefined) tls.cert = readPem("cert", files.cert);
    if (files?.key !== undefined) tls.key = readPem("key", files.key);
    options.tls = tls;
  }
  return options;
}

/**
 * ioredis Cluster options: each node's connection gets the target's
 * credentials and the role's retry policy (BullMQ reads
 * maxRetriesPerRequest from `redisOptions`), and the cluster as a whole
 * backs off as a single server does.
 */
export function clusterOptions(target: RedisTarget, role: ConnectionRole): ClusterOptions {
  const { host: _host, port: _port, db: _db, retryStrategy, ...perNode } = redisOptions(target, role);
  return { redisOptions: perNode, clusterRetryStrategy: retryStrategy };
}

/** A new ioredis client; the caller owns it and calls `quit()` when done. */
export function createRedis(url: string, role: ConnectionRole, connectionName?: string): RedisClient {
  const target = parseRedisUrl(url);
  if (target.cluster !== undefined) {
    const options = clusterOptions(target, role);
    if (connectionName !== undefined) options.redisOptions = { ...options.redisOptions, connectionName };
    return new Cluster(target.cluster.nodes, options);
  }
  const options = redisOptions(target, role);
  if (connectionName !== undefined) options.connectionName = connectionName;
  return new Redis(options);
}

/** The URL with the password masked, for logs and error messages. */
export function describeRedis(target: RedisTarget): string {
  const auth =
    target.username !== undefined || target.password !== undefined
      ? `${target.username ?? ""}${target.password !== undefined ? ":***" : ""}@`
      : "";
  const hostPort = (h: { host: string; port: number }) => `${h.host.includes(":") ? `[${h.host}]` : h.host}:${h.port}`;
  if (target.cluster !== undefined) return `redis+cluster://${auth}${target.cluster.nodes.map(hostPort).join(",")}`;
  if (target.sentinel !== undefined)
    return `redis+sentinel://${auth}${target.sentinel.nodes.map(hostPort).join(",")}/${target.sentinel.master}/${target.db}`;
  return `${target.tls ? "rediss" : "redis"}://${auth}${hostPort(target)}/${target.db}`;
}
