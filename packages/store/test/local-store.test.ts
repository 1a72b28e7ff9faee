import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStore } from "@xenfleet/store";
import { describeObjectStoreConformance } from "@xenfleet/store/testing";

describeObjectStoreConformance("filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "xenfleet-store-"));
  return { store: await LocalStore.open(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});
