/**
 * The ConnectWise API version deskhand is written against, pinned in the `Accept` header of every
 * API call, as ConnectWise recommends for production integrations ("PSA Versioning" in its developer
 * guide: `Accept: application/vnd.connectwise.com+json; version=2019.1`; without it a call gets the
 * latest models, which may change under a running integration). Versions follow the PSA releases
 * (`YYYY.N`); a version that did not change a model gets that model's previous version.
 *
 * 2025.16 is the version of ConnectWise's published OpenAPI document that the audit of this client
 * read (records, fields and paths in schemas.ts). Moving to a newer version: read the release's
 * model changes for tickets, notes, companies, contacts, members, boards and callbacks, then change
 * it here (and in the README).
 */
export const CONNECTWISE_API_VERSION = '2025.16';

export const CONNECTWISE_MEDIA_TYPE = 'application/vnd.connectwise.com+json';

/** `application/vnd.connectwise.com+json; version=2025.16` */
export const CONNECTWISE_ACCEPT = `${CONNECTWISE_MEDIA_TYPE}; version=${CONNECTWISE_API_VERSION}`;

/** A PSA release version: year, a dot, the release number (2019.1 … 2025.16). */
export const API_VERSION_PATTERN = /^20\d{2}\.\d{1,2}$/;

/**
 * What an `Accept` header asks of ConnectWise: no pinned version (`null`: the latest), a version,
 * or a malformed one (the vendor media type with a `version` parameter that is not a release).
 */
export function requestedApiVersion(accept: string | undefined): { version: string | null } | { malformed: string } {
  if (accept === undefined) return { version: null };
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((part) => part.trim());
    if (type?.toLowerCase() !== CONNECTWISE_MEDIA_TYPE) continue;
    const version = params.map((p) => /^version\s*=\s*"?([^"]*)"?$/i.exec(p)?.[1]).find((v) => v !== undefined);
    if (version === undefined) return { version: null };
    return API_VERSION_PATTERN.test(version) ? { version } : { malformed: version.slice(0, 40) };
  }
  return { version: null };
}
