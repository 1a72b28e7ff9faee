import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { EncryptedStore } from "@xenfleet/store";
import { S3Store } from "@xenfleet/store/s3";
import { describeObjectStoreConformance, startTestS3Server, type TestS3Server } from "@xenfleet/store/testing";

let server: TestS3Server;
beforeAll(async () => {
  server = await startTestS3Server();
});
afterAll(async () => {
  await server.close();
});

// Range reads of segments and streamed multipart puts, over HTTP.
describeObjectStoreConformance("encrypted over s3 (s3rver over HTTP)", async () => {
  const bucket = await server.createBucket();
  return {
    store: new EncryptedStore(
      new S3Store(server.config(bucket, { partSize: 5 * 1024 * 1024, prefix: "fleet" })),
      randomBytes(32),
    ),
    cleanup: async () => {},
  };
});
