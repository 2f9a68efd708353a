import { constantTimeEqual } from '../../secrets.ts';

/**
 * The URL deskhand registers for ConnectWise callbacks, and how the webhook route reads the secret
 * back out of it.
 *
 * ConnectWise is reported (by integrators; not in its own docs) to append the record id to the
 * registered URL by plain string concatenation: a URL ending in `/<secret>` is called as
 * `/<secret>57937`. So the URL deskhand registers ends in a query parameter that takes the id
 * (`/<secret>?recordId=` is called as `/<secret>?recordId=57937`), and the secret stays a whole
 * path segment whether or not the id is appended. The id in the URL is never trusted: the record
 * comes from the signed body.
 *
 * A registration made before this change (`/<secret>`, no query) is updated by `onConnect` at the
 * next start; until then its callbacks arrive as `/<secret><digits>`. Those are accepted only when
 * the digits are exactly the record id of the (signed) callback they came with, so that the secret
 * followed by anything else is still an unknown URL.
 */

export const RECORD_ID_PARAMETER = 'recordId';

/** What ConnectWise may append to the old form: a record id, digits only. */
const APPENDED_ID = /^\d{1,15}$/;

/** `<base>/webhooks/<kind>/<integration>/<secret>?recordId=`: the form registered now. */
export function callbackUrl(webhookBaseUrl: string, kind: string, integrationId: string, secret: string): string {
  return `${oldFormCallbackUrl(webhookBaseUrl, kind, integrationId, secret)}?${RECORD_ID_PARAMETER}=`;
}

/** `<base>/webhooks/<kind>/<integration>/<secret>`: the form registered before, which an appended id breaks. */
export function oldFormCallbackUrl(webhookBaseUrl: string, kind: string, integrationId: string, secret: string): string {
  return `${webhookBaseUrl.replace(/\/+$/, '')}/webhooks/${kind}/${integrationId}/${secret}`;
}

export type SecretSegmentMatch =
  /** The segment is the secret (the current form, or the old form without an id). */
  | { match: 'exact' }
  /** The segment is the secret with digits appended (the old form, as ConnectWise calls it). */
  | { match: 'appended'; recordId: number }
  | { match: 'none' };

/**
 * Reads the URL's secret path segment against the integration's secret. Only the secret's own
 * characters are compared, in constant time; what follows it must be digits.
 */
export function matchSecretSegment(secret: string, segment: string): SecretSegmentMatch {
  if (secret === '') return { match: 'none' };
  if (segment.length === secret.length) return constantTimeEqual(secret, segment) ? { match: 'exact' } : { match: 'none' };
  if (segment.length < secret.length) return { match: 'none' };
  const tail = segment.slice(secret.length);
  const head = segment.slice(0, secret.length);
  // Compare first, whatever the tail: the time taken says nothing about which part was wrong.
  const same = constantTimeEqual(secret, head);
  if (!same || !APPENDED_ID.test(tail)) return { match: 'none' };
  return { match: 'appended', recordId: Number(tail) };
}
