import { describe, expect, it, vi } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import {
  type CallbackPayload,
  callbackSignature,
  parseCallback,
  SigningKeyCache,
  ticketIntakeFromCallback,
  verifyCallbackSignature,
} from './webhook.ts';

const SITE = 'https://na.myconnectwise.net';
const KEY_URL = `${SITE}/v2025_1//system/callbackkey/index.rails?companyName=northwind&id=8a1b7c7e-0000-4000-8000-000000000001`;
const SIGNING_KEY = 'test-signing-key';

function callbackBody(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    MessageId: '0b7a3a8e-1111-4222-8333-444455556666',
    FromUrl: 'na.myconnectwise.net',
    CompanyId: 'northwind',
    MemberId: 'portal',
    Action: 'added',
    Type: 'ticket',
    ID: 50_001,
    Entity: JSON.stringify({ id: 50_001, summary: 'Need Zendesk', closedFlag: false, company: { id: 7, identifier: 'contoso' } }),
    Metadata: { key_url: KEY_URL },
    CallbackObjectRecId: 26_551,
    ...overrides,
  });
}

async function expectDeskhandError(promise: Promise<unknown> | (() => unknown), code: string): Promise<DeskhandError> {
  const error = await (typeof promise === 'function' ? Promise.resolve().then(promise) : promise).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  expect((error as DeskhandError).code).toBe(code);
  return error as DeskhandError;
}

describe('parseCallback', () => {
  it('reads the documented payload, parsing the Entity string a second time', () => {
    const payload = parseCallback(callbackBody());
    expect(payload).toMatchObject({
      messageId: '0b7a3a8e-1111-4222-8333-444455556666',
      companyId: 'northwind',
      memberId: 'portal',
      action: 'added',
      type: 'ticket',
      id: 50_001,
      keyUrl: KEY_URL,
      callbackObjectRecId: 26_551,
    });
    expect(payload.entity).toMatchObject({ id: 50_001, summary: 'Need Zendesk' });
  });

  it('reads keys case-insensitively (MessageID, lower-case keys, numeric strings)', () => {
    const raw = JSON.stringify({
      MessageID: 'm-1',
      memberid: 'TRivera',
      ACTION: 'Updated',
      type: 'Ticket',
      Id: '42',
      entity: '{"id":42,"summary":"x"}',
      metadata: { KEY_URL: KEY_URL },
    });
    const payload = parseCallback(raw);
    expect(payload).toMatchObject({ messageId: 'm-1', memberId: 'TRivera', action: 'updated', type: 'ticket', id: 42, keyUrl: KEY_URL });
    expect(payload.callbackObjectRecId).toBeNull();
  });

  it('gives a null entity on deleted', () => {
    expect(parseCallback(callbackBody({ Action: 'deleted', Entity: null })).entity).toBeNull();
  });

  it('refuses malformed JSON, wrong shapes and an unreadable Entity as bad_request', async () => {
    const notJson = await expectDeskhandError(() => parseCallback('{"MessageId": '), 'bad_request');
    expect(notJson.message).toMatch(/not valid JSON/);
    await expectDeskhandError(() => parseCallback('[1,2]'), 'bad_request');
    const noKey = await expectDeskhandError(() => parseCallback(callbackBody({ Metadata: {} })), 'bad_request');
    expect(noKey.message).toMatch(/Metadata\.key_url/);
    const badAction = await expectDeskhandError(() => parseCallback(callbackBody({ Action: 'exploded' })), 'bad_request');
    expect(badAction.message).toMatch(/Action/);
    await expectDeskhandError(() => parseCallback(callbackBody({ ID: 'abc' })), 'bad_request');
    const badEntity = await expectDeskhandError(() => parseCallback(callbackBody({ Entity: '{"id":' })), 'bad_request');
    expect(badEntity.message).toMatch(/Entity/);
  });
});

