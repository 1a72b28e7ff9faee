import { z } from "zod";
import { InvalidHostIdError } from "./errors.js";

/**
 * A host id names a Xen host inside queue names and Redis keys. The charset
 * leaves out ':' (BullMQ's key separator), '@' (our queue separator), braces
 * (Redis Cluster hash tags), glob characters and whitespace, so a host name
 * can never change the structure of a key. Lower case only, so "Host-A" and
 * "host-a" cannot become two hosts.
 */
export const HOST_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const hostIdSchema = z.string().regex(HOST_ID_PATTERN, "invalid host id");

export type HostId = string;

export function isHostId(value: string): boolean {
  return HOST_ID_PATTERN.test(value);
}

export function assertHostId(value: string): HostId {
  if (!isHostId(value)) throw new InvalidHostIdError(value);
  return value;
}
