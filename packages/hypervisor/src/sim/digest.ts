import { createHash } from "node:crypto";
import type { DomainDigest } from "../hypervisor.js";
import type { DomainMemory } from "./memory.js";
import { type Platform, vcpuHash } from "./platform.js";

/** The oracle: SHA-256 of every page in pfn order (holes read as zeros) and of the vCPU state. */
export async function digestOf(memory: DomainMemory, platform: Platform): Promise<DomainDigest> {
  const h = createHash("sha256");
  const chunkPages = 256;
  const buf = Buffer.allocUnsafe(chunkPages * 4096);
  for (let pfn = 0; pfn < memory.pages; pfn += chunkPages) {
    const n = Math.min(chunkPages, memory.pages - pfn);
    await memory.read(pfn, n, buf);
    h.update(buf.subarray(0, n * 4096));
  }
  const mem = h.digest("hex");
  const vcpus = vcpuHash(platform);
  return { memory: mem, vcpus, digest: createHash("sha256").update(`${mem}:${vcpus}`).digest("hex") };
}
