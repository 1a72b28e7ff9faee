import { afterAll, beforeAll } from "vitest";
import { S3Store } from "@xenfleet/store/s3";
import { describeObjectStoreConformance, startTestS3Server, type TestS3Server } from "@xenfleet/store/testing";

let server: TestS3Server;
beforeAll(async () => {
  server = await startTestS3Server();
});
afterAll(async () => {
  await server.close();
});

// The smallest part size S3 allows, so the 12 MiB object goes up in three parts.
describeObjectStoreConformance("s3 (s3rver over HTTP)", async () => {
  const bucket = await server.createBucket();
  return {
    store: new S3Store(server.config(bucket, { partSize: 5 * 1024 * 1024, prefix: "fleet" })),
    cleanup: async () => {},
  };
});
