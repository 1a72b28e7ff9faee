/**
 * The store as image commands open it, and images named on a command line.
 * Every command but `image import` opens the store only if it exists: a
 * mistyped path is StoreMissingError (exit code 3, the store could not be
 * reached where it was said to be), never a new empty store.
 */
import { ImageNotFoundError, ImageUsageError, listImageRefs, type Sha256Id } from "@xenfleet/image";
import {
  openInnerStore,
  openStoreConfig,
  parseStoreUrl,
  type ObjectStore,
  type OpenStoreOptions,
  type StoreConfig,
  type StoreKeySource,
} from "@xenfleet/store";
import { configuredStoreAt, storeKey } from "./fleet-options.js";

/** Where `location` is and the key it is opened with (--key-file, else as configured, else XENFLEET_PASSPHRASE). */
export function imageStoreOf(
  location: string | undefined,
  keyFile: string | undefined,
): { config: StoreConfig; key: StoreKeySource | undefined } {
  const configured = configuredStoreAt(location);
  return {
    config: configured?.config ?? parseStoreUrl(location, process.env),
    key: storeKey(keyFile, configured?.key),
  };
}

/**
 * The store at `location`; a configured store (XENFLEET_STORES) is opened
 * with its own credentials. An encrypted store is opened with its key.
 */
export function openImageStore(
  location: string | undefined,
  options: { create: boolean; keyFile?: string | undefined },
): Promise<ObjectStore> {
  const { config, key } = imageStoreOf(location, options.keyFile);
  return openStoreConfig(config, { create: options.create, ...(key === undefined ? {} : { key }) });
}

/** The store itself, not unlocked (its header and key ring are read as they are): for init and key commands. */
export function openInnerImageStore(location: string | undefined, options: OpenStoreOptions): Promise<ObjectStore> {
  return openInnerStore(imageStoreOf(location, undefined).config, options);
}

/**
 * An image a ref holds, by its id or an unambiguous prefix of at least 8
 * hex digits. An id no ref holds is ImageNotFoundError (exit code 2).
 */
export async function resolveImageId(store: ObjectStore, text: string): Promise<Sha256Id> {
  const wanted = text.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(wanted))
    throw new ImageUsageError(`not an image id: ${JSON.stringify(text)} (64 hex digits, or a prefix of at least 8)`);
  const matches = [...new Set((await listImageRefs(store)).map((r) => r.id).filter((id) => id.startsWith(wanted)))];
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new ImageNotFoundError(text);
  throw new ImageUsageError(`${text} is ambiguous: ${matches.length} images start with it`);
}
