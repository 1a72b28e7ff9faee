import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { S3StoreConfig } from "../s3-store.js";

/** s3rver's fixed credentials. */
const ACCESS_KEY = "S3RVER";
const SECRET_KEY = "S3RVER";

/**
 * The server process. s3rver (3.7.1, unmaintained) has two faults that
 * matter to us, both worked around here, inside its own process:
 * - its ListObjectsV2 continuation tokens use DES, which OpenSSL 3 only has
 *   in the legacy provider: the process runs with --openssl-legacy-provider;
 * - it lists keys in whatever order the filesystem returns directory
 *   entries, and pages with "skip keys <= the last one", so pages lose keys
 *   unless entries come sorted: readdirSync is wrapped to return them in
 *   S3's order (by key, a directory sorting as its name plus "/").
 * - it writes an upload straight to the object's file, so an upload whose
 *   connection drops stays visible as a partial object; S3 makes an object
 *   visible only once complete and refuses a body shorter than its
 *   Content-Length (IncompleteBody). putObject is replaced by one that writes
 *   a temp file and renames it into place only when every byte arrived.
 * It exits when its stdin closes, so it never outlives the test process.
 */
const SERVER_SCRIPT = `
const fs = require("fs");
const path = require("path");
const SUFFIX = "._S3rver_object";
const readdirSync = fs.readdirSync;
fs.readdirSync = function (dir, options) {
  const names = readdirSync.call(fs, dir, options);
  if (options !== undefined) return names;
  const sortKey = (name) => {
    if (name.endsWith(SUFFIX)) return name.slice(0, -SUFFIX.length);
    try { return fs.statSync(path.join(String(dir), name)).isDirectory() ? name + "/" : name + "\\u0000"; } catch { return name; }
  };
  return names.map((n) => [sortKey(n), n]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((p) => p[1]);
};
const S3rver = require(process.argv[1]);
const lib = path.dirname(process.argv[1]);
const crypto = require("crypto");
const http = require("http");
const { Readable, Transform } = require("stream");
const { pipeline } = require("stream/promises");
const FilesystemStore = require(path.join(lib, "stores", "filesystem.js"));
const S3Error = require(path.join(lib, "models", "error.js"));
FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  const partial = this.getResourcePath(object.bucket, object.key, "partial-" + crypto.randomBytes(6).toString("hex"));
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const md5 = crypto.createHash("md5");
  let size = 0;
  const count = new Transform({ transform(chunk, _encoding, callback) { md5.update(chunk); size += chunk.length; callback(null, chunk); } });
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  try {
    await pipeline(source, count, fs.createWriteStream(partial));
    if (object.content instanceof http.IncomingMessage && size !== object.size) {
      throw new S3Error("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    }
    await fs.promises.rename(partial, objectPath);
  } catch (error) {
    await fs.promises.rm(partial, { force: true });
    throw error;
  }
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: process.argv[2] });
server.run().then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + "\\n"));
process.stdin.on("end", () => server.close().finally(() => process.exit(0)));
process.stdin.resume();
`;

export interface TestS3Server {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  /** Creates a fresh, empty bucket and returns its name. */
  createBucket(): Promise<string>;
  /** An S3StoreConfig for a bucket of this server. */
  config(bucket: string, extra?: Partial<S3StoreConfig>): S3StoreConfig;
  /** The store URL and env for openStore. */
  url(bucket: string): { url: string; env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string } };
  close(): Promise<void>;
}

/**
 * Starts an S3-compatible server (s3rver in a child process, data in a temp
 * directory) on 127.0.0.1 at a free port, for tests that need S3 over real
 * HTTP: PutObject, ranged GetObject, ListObjectsV2 with continuation,
 * multipart uploads. s3rver ignores conditional-write headers, so stores
 * against it run with conditionalWrites off.
 */
export async function startTestS3Server(): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), "xenfleet-s3rver-"));
  const s3rverPath = createRequire(import.meta.url).resolve("s3rver");
  const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", SERVER_SCRIPT, s3rverPath, directory], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => String(line)),
    exited.then(([code]) => {
      throw new Error(`test S3 server exited with code ${String(code)} before listening`);
    }),
  ]);
  const { port } = JSON.parse(first) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    async createBucket() {
      const bucket = `test-${randomBytes(6).toString("hex")}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    config(bucket, extra = {}) {
      return { bucket, endpoint, region: "us-east-1", forcePathStyle: true, credentials, ...extra };
    },
    url(bucket) {
      return {
        url: `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&pathStyle=true`,
        env: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY },
      };
    },
    async close() {
      client.destroy();
      lines.close();
      child.stdin.end();
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}
