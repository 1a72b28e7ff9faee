/** Every image of every store the fleet knows, and the stores that could not be read (shown, not fatal). */
import type { Stores } from "@xenfleet/fleet";
import { listImages, type ImageInfo } from "@xenfleet/image";

export interface StoreImages {
  store: string;
  images: ImageInfo[];
  /** Why the store could not be listed, when it could not. */
  problem?: string;
}

export async function imagesOfStores(stores: Stores): Promise<StoreImages[]> {
  return Promise.all(
    stores.names.map(async (name): Promise<StoreImages> => {
      try {
        return { store: name, images: await listImages(await stores.get(name)) };
      } catch (err) {
        return { store: name, images: [], problem: (err as Error).message };
      }
    }),
  );
}
