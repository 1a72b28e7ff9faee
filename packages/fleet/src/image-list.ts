/**
 * Images as people see them (`xenfleet image ls`, the dashboard): named by
 * the domain's name, with its labels, sizes, new bytes, last verification
 * and last health check; and each domain's last good image.
 */
import type { HealthCheck, ImageInfo, Manifest, Verification } from "@xenfleet/image";

/** What `image ls` and `image show` say of an image, as JSON. */
export function imageJson(i: {
  id: string;
  domain: string;
  created: Date;
  manifest: Manifest | undefined;
  protected: boolean;
  verification?: Verification | undefined;
  health?: HealthCheck | undefined;
}) {
  const m = i.manifest;
  const v = i.verification;
  const h = i.health;
  return {
    imageId: i.id,
    domain: domainName(i),
    uuid: m?.domain.uuid ?? null,
    host: m?.host ?? null,
    labels: m?.labels ?? [],
    protected: i.protected,
    created: i.created.toISOString(),
    bytesTotal: m?.streamBytes ?? null,
    /** What the image added to the store when it was made; null for images made before that was recorded. */
    bytesNew: m?.bytesNew ?? null,
    pages: m?.pages ?? null,
    zeroPages: m?.zeroPages ?? null,
    parent: m?.parent ?? null,
    ...(m?.parentSkipped === undefined ? {} : { parentSkipped: m.parentSkipped }),
    domainType: m?.domainType ?? null,
    source: m?.source.kind ?? null,
    broken: m === undefined || v?.ok === false,
    /** The last verification (`image verify`, verify jobs): when, whether it passed and what was wrong; null if never. */
    verified:
      v === undefined ? null : { at: v.at, ok: v.ok, ...(v.problem === undefined ? {} : { problem: v.problem }) },
    /** The last health check (`image health-check`): when, where, passed or why not; null if never. */
    healthCheck: h === undefined ? null : { ...h },
  };
}

export type ImageJson = ReturnType<typeof imageJson>;

/**
 * The domain's name: as its host knew it (fleet saves file images under the
 * uuid and record the name), else the name the image is filed under unless
 * that is only the uuid.
 */
export function domainName(i: { domain: string; manifest: Manifest | undefined }): string | null {
  if (i.manifest?.domainName !== undefined) return i.manifest.domainName;
  return i.domain === i.manifest?.domain.uuid ? null : i.domain;
}

export interface ImageFilters {
  domain?: string;
  host?: string;
  since?: Date;
  label?: string[];
  latest?: boolean;
}

/** The images the filters let through, by the domain's name, then oldest first. */
export function selectImages(images: readonly ImageInfo[], f: ImageFilters = {}): ImageInfo[] {
  const wanted = f.domain?.toLowerCase();
  const chosen = images.filter(
    (i) =>
      (wanted === undefined ||
        i.domain === f.domain ||
        i.manifest?.domain.uuid === wanted ||
        i.manifest?.domainName === f.domain) &&
      (f.host === undefined || i.manifest?.host === f.host) &&
      (f.since === undefined || i.created >= f.since) &&
      (f.label === undefined || f.label.every((l) => i.manifest?.labels?.includes(l))),
  );
  // By the domain's name, then oldest first (fleet saves are filed under the uuid: that order means nothing to people).
  const name = (i: ImageInfo) => domainName(i) ?? i.domain;
  chosen.sort((a, b) => name(a).localeCompare(name(b)) || a.created.getTime() - b.created.getTime());
  if (!f.latest) return chosen;
  // The newest image of each domain its images are filed under (a fleet save's: its uuid).
  const newest = new Map<string, ImageInfo>();
  for (const i of chosen) {
    const best = newest.get(i.domain);
    if (best === undefined || i.created >= best.created) newest.set(i.domain, i);
  }
  return chosen.filter((i) => newest.get(i.domain) === i);
}

/**
 * Each domain's newest good image, by uuid: its manifest reads and no
 * verification found it broken. What an operator alerts on when it is old.
 */
export function lastGoodImages(images: readonly ImageInfo[]): Map<string, ImageInfo> {
  const good = new Map<string, ImageInfo>();
  for (const i of images) {
    const uuid = i.manifest?.domain.uuid;
    if (uuid === undefined || i.verification?.ok === false) continue;
    const best = good.get(uuid);
    if (best === undefined || i.created > best.created) good.set(uuid, i);
  }
  return good;
}
