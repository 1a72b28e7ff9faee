/**
 * Every image of every store the fleet knows, for views that ask often (the
 * dashboard's pages, the controller's gauges). Listing a store's images
 * reads every manifest, and the answer changes only as saves land, so one
 * listing is shared by every caller for up to `maxAgeMs`.
 */
import { listImages, type ImageInfo } from "@xenfleet/image";
import type { Stores } from "./stores.js";

export interface StoreImages {
  store: string;
  images: ImageInfo[];
  /** Why the store could not be listed, when it could not. */
  problem?: string;
}

const listings = new WeakMap<Stores, { at: number; listing: Promise<StoreImages[]> }>();

export function imagesOfStores(stores: Stores, maxAgeMs: number): Promise<StoreImages[]> {
  const cached = listings.get(stores);
  if (cached !== undefined && Date.now() - cached.at < maxAgeMs) return cached.listing;
  const listing = Promise.all(
    stores.names.map(async (name): Promise<StoreImages> => {
      try {
        return { store: name, images: await listImages(await stores.get(name)) };
      } catch (err) {
        return { store: name, images: [], problem: (err as Error).message };
      }
    }),
  );
  const entry = { at: Date.now(), listing };
  listings.set(stores, entry);
  // A store that could not be listed is asked again by the next caller, not after maxAgeMs.
  void listing.then((listed) => {
    if (listed.some((s) => s.problem !== undefined) && listings.get(stores) === entry) listings.delete(stores);
  });
  return listing;
}