describe('callbackSignature', () => {
  it('is base64(HMAC-SHA256(key = SHA-256(signing key), body)) — vector computed with openssl', () => {
    // printf '%s' test-signing-key | openssl dgst -sha256 -binary → hex key;
    // openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -binary body | base64
    expect(callbackSignature(SIGNING_KEY, '{"MessageId":"x","ID":1}')).toBe('AcfP6+w2gpclMB0Yf6Fn3HNV5HE0Oa/IJ+0oSE5T1fs=');
  });
});

describe('verifyCallbackSignature', () => {
  const rawBody = callbackBody();
  const goodSignature = callbackSignature(SIGNING_KEY, rawBody);

  function verify(overrides: Partial<Parameters<typeof verifyCallbackSignature>[0]> = {}) {
    const fetchSigningKey = vi.fn(async (_url: string) => SIGNING_KEY);
    const promise = verifyCallbackSignature({
      rawBody,
      signatureHeader: goodSignature,
      keyUrl: KEY_URL,
      configuredSiteUrl: SITE,
      fetchSigningKey,
      cache: new SigningKeyCache(),
      ...overrides,
    });
    return { promise, fetchSigningKey: overrides.fetchSigningKey ?? fetchSigningKey };
  }

  it('accepts a correctly signed callback from the configured site', async () => {
    const { promise, fetchSigningKey } = verify();
    await expect(promise).resolves.toBeUndefined();
    expect(fetchSigningKey).toHaveBeenCalledWith(KEY_URL);
  });

  it('accepts the body as a Buffer and the header as an array', async () => {
    await expect(verify({ rawBody: Buffer.from(rawBody), signatureHeader: [goodSignature] }).promise).resolves.toBeUndefined();
  });

  it('refuses a forged signature', async () => {
    const forged = callbackSignature('attacker-key', rawBody);
    const error = await expectDeskhandError(verify({ signatureHeader: forged }).promise, 'unauthorized');
    expect(error.message).toMatch(/signature does not match/);
  });

  it('refuses a body changed after signing', async () => {
    const tampered = rawBody.replace('"portal"', '"deskhand"');
    await expectDeskhandError(verify({ rawBody: tampered }).promise, 'unauthorized');
  });

  it('refuses a missing header without fetching anything', async () => {
    const { promise, fetchSigningKey } = verify({ signatureHeader: undefined });
    const error = await expectDeskhandError(promise, 'unauthorized');
    expect(error.message).toMatch(/x-content-signature/);
    expect(fetchSigningKey).not.toHaveBeenCalled();
    await expectDeskhandError(verify({ signatureHeader: '  ' }).promise, 'unauthorized');
  });

  it('refuses a key URL on another host, port or scheme without fetching it (SSRF guard)', async () => {
    for (const keyUrl of [
      'https://evil.example/system/callbackkey/index.rails?id=1',
      'https://na.myconnectwise.net:8443/v2025_1/system/callbackkey/index.rails?id=1',
      'http://na.myconnectwise.net/v2025_1/system/callbackkey/index.rails?id=1',
      'https://na.myconnectwise.net.evil.example/system/callbackkey/index.rails?id=1',
      'not a url',
    ]) {
      const { promise, fetchSigningKey } = verify({ keyUrl });
      const error = await expectDeskhandError(promise, 'unauthorized');
      expect(error.message).toMatch(/refus/);
      expect(fetchSigningKey).not.toHaveBeenCalled();
    }
  });

  it('compares host and port for local sites too', async () => {
    const site = 'http://127.0.0.1:4010';
    const keyUrl = 'http://127.0.0.1:4011/v4_6_release/system/callbackkey/index.rails?id=1';
    const { promise, fetchSigningKey } = verify({ configuredSiteUrl: site, keyUrl });
    await expectDeskhandError(promise, 'unauthorized');
    expect(fetchSigningKey).not.toHaveBeenCalled();
  });

  it('caches the key per key URL, and looks again once when a cached key no longer matches (rotation)', async () => {
    const cache = new SigningKeyCache();
    let current = SIGNING_KEY;
    const fetchSigningKey = vi.fn(async () => current);
    const input = { rawBody, keyUrl: KEY_URL, configuredSiteUrl: SITE, fetchSigningKey, cache };
    await verifyCallbackSignature({ ...input, signatureHeader: goodSignature });
    await verifyCallbackSignature({ ...input, signatureHeader: goodSignature });
    expect(fetchSigningKey).toHaveBeenCalledTimes(1);

    current = 'rotated-key';
    await verifyCallbackSignature({ ...input, signatureHeader: callbackSignature('rotated-key', rawBody) });
    expect(fetchSigningKey).toHaveBeenCalledTimes(2);

    // A forgery costs at most one extra fetch, then is refused.
    await expectDeskhandError(verifyCallbackSignature({ ...input, signatureHeader: 'AAAA' }), 'unauthorized');
    expect(fetchSigningKey).toHaveBeenCalledTimes(3);
  });

  it('passes key-fetch failures through instead of calling them forgeries', async () => {
    const failing = vi.fn(async () => {
      throw new DeskhandError('upstream_retryable', 'ConnectWise could not be reached');
    });
    await expectDeskhandError(verify({ fetchSigningKey: failing }).promise, 'upstream_retryable');
  });
});

