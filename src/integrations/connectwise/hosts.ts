import { DeskhandError } from '../../core/errors.ts';
import { isLoopbackHost } from '../http.ts';

/**
 * Which hosts deskhand trusts for a configured ConnectWise site, besides the site itself: a
 * callback's signing-key URL (`Metadata.key_url`) and the `Link` header of a paged answer may name
 * the region's other ConnectWise host (a site configured as `api-na.myconnectwise.net` has been seen
 * with key URLs on `na.myconnectwise.net`). Anything else is refused: the key URL comes from an
 * unauthenticated body, and a `Link` is followed with the API keys.
 *
 * Sources: ConnectWise's developer guide names the cloud API hosts `api-na`, `api-eu`, `api-au`
 * (`*.myconnectwise.net`) and the sandbox hosts `sandbox-na|eu|au`; NangoHQ/nango's ConnectWise
 * webhook handler (packages/server/lib/webhook/connectwise-psa-webhook-routing.ts) trusts exactly
 * `api-na|eu|au`, `sandbox-na|eu|au` and `na|eu|au` on `myconnectwise.net`. Here they are grouped by
 * region, so a site trusts only its own region's hosts. ConnectWise's staging hosts are not listed
 * in anything public we found, so they are not trusted (unverified: an MSP on staging configures
 * the staging host itself, which is always trusted). An on-premises site trusts its own host only.
 */

export const CLOUD_REGIONS: Readonly<Record<string, readonly string[]>> = {
  na: ['api-na.myconnectwise.net', 'na.myconnectwise.net', 'sandbox-na.myconnectwise.net'],
  eu: ['api-eu.myconnectwise.net', 'eu.myconnectwise.net', 'sandbox-eu.myconnectwise.net'],
  au: ['api-au.myconnectwise.net', 'au.myconnectwise.net', 'sandbox-au.myconnectwise.net'],
};

/** The region of a ConnectWise cloud host (`api-na.myconnectwise.net` → `na`), or null for any other host. */
export function cloudRegion(hostname: string): string | null {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  for (const [region, hosts] of Object.entries(CLOUD_REGIONS)) if (hosts.includes(host)) return region;
  return null;
}

/**
 * The origins (scheme, host, port) trusted for a site: the site's own; for a cloud site, every host
 * of its region over https; and `aliases`, which must be loopback URLs (the emulator's second host
 * name — only an emulated integration declares them, see index.ts).
 */
export function trustedOrigins(siteUrl: string, aliases: readonly string[] = []): ReadonlySet<string> {
  const site = new URL(siteUrl);
  const origins = new Set<string>([site.origin.toLowerCase()]);
  const region = site.protocol === 'https:' && (site.port === '' || site.port === '443') ? cloudRegion(site.hostname) : null;
  if (region) for (const host of CLOUD_REGIONS[region]!) origins.add(`https://${host}`);
  for (const alias of aliases) origins.add(loopbackAliasOrigin(alias));
  return origins;
}

/** Whether `url` is on one of the trusted origins. A URL that does not parse is not. */
export function isTrustedUrl(url: string, origins: ReadonlySet<string>): boolean {
  try {
    return origins.has(new URL(url).origin.toLowerCase());
  } catch {
    return false;
  }
}

/** The host of a URL for a log line or an error (never its path or query, which may carry ids or keys). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || 'no host';
  } catch {
    return 'not a URL';
  }
}

function loopbackAliasOrigin(alias: string): string {
  let url: URL;
  try {
    url = new URL(alias);
  } catch {
    throw new DeskhandError('config', 'A ConnectWise site alias is not a URL.');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !isLoopbackHost(url.hostname)) {
    throw new DeskhandError('config', 'A ConnectWise site alias must be a loopback URL (it names the emulator under a second host name).');
  }
  return url.origin.toLowerCase();
}

/** The emulator's second name for a loopback site URL: `127.0.0.1` ↔ `localhost`, same port; null for other hosts. */
export function loopbackAlias(siteUrl: string): string | null {
  const url = new URL(siteUrl);
  if (url.hostname === '127.0.0.1') url.hostname = 'localhost';
  else if (url.hostname === 'localhost') url.hostname = '127.0.0.1';
  else return null;
  return url.origin;
}
