/**
 * Every queue name and every Redis key xenfleet uses comes from this module.
 *
 * Key layout, for prefix "xenfleet":
 *   {xenfleet}:<queue>:<bullmq key>     BullMQ's own keys (wait, active, ...)
 *   {xenfleet}:registry:hosts           set of every host id ever registered
 *   {xenfleet}:registry:host:<id>       last registration of a host (JSON)
 *   {xenfleet}:registry:alive:<id>      heartbeat, expires unless renewed
 *   {xenfleet}:registry:read-at:<id>    when the stored registration was read (µs, Redis's clock)
 *   {xenfleet}:registry:draining        set of hosts being emptied
 *   {xenfleet}:registry:services        every service process registered (id -> JSON)
 *   {xenfleet}:registry:service-alive:<id>  a service's heartbeat, expires unless renewed
 *   {xenfleet}:migration:<id>           rendezvous for one live migration
 *
 * The whole prefix is one Redis Cluster hash tag. BullMQ's flow scripts touch
 * a parent's and its children's keys in one atomic call, and our flows span
 * the controller queue and every host's queues, so all of them must live in
 * one slot; the registry sits in the same slot so it can be read in one MULTI.
 * Queue data is small (references, never page data), so one slot is enough.
 */
import { assertHostId } from "./host-id.js";

export const DEFAULT_PREFIX = "xenfleet";

/** A prefix is one word, so it cannot smuggle separators or braces into keys. */
export const PREFIX_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function assertPrefix(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new Error(`invalid key prefix ${JSON.stringify(prefix.slice(0, 40))}: use 1-32 of a-z, 0-9, '_', '-'`);
  }
  return prefix;
}

/** The value for BullMQ's `prefix` option: the prefix as a hash tag. */
export function bullPrefix(prefix: string): string {
  return `{${assertPrefix(prefix)}}`;
}

/** Work bound to one host's hypervisor runs on that host's own queue. */
export const HOST_QUEUE_KINDS = ["save", "restore", "migrate-send", "migrate-recv"] as const;
export type HostQueueKind = (typeof HOST_QUEUE_KINDS)[number];

/** Queues shared by the whole fleet. */
export const COMPRESS_QUEUE = "compress";
export const CONTROLLER_QUEUE = "controller";

/**
 * `save@host-a`. BullMQ refuses ':' in queue names (it separates key parts),
 * so '@' joins the kind and the host.
 */
export function hostQueue(kind: HostQueueKind, host: string): string {
  return `${kind}@${assertHostId(host)}`;
}

/** The host a host-bound queue name belongs to, or undefined for a shared queue. */
export function hostOfQueue(queue: string): string | undefined {
  const at = queue.indexOf("@");
  return at < 0 ? undefined : queue.slice(at + 1);
}

function key(prefix: string, ...parts: string[]): string {
  return [bullPrefix(prefix), ...parts].join(":");
}

export const keys = {
  hosts: (prefix: string) => key(prefix, "registry", "hosts"),
  host: (prefix: string, host: string) => key(prefix, "registry", "host", assertHostId(host)),
  alive: (prefix: string, host: string) => key(prefix, "registry", "alive", assertHostId(host)),
  readAt: (prefix: string, host: string) => key(prefix, "registry", "read-at", assertHostId(host)),
  draining: (prefix: string) => key(prefix, "registry", "draining"),
  services: (prefix: string) => key(prefix, "registry", "services"),
  serviceAlive: (prefix: string, id: string) => key(prefix, "registry", "service-alive", assertToken(id)),
  migration: (prefix: string, migrationId: string) => key(prefix, "migration", assertToken(migrationId)),
  /** Pattern matching every migration record (for SCAN, e.g. a migrate worker's startup sweep). */
  migrations: (prefix: string) => key(prefix, "migration", "*"),
  /** Pattern matching every key under a prefix (for SCAN, e.g. when cleaning up tests). */
  all: (prefix: string) => `${bullPrefix(prefix)}:*`,
};

/** Ids placed inside keys (migration ids, batch ids) share one safe charset. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function assertToken(id: string): string {
  if (!TOKEN_PATTERN.test(id)) throw new Error(`invalid id ${JSON.stringify(id.slice(0, 80))} for a key`);
  return id;
}