describe('SigningKeyCache', () => {
  it('expires entries after the TTL and stays within its size bound', async () => {
    let now = 5_000;
    const cache = new SigningKeyCache({ ttlMs: 1_000, maxEntries: 2, now: () => now });
    const load = vi.fn(async (url: string) => `key-for-${url}`);
    expect(await cache.get('a', load)).toEqual({ key: 'key-for-a', fresh: true });
    expect(await cache.get('a', load)).toEqual({ key: 'key-for-a', fresh: false });
    now = 6_001;
    expect((await cache.get('a', load)).fresh).toBe(true);
    await cache.get('b', load);
    await cache.get('c', load);
    expect(cache.size).toBe(2);
  });

  it('does not keep a failed fetch', async () => {
    const cache = new SigningKeyCache();
    await expect(cache.get('a', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(cache.size).toBe(0);
  });
});

describe('ticketIntakeFromCallback', () => {
  const self = { apiMemberIdentifier: 'deskhand' };
  const payload = (overrides: Partial<CallbackPayload> = {}): CallbackPayload => ({ ...parseCallback(callbackBody()), ...overrides });

  it('creates a request for a ticket added by someone else', () => {
    const decision = ticketIntakeFromCallback(payload(), self);
    expect(decision).toMatchObject({ create: true, ticketId: 50_001, companyIdentifier: 'contoso', memberId: 'portal' });
    expect(decision.create && decision.ticket?.summary).toBe('Need Zendesk');
  });

  it("ignores deskhand's own changes, whatever the identifier's case", () => {
    expect(ticketIntakeFromCallback(payload({ memberId: 'DeskHand' }), self)).toMatchObject({ create: false, reason: 'own_change' });
  });

  it('ignores updates, deletions, other record types and tickets created closed', () => {
    expect(ticketIntakeFromCallback(payload({ action: 'updated' }), self)).toMatchObject({ create: false, reason: 'not_added' });
    expect(ticketIntakeFromCallback(payload({ action: 'deleted', entity: null }), self)).toMatchObject({ create: false, reason: 'not_added' });
    expect(ticketIntakeFromCallback(payload({ type: 'contact' }), self)).toMatchObject({ create: false, reason: 'not_a_ticket' });
    const closed = payload({ entity: { id: 50_001, summary: 'done', closedFlag: true } });
    expect(ticketIntakeFromCallback(closed, self)).toMatchObject({ create: false, reason: 'closed' });
  });

  it('still creates (to be reloaded through the API) when the entity is missing or about another record', () => {
    const decision = ticketIntakeFromCallback(payload({ entity: { id: 1, summary: 'other' } }), self);
    expect(decision).toMatchObject({ create: true, ticketId: 50_001, ticket: null, companyIdentifier: null });
  });
});
