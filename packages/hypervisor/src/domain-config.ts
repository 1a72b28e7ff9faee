/**
 * A domain's identity in its libxl config (the JSON an xl header carries):
 * c_info.name and c_info.uuid. A restore under another name or uuid writes
 * them here, so the domain's own config says who it is, in every backend.
 */

/** The config with the name and uuid given set in c_info (the others kept). */
export function withIdentity(
  config: Record<string, unknown>,
  identity: { name?: string; uuid?: string },
): Record<string, unknown> {
  const cInfo =
    config.c_info !== null && typeof config.c_info === "object" ? (config.c_info as Record<string, unknown>) : {};
  return {
    ...config,
    c_info: {
      ...cInfo,
      ...(identity.name !== undefined ? { name: identity.name } : {}),
      ...(identity.uuid !== undefined ? { uuid: identity.uuid } : {}),
    },
  };
}
