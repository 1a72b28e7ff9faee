/**
 * Building blocks shared by job payloads and results. Every string is bounded
 * so a job in Redis stays small; payloads hold references (a domain, a host,
 * an image id, a store URL), never page data.
 */
import { z } from "zod";
import { TOKEN_PATTERN } from "../names.js";

export { hostIdSchema } from "../host-id.js";

/** Xen domain uuid: 8-4-4-4-12 hex, any variant (libxl does not promise RFC 4122 bits). */
export const domainUuid = z.guid();

/** A domain name as `xl list` shows it: printable, no control characters, bounded. */
export const domainName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e][\x20-\x7e]*$/, "domain name must be printable ASCII");

export const domainRef = z.strictObject({ uuid: domainUuid, name: domainName });
export type DomainRef = z.infer<typeof domainRef>;

/** An image is named by the SHA-256 (lower-case hex) of its manifest. */
export const imageId = z.string().regex(/^[0-9a-f]{64}$/, "image id must be 64 lower-case hex digits");

/** Ids of batches, migrations and evacuations; they end up inside Redis keys. */
export const token = z.string().regex(TOKEN_PATTERN, "id must be 1-64 of A-Z a-z 0-9 _ -");

const STORE_SCHEMES = new Set(["file:", "s3:", "http:", "https:"]);

/**
 * Which object store holds the images. Credentials never travel in a job:
 * workers read them from their own configuration, so a URL carrying a user
 * or password is refused.
 */
export const storeUrl = z
  .string()
  .max(2048)
  .refine((s) => URL.canParse(s), "store must be a URL")
  .refine(
    (s) => !URL.canParse(s) || STORE_SCHEMES.has(new URL(s).protocol),
    "store URL scheme must be file:, s3:, http: or https:",
  )
  .refine((s) => {
    if (!URL.canParse(s)) return true;
    const u = new URL(s);
    return u.username === "" && u.password === "";
  }, "store URL must not carry credentials");

/** What a store is called in XENFLEET_STORES and in jobs. */
export const STORE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * The store a job uses, by its name in the workers' configuration
 * (XENFLEET_STORES, or "main" for XENFLEET_STORE). A job never carries a URL:
 * where images go is the worker's decision, made with its own credentials.
 */
export const storeName = z.string().regex(STORE_NAME_PATTERN, "store must be a store name: 1-32 of a-z 0-9 _ -");

/**
 * The store of a payload written before stores had names (save, restore,
 * compress, retention and gc v1, batch-save v1 and v2, migrate and evacuate
 * v1): a name, or a URL, which a worker accepts only when it is that of one
 * of its configured stores (the upgrade to the current version asks it).
 */
export const storeRef = z
  .string()
  .max(2048)
  .superRefine((s, ctx) => {
    if (STORE_NAME_PATTERN.test(s)) return;
    // Not a name: then a URL, checked as one (its own messages say what is wrong).
    const parsed = storeUrl.safeParse(s);
    if (!parsed.success)
      for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", message: issue.message });
  });

/** Free-form labels (retention classes such as "nightly", host tags). */
export const label = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "label must be 1-32 of a-z 0-9 . _ -");
export const labels = z.array(label).max(16);

export const nonNegativeInt = z.int().min(0);
export const bytes = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const seconds = z.number().min(0).max(1e9);

/** Why a job failed, as a report shows it (bounded: it is copied into parent results). */
export const reason = z.string().max(1024);
