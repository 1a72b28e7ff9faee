import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidStoreUrlError } from "./errors.js";
import type { S3StoreConfig } from "./s3-store.js";

/**
 * The environment variables the store reads. The caller passes them in (the
 * one config module of each service reads process.env); nothing in this
 * package reads process.env itself.
 */
export interface StoreEnv {
  readonly XENFLEET_STORE?: string | undefined;
  readonly AWS_ACCESS_KEY_ID?: string | undefined;
  readonly AWS_SECRET_ACCESS_KEY?: string | undefined;
  readonly AWS_SESSION_TOKEN?: string | undefined;
  readonly AWS_REGION?: string | undefined;
}

/** Where a store is, once its URL is understood. */
export type StoreConfig =
  | { readonly kind: "file"; readonly root: string }
  | { readonly kind: "s3"; readonly s3: S3StoreConfig }
  | { readonly kind: "memory" };

/** The store used when neither a URL nor $XENFLEET_STORE names one. */
export const DEFAULT_STORE_PATH = "./.xenfleet/store";

const S3_PARAMS = new Set(["endpoint", "region", "pathStyle", "conditionalWrites", "partSize"]);
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Understands a store URL:
 * - `file:///abs/path`, or a plain path (relative to `cwd`);
 * - `s3://bucket/optional/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1&pathStyle=true&conditionalWrites=true&partSize=8388608`,
 *   credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN)
 *   in `env`, or else the AWS SDK's default provider chain (instance roles);
 *   credentials inside the URL are refused, since URLs end up in logs;
 * - `memory:`, a store that lives and dies with the process.
 * With no URL, `env.XENFLEET_STORE`, and failing that DEFAULT_STORE_PATH.
 */
export function parseStoreUrl(url: string | undefined, env: StoreEnv, cwd: string = process.cwd()): StoreConfig {
  const text = url === undefined || url === "" ? env.XENFLEET_STORE || DEFAULT_STORE_PATH : url;
  if (text === "memory:") return { kind: "memory" };
  if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) return { kind: "file", root: resolve(cwd, text) };
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new InvalidStoreUrlError(text, "not a URL");
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new InvalidStoreUrlError(
      redact(parsed),
      "credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }
  switch (parsed.protocol) {
    case "file:":
      return parseFile(text, parsed);
    case "s3:":
      return { kind: "s3", s3: parseS3(text, parsed, env) };
    default:
      throw new InvalidStoreUrlError(text, `unknown scheme ${parsed.protocol} (expected file:, s3: or memory:)`);
  }
}

function parseFile(text: string, parsed: URL): StoreConfig {
  if (parsed.host !== "" && parsed.host !== "localhost") {
    throw new InvalidStoreUrlError(text, "a file URL names a local path: file:///absolute/path");
  }
  if (parsed.search !== "" || parsed.hash !== "")
    throw new InvalidStoreUrlError(text, "a file URL takes no query or fragment");
  const root = fileURLToPath(parsed);
  if (!isAbsolute(root)) throw new InvalidStoreUrlError(text, "not an absolute path");
  return { kind: "file", root };
}

function parseS3(text: string, parsed: URL, env: StoreEnv): S3StoreConfig {
  const bucket = parsed.hostname;
  if (!BUCKET.test(bucket)) throw new InvalidStoreUrlError(text, `bad bucket name ${JSON.stringify(bucket)}`);
  if (parsed.port !== "")
    throw new InvalidStoreUrlError(text, "the service address goes in ?endpoint=, not after the bucket");
  for (const name of parsed.searchParams.keys()) {
    if (!S3_PARAMS.has(name))
      throw new InvalidStoreUrlError(text, `unknown parameter ${name} (known: ${[...S3_PARAMS].join(", ")})`);
  }
  const q = parsed.searchParams;
  const endpoint = q.get("endpoint") ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+\/?$/.test(endpoint)) {
    throw new InvalidStoreUrlError(text, "endpoint must be http(s)://host[:port]");
  }
  const partSizeText = q.get("partSize");
  const partSize = partSizeText === null ? undefined : Number(partSizeText);
  if (partSize !== undefined && (!Number.isSafeInteger(partSize) || partSize < 5 * 1024 * 1024)) {
    throw new InvalidStoreUrlError(text, "partSize is a byte count of at least 5 MiB");
  }
  const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } = env;
  if ((id === undefined || id === "") !== (secret === undefined || secret === "")) {
    throw new InvalidStoreUrlError(text, "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither");
  }
  const prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, "");
  return {
    bucket,
    prefix,
    region: q.get("region") ?? (env.AWS_REGION || "us-east-1"),
    forcePathStyle: flag(text, q, "pathStyle", endpoint !== undefined),
    conditionalWrites: flag(text, q, "conditionalWrites", false),
    ...(endpoint === undefined ? {} : { endpoint: endpoint.replace(/\/$/, "") }),
    ...(partSize === undefined ? {} : { partSize }),
    ...(id === undefined || id === "" || secret === undefined
      ? {}
      : { credentials: { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) } }),
  };
}

function flag(text: string, q: URLSearchParams, name: string, fallback: boolean): boolean {
  const value = q.get(name);
  if (value === null) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidStoreUrlError(text, `${name} is true or false`);
}

function redact(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}
