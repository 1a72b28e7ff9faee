/** What a page is: a path in the navigation and a function rendering its live region. */
import type { RedisClient } from "@xenfleet/jobs";
import type { Stores } from "@xenfleet/fleet";
import type { Html } from "./html.js";

export interface PageContext {
  redis: RedisClient;
  prefix: string;
  /** The fleet's stores, as its workers know them (the images page lists each). */
  stores: Stores;
  /** The CSRF token the page's forms carry. */
  csrf: string;
}

export interface Page {
  path: string;
  title: string;
  render(ctx: PageContext): Promise<Html>;
}

/**
 * Pages refresh every few seconds in every open browser; listing the images
 * reads every manifest, so page loads within this many ms share one listing.
 */
export const LISTING_MAX_AGE_MS = 5000;
