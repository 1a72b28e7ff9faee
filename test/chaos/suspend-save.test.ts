/**
 * A suspend-mode save must not lose the domain when its image cannot be
 * stored: until the image is committed (its ref written), the domain must
 * stay (paused, then resumed on failure). Regression: the suspend used to
 * destroy the domain as soon as the stream was written, before the importer
 * had committed the image, so a store failure at the commit lost it.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { saveDomain } from "@xenfleet/transfer";
import { SimHost } from "@xenfleet/hypervisor";
import { LocalStore, StoreRequestError } from "@xenfleet/store";
import { FaultyStore } from "@xenfleet/store/testing";
import { checkDomains } from "./invariants.js";
import { tempDir } from "./procs.js";

const MiB = 2 ** 20;

describe("suspend save with a store that fails at the commit", () => {
  it("keeps the domain, running, with its memory (regression: suspend destroyed before the image was committed)", async () => {
    const dir = tempDir();
    try {
      const host = await SimHost.open(join(dir, "h"), { name: "h", totalMemoryBytes: 64 * MiB });
      const d = await host.createDomain({ name: "suspended", type: "pv", memoryBytes: 4 * MiB });
      const digest = (await host.digest(d.uuid)).digest;
      const store = new FaultyStore(await LocalStore.open(join(dir, "store")));
      // The data goes in; the commit (the ref) is refused, as a full disk or a dead store would.
      store.failNext("putRef", 100, () => new StoreRequestError("putRef", undefined, "refused"));
      const error = await saveDomain({ hypervisor: host, store, domain: d.uuid, mode: "suspend" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreRequestError);
      expect(await checkDomains([join(dir, "h")], [{ uuid: d.uuid, name: d.name, digest }])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
