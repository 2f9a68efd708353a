import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedProxies } from '../../src/config.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { silentLogger } from '../../src/logger.ts';
import { createTestDatabase } from '../support/db.ts';

/**
 * Behind a reverse proxy every client arrives from the proxy's address: the per-address sign-in
 * limit would then count everyone as one. DESKHAND_TRUST_PROXY names the proxies whose
 * X-Forwarded-For is believed; without it, the header is ignored (anyone could choose an address).
 */
describe('DESKHAND_TRUST_PROXY', () => {
  it('trusts no proxy unless told, and refuses what is not an address, a range or a proxy-addr name', () => {
    expect(trustedProxies({})).toBe(false);
    expect(trustedProxies({ DESKHAND_TRUST_PROXY: 'loopback, 10.0.0.0/8' })).toEqual(['loopback', '10.0.0.0/8']);
    expect(() => trustedProxies({ DESKHAND_TRUST_PROXY: 'everyone' })).toThrow(/not an address/);
    expect(() => trustedProxies({ DESKHAND_TRUST_PROXY: 'true' })).toThrow(/not an address/);
  });
});

describe('sign-in limits behind a trusted proxy', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    process.env['DESKHAND_TRUST_PROXY'] = 'loopback';
    try {
      sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: false });
    } finally {
      delete process.env['DESKHAND_TRUST_PROXY'];
    }
  }, 120_000);
  afterAll(async () => {
    await sb?.close();
  });

  async function signIn(forwardedFor: string, n: number) {
    const response = await fetch(`${sb.service.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: JSON.stringify({ email: `nobody-${n}@example.com`, password: 'wrong password' }),
    });
    await response.arrayBuffer();
    return response.status;
  }

  it('counts each client behind the proxy by its own address', async () => {
    const first: number[] = [];
    for (let i = 0; i < 31; i++) first.push(await signIn('203.0.113.5', i));
    expect(first.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(first[30]).toBe(429);
    // Another client behind the same proxy is not limited by the first one's attempts.
    expect(await signIn('203.0.113.77', 100)).toBe(401);
  });
});
