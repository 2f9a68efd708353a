import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { ConnectWiseClient } from './client.ts';
import { type ConnectWiseEmulator, emulatorApiCredentials, emulatorPortalCredentials, startConnectWiseEmulator } from './emulator/index.ts';
import { CLOUD_REGIONS, cloudRegion, loopbackAlias, trustedOrigins } from './hosts.ts';
import { callbackSignature, SigningKeyCache, verifyCallbackSignature } from './webhook.ts';

/**
 * The hosts trusted for a site: its own, its region's ConnectWise cloud hosts, and (for the
 * emulator only) a loopback alias. The emulator serves its key URLs and Link headers on its second
 * host name (`localhost` for `127.0.0.1`), so a client that trusts only the configured host cannot
 * page or verify a callback; one that declares the alias can; anything else is refused.
 */

describe('trustedOrigins (the table)', () => {
  it('trusts the region of a cloud site, and only that region', () => {
    const na = trustedOrigins('https://api-na.myconnectwise.net');
    expect([...na].sort()).toEqual(['https://api-na.myconnectwise.net', 'https://na.myconnectwise.net', 'https://sandbox-na.myconnectwise.net']);
    expect(trustedOrigins('https://na.myconnectwise.net').has('https://api-na.myconnectwise.net')).toBe(true);
    expect(trustedOrigins('https://sandbox-eu.myconnectwise.net').has('https://api-eu.myconnectwise.net')).toBe(true);
    expect(trustedOrigins('https://api-au.myconnectwise.net').has('https://api-na.myconnectwise.net')).toBe(false);
    for (const [region, hosts] of Object.entries(CLOUD_REGIONS)) for (const host of hosts) expect(cloudRegion(host)).toBe(region);
  });

  it('trusts an on-premises site, a site on another port or over http, and a look-alike, as their own host only', () => {
    expect([...trustedOrigins('https://cw.msp.example/')]).toEqual(['https://cw.msp.example']);
    expect([...trustedOrigins('https://api-na.myconnectwise.net:8443')]).toEqual(['https://api-na.myconnectwise.net:8443']);
    expect(cloudRegion('na.myconnectwise.net.evil.example')).toBeNull();
    expect(cloudRegion('evil-na.myconnectwise.net')).toBeNull();
  });

  it('takes loopback aliases only', () => {
    expect(trustedOrigins('http://127.0.0.1:4010', ['http://localhost:4010']).has('http://localhost:4010')).toBe(true);
    expect(() => trustedOrigins('https://api-na.myconnectwise.net', ['https://evil.example'])).toThrow(DeskhandError);
    expect(() => trustedOrigins('https://api-na.myconnectwise.net', ['not a url'])).toThrow(/not a URL/);
    expect(loopbackAlias('http://127.0.0.1:4010')).toBe('http://localhost:4010');
    expect(loopbackAlias('http://localhost:4010/')).toBe('http://127.0.0.1:4010');
    expect(loopbackAlias('https://api-na.myconnectwise.net')).toBeNull();
  });
});

describe('following Link headers on the region host (real HTTP to the emulator)', () => {
  let emulator: ConnectWiseEmulator;

  beforeAll(async () => {
    emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
    const portal = new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') });
    for (const summary of ['one', 'two', 'three']) await portal.createTicket({ summary, company: { identifier: 'contoso' } });
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('serves its Link headers on its second host name', async () => {
    expect(emulator.aliasUrl).toBe(`http://localhost:${emulator.port}`);
  });

  it('pages on the alias when the client declares it, and refuses to follow it when not', async () => {
    const keys = emulatorApiCredentials('northwind');
    const trusting = new ConnectWiseClient({ siteUrl: emulator.url, siteAliases: [emulator.aliasUrl!], ...keys });
    expect((await trusting.listTickets({ pageSize: 1 })).map((t) => t.summary)).toEqual(['one', 'two', 'three']);
    const pages = emulator.requests().filter((r) => r.method === 'GET' && r.path.endsWith('/service/tickets'));
    expect(pages.map((r) => new URLSearchParams(r.query).get('page'))).toEqual(['1', '2', '3']);

    const strict = new ConnectWiseClient({ siteUrl: emulator.url, ...keys });
    const error = await strict.listTickets({ pageSize: 1 }).then(
      () => undefined,
      (e: unknown) => e as DeskhandError,
    );
    expect(error?.message).toMatch(new RegExp(`next-page link to localhost:${emulator.port}, which is not a ConnectWise host`));
    expect(error?.message).not.toContain(keys.privateKey);
  });
});

describe('signing keys on the region host (real HTTP to the emulator)', () => {
  let emulator: ConnectWiseEmulator;
  let attacker: Server;
  let attackerUrl: string;
  let attackerHits = 0;
  const keys = emulatorApiCredentials('northwind');

  beforeAll(async () => {
    emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
    attacker = createServer((_req, res) => {
      attackerHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ signing_key: 'attacker-key' }));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await emulator.close();
    await new Promise<void>((resolve) => attacker.close(() => resolve()));
  });

  /** A callback as the emulator signs it, verified as deskhand's route does. */
  async function verify(client: ConnectWiseClient, keyUrl: string, signingKey: string) {
    const rawBody = JSON.stringify({ MessageId: 'm', Action: 'added', Type: 'ticket', ID: 1, Metadata: { key_url: keyUrl } });
    return verifyCallbackSignature({
      rawBody,
      signatureHeader: callbackSignature(signingKey, rawBody),
      keyUrl,
      configuredSiteUrl: client.siteUrl,
      trustedOrigins: client.trustedOrigins,
      companyId: client.companyId,
      fetchSigningKey: (url) => client.fetchSigningKey(url),
      cache: new SigningKeyCache(),
    });
  }

  it('fetches a key named on the alias when the client declares it; refuses it otherwise; never fetches from an unknown host', async () => {
    const receiver = 'http://127.0.0.1:9/unused';
    const forged = await emulator.forgeCallback({ url: receiver, signature: 'valid' });
    expect(forged.keyUrl.startsWith(`${emulator.aliasUrl}/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=`)).toBe(true);
    const info = (await (await fetch(forged.keyUrl)).json()) as { signing_key: string };

    const trusting = new ConnectWiseClient({ siteUrl: emulator.url, siteAliases: [emulator.aliasUrl!], ...keys });
    await expect(verify(trusting, forged.keyUrl, info.signing_key)).resolves.toBeUndefined();

    const strict = new ConnectWiseClient({ siteUrl: emulator.url, ...keys });
    await expect(verify(strict, forged.keyUrl, info.signing_key)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/localhost/) });

    const foreign = `${attackerUrl}/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=x`;
    await expect(verify(trusting, foreign, 'attacker-key')).rejects.toMatchObject({ code: 'unauthorized' });
    expect(attackerHits).toBe(0);
  });

  it('refuses a key URL on a trusted host that names another ConnectWise company', async () => {
    const trusting = new ConnectWiseClient({ siteUrl: emulator.url, siteAliases: [emulator.aliasUrl!], ...keys });
    const other = `${emulator.aliasUrl}/v4_6_release/system/callbackkey/index.rails?companyName=woodgrove&id=x`;
    await expect(verify(trusting, other, 'whatever')).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/another ConnectWise company/) });
    await expect(trusting.fetchSigningKey(other)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
