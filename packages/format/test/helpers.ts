import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type SampleOptions,
  StreamDecoder,
  type StreamEvent,
  type DecoderOptions,
  serializeEvent,
  writeSampleStream,
} from "../src/index.js";

export async function sampleBytes(options: SampleOptions = {}): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await writeSampleStream((chunk) => void chunks.push(chunk.slice()), options);
  return Buffer.concat(chunks);
}

/** Decodes bytes fed in the given chunk sizes (cycled); the whole stream must be valid. */
export function decodeChunked(
  bytes: Uint8Array,
  sizes: readonly number[] = [bytes.length],
  options?: DecoderOptions,
): StreamEvent[] {
  const decoder = new StreamDecoder(options);
  const events: StreamEvent[] = [];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const size = Math.max(1, sizes[i++ % sizes.length]!);
    events.push(...decoder.push(bytes.subarray(pos, pos + size)));
    pos += size;
  }
  events.push(...decoder.end());
  return events;
}

export function reserialize(events: readonly StreamEvent[]): Buffer {
  return Buffer.concat(events.flatMap((e) => serializeEvent(e)));
}

/** Bytes with some replaced, as a new buffer. */
export function patch(bytes: Uint8Array, at: number, replacement: ArrayLike<number>): Uint8Array {
  const out = Uint8Array.from(bytes);
  out.set(replacement, at);
  return out;
}

export function u32(value: number, little = true): Uint8Array {
  const b = Buffer.alloc(4);
  if (little) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

/** Offset of the first record of this type in a decoded stream. */
export function findEvent(events: readonly StreamEvent[], pred: (e: StreamEvent) => boolean): StreamEvent {
  const found = events.find(pred);
  if (!found) throw new Error("event not found");
  return found;
}

export const XEN_VERIFY = "/usr/lib/xen-4.17/bin/verify-stream-v2";
export const XEN_PYTHONPATH = "/usr/lib/xen-4.17/lib/python";
export const xenVerifierPresent = existsSync(XEN_VERIFY) && existsSync(XEN_PYTHONPATH);

export interface XenVerdict {
  code: number;
  stderr: string;
}

/** Runs Xen's verify-stream-v2 on a file holding `bytes` (it reads unbuffered: files, never pipes). */
export async function xenVerify(bytes: Uint8Array, format: "xl" | "libxl" | "libxc"): Promise<XenVerdict> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-format-test-"));
  try {
    const file = join(dir, "stream.bin");
    await writeFile(file, bytes);
    return await new Promise<XenVerdict>((resolve, reject) => {
      execFile(
        "python3",
        [XEN_VERIFY, "-f", format, "-i", file],
        { env: { ...process.env, PYTHONPATH: XEN_PYTHONPATH }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) => {
          if (error && typeof error.code !== "number") return reject(error);
          resolve({ code: error ? (error.code as number) : 0, stderr });
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
