import { BadDomainUuidError } from "./errors.js";

/** A GUID as libxl writes it: 8-4-4-4-12 hex digits, nothing more. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isDomainUuid(value: unknown): value is string {
  return typeof value === "string" && GUID.test(value);
}

/** The uuid itself when it is a GUID; BadDomainUuidError otherwise. */
export function checkDomainUuid(value: unknown): string {
  if (!isDomainUuid(value)) throw new BadDomainUuidError(value);
  return value;
}
