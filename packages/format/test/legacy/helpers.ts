import { openLegacyAsV2, type ConvertOptions } from "../../src/legacy/index.js";

export async function convertAll(input: Uint8Array | Uint8Array[], options: ConvertOptions = {}): Promise<Buffer> {
  const { chunks } = await openLegacyAsV2(Array.isArray(input) ? input : [input], options);
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}
