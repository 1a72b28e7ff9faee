import { MemoryStore } from "@xenfleet/store";
import { describeObjectStoreConformance } from "@xenfleet/store/testing";

describeObjectStoreConformance("memory", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
