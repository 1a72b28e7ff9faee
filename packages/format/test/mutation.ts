/**
 * The mutation model shared by the fuzz tests: overwrite a byte, overwrite an
 * aligned 32-bit word with a value that tends to break length and count
 * fields, cut the input short, or duplicate a slice of it.
 */
import fc from "fast-check";

export interface Mutation {
  kind: "byte" | "word" | "cut" | "dup";
  at: number;
  value: number;
}

/** Mutations whose "word" values are drawn from `words` (the values that stress the parser under test). */
export function mutation(words: readonly number[]): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("word" as const), at: fc.nat(), value: fc.constantFrom(...words) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), value: fc.integer({ min: 1, max: 64 }) }),
  );
}

export function mutate(base: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    const at = m.at % Math.max(1, bytes.length);
    if (m.kind === "byte") bytes[at] = m.value;
    else if (m.kind === "word" && at + 4 <= bytes.length) bytes.writeUInt32LE(m.value >>> 0, at - (at % 4));
    else if (m.kind === "cut") bytes = bytes.subarray(0, at);
    else if (m.kind === "dup")
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + m.value), bytes.subarray(at)]);
  }
  return bytes;
}
