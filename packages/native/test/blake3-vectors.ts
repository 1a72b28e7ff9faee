/**
 * Official BLAKE3 test vectors (hash mode, first 32 bytes of each output), from
 * test_vectors/test_vectors.json of the BLAKE3 reference repository
 * (github.com/BLAKE3-team/BLAKE3). Input of length n: bytes i % 251 for i < n.
 */
export const BLAKE3_VECTORS: ReadonlyArray<{ length: number; hash: string }> = [
  { length: 0, hash: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" },
  { length: 1, hash: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213" },
  { length: 1023, hash: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11" },
  { length: 1024, hash: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7" },
  { length: 1025, hash: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444" },
  { length: 2048, hash: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a" },
  { length: 2049, hash: "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030" },
  { length: 3072, hash: "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2" },
  { length: 3073, hash: "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3" },
  { length: 4096, hash: "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969" },
  { length: 4097, hash: "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995" },
  { length: 5120, hash: "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833" },
  { length: 6144, hash: "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205" },
  { length: 7168, hash: "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a" },
];

/** The vectors' input: n bytes of the repeating sequence 0, 1, ..., 250. */
export function vectorInput(length: number): Buffer {
  const input = Buffer.alloc(length);
  for (let i = 0; i < length; i++) input[i] = i % 251;
  return input;
}
