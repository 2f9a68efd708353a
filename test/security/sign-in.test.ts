import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { silentLogger } from '../../src/logger.ts';
import { clientNetwork, SIGN_IN_LIMITS } from '../../src/store/sign-in-limits.ts';
import { setUserDisabled } from '../../src/store/users.ts';
import { DEMO_PASSWORD } from '../../src/world/seed.ts';
import { createTestDatabase } from '../support/db.ts';

/**
 * Sign-in against guessing (issue 7, part 5): attempts are limited per account and per client
 * address (429 with Retry-After), counted in PostgreSQL so that every process serving the API
 * shares them; an account is locked for a while after repeated failures (answered like a wrong
 * password, plus Retry-After; audited); and an unknown email takes as long as a known one.
 *
 * Windows and locks follow the service's clock, which this test moves forward between cases.
 */
let sb: Sandbox;
const TOM = 'tom.rivera@northwind-it.example';
const PRIYA = 'priya.nair@northwind-it.example';
const AVA = 'ava.chen@northwind-it.example';
const BEN = 'ben.okafor@northwind-it.example';
const WRONG = 'not-the-password';
const ADDRESS = SIGN_IN_LIMITS.address;
const ACCOUNT = SIGN_IN_LIMITS.account;
const LOCKOUT = SIGN_IN_LIMITS.lockout;
/** Longer than every window and lock: after it, nothing of an earlier case counts. */
const FORGET_MS = Math.max(ADDRESS.windowMs, ACCOUNT.windowMs, LOCKOUT.lockMs, LOCKOUT.failureMemoryMs) + 1000;

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger, worker: false });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

beforeEach(() => {
  sb.clock.advance(FORGET_MS);
});

interface Answer {
  status: number;
  retryAfter: string | undefined;
  setCookie: string[];
  body: string;
  ms: number;
}

/** One sign-in over real HTTP, optionally from another loopback address (127.0.0.2, ...). */
function attempt(email: string, password: string, options: { base?: string; from?: string } = {}): Promise<Answer> {
  const url = new URL(`${options.base ?? sb.service.url}/api/session`);
  const payload = JSON.stringify({ email, password });
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        ...(options.from ? { localAddress: options.from } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            setCookie: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * `count` attempts at once (scrypt runs on libuv's threads, so this is quicker than one by one on
 * two cores, and it is what an attacker would do: the counters must hold under concurrency).
 */
function attempts(count: number, make: (i: number) => Promise<Answer>): Promise<Answer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => make(i)));
}

function retryAfterSeconds(answer: Answer): number {
  expect(answer.retryAfter, `Retry-After on ${answer.status} ${answer.body}`).toMatch(/^\d+$/);
  return Number(answer.retryAfter);
}

describe('attempts per account', () => {
  it(`answers 429 with Retry-After after ${ACCOUNT.attempts} attempts in a window, and no cookie, even with the right password`, async () => {
    expect((await attempts(ACCOUNT.attempts, () => attempt(PRIYA, DEMO_PASSWORD))).map((a) => a.status)).toEqual(Array(ACCOUNT.attempts).fill(200));
    const limited = await attempt(PRIYA, DEMO_PASSWORD);
    expect(limited.status).toBe(429);
    expect(limited.setCookie).toEqual([]);
    const seconds = retryAfterSeconds(limited);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(ACCOUNT.windowMs / 1000);
    expect(JSON.parse(limited.body)).toMatchObject({ error: { code: 'rate_limited' } });
    // Another account from the same address is not limited by it.
    expect((await attempt(AVA, DEMO_PASSWORD)).status).toBe(200);
    // The email is compared as the service stores it: case does not make a new account.
    expect((await attempt(PRIYA.toUpperCase(), DEMO_PASSWORD)).status).toBe(429);
    sb.clock.advance(seconds * 1000);
    expect((await attempt(PRIYA, DEMO_PASSWORD)).status).toBe(200);
  });

  it('counts attempts in PostgreSQL: two API processes on one database share them', async () => {
    const second = await buildApi({ ctx: sb.service.ctx, onWork: () => {}, home: () => ({ publicUrl: '', database: 'test', emulators: [], demoPassword: null, demoUsers: [] }) });
    await second.listen({ port: 0, host: '127.0.0.1' });
    try {
      const bases = [sb.service.url, `http://127.0.0.1:${(second.server.address() as AddressInfo).port}`];
      expect((await attempts(ACCOUNT.attempts, (i) => attempt(BEN, DEMO_PASSWORD, { base: bases[i % 2]! }))).map((a) => a.status)).toEqual(Array(ACCOUNT.attempts).fill(200));
      expect((await attempt(BEN, DEMO_PASSWORD, { base: bases[0]! })).status).toBe(429);
      expect((await attempt(BEN, DEMO_PASSWORD, { base: bases[1]! })).status).toBe(429);
    } finally {
      await second.close();
    }
  });
});

describe('attempts per address', () => {
  it(`answers 429 with Retry-After after ${ADDRESS.attempts} attempts from one address, whatever the emails; other addresses go on`, async () => {
    const refused = await attempts(ADDRESS.attempts, (i) => attempt(`nobody-${i}@northwind-it.example`, WRONG, { from: '127.0.0.2' }));
    expect(refused.map((a) => a.status)).toEqual(Array(ADDRESS.attempts).fill(401));
    const limited = await attempt(TOM, DEMO_PASSWORD, { from: '127.0.0.2' });
    expect(limited.status).toBe(429);
    expect(limited.setCookie).toEqual([]);
    const seconds = retryAfterSeconds(limited);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(ADDRESS.windowMs / 1000);
    expect((await attempt(TOM, DEMO_PASSWORD, { from: '127.0.0.3' })).status).toBe(200);
    sb.clock.advance(seconds * 1000);
    expect((await attempt(TOM, DEMO_PASSWORD, { from: '127.0.0.2' })).status).toBe(200);
  });
});

describe('lockout', () => {
  it(`locks an account after ${LOCKOUT.failures} failures: answered like a wrong password plus Retry-After, audited, open again after the lock`, async () => {
    // All at once: however they interleave, exactly one of them locks the account.
    const wrong = await attempts(LOCKOUT.failures, () => attempt(TOM, WRONG));
    expect(wrong.map((a) => a.status)).toEqual(Array(LOCKOUT.failures).fill(401));
    expect(wrong.filter((a) => a.retryAfter !== undefined)).toHaveLength(1);
    const locked = await attempt(TOM, DEMO_PASSWORD);
    expect(locked.status).toBe(401);
    expect(locked.body).toBe(wrong[0]!.body);
    expect(locked.setCookie).toEqual([]);
    const seconds = retryAfterSeconds(locked);
    expect(seconds).toBeGreaterThan(LOCKOUT.lockMs / 1000 - 60);
    expect(seconds).toBeLessThanOrEqual(LOCKOUT.lockMs / 1000);

    const tom = await sb.service.ctx.db.selectFrom('users').select(['id', 'msp_id']).where('email', '=', TOM).executeTakeFirstOrThrow();
    const audit = await sb.service.ctx.db.selectFrom('audit_log').select(['msp_id', 'actor', 'event', 'data']).where('event', '=', 'user.locked').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ msp_id: tom.msp_id, event: 'user.locked', data: { userId: tom.id, email: TOM, failures: LOCKOUT.failures, address: '127.0.0.1' } });
    expect(JSON.stringify(audit)).not.toContain(WRONG);

    sb.clock.advance(LOCKOUT.lockMs - 60_000);
    expect((await attempt(TOM, DEMO_PASSWORD)).status).toBe(401);
    sb.clock.advance(60_000 + 1000);
    expect((await attempt(TOM, DEMO_PASSWORD)).status).toBe(200);
  });

  it('forgets the failures on a successful sign-in', async () => {
    const nineWrong = () => attempts(LOCKOUT.failures - 1, () => attempt(AVA, WRONG));
    expect((await nineWrong()).map((a) => a.status)).toEqual(Array(LOCKOUT.failures - 1).fill(401));
    sb.clock.advance(ACCOUNT.windowMs);
    expect((await attempt(AVA, DEMO_PASSWORD)).status).toBe(200);
    expect((await nineWrong()).map((a) => a.status)).toEqual(Array(LOCKOUT.failures - 1).fill(401));
    sb.clock.advance(ACCOUNT.windowMs);
    const answer = await attempt(AVA, DEMO_PASSWORD);
    expect(answer.status, answer.body).toBe(200);
    expect(answer.retryAfter).toBeUndefined();
  });

  it('locks an unknown email the same way, so that a lock tells nothing about who exists', async () => {
    const wrong = await attempts(LOCKOUT.failures, () => attempt('nobody@northwind-it.example', WRONG));
    const locked = await attempt('nobody@northwind-it.example', WRONG);
    expect(locked.status).toBe(401);
    expect(locked.body).toBe(wrong[0]!.body);
    expect(retryAfterSeconds(locked)).toBeGreaterThan(LOCKOUT.lockMs / 1000 - 60);
  });
});

describe('unknown and known emails', () => {
  it('take the same time: a wrong password for a known, an unknown or a disabled user', async () => {
    await setUserDisabled(sb.service.ctx.db, { email: PRIYA, disabled: true, actor: 'test', at: new Date() });
    const rounds = 20;
    const known: number[] = [];
    const unknown: number[] = [];
    const disabled: number[] = [];
    // Warm up (the first scrypt of a process allocates its memory), then interleave, so that the
    // machine's load at any moment falls on all three alike.
    await attempt(TOM, WRONG);
    await attempt('warm-up@northwind-it.example', WRONG);
    for (let i = 0; i < rounds; i++) {
      sb.clock.advance(FORGET_MS);
      // The disabled user every other round: a check that it is not the shortcut it was, not a second measurement.
      const order = i % 2 === 0 ? (['known', 'unknown', 'disabled'] as const) : (['unknown', 'known'] as const);
      for (const which of order) {
        const answer = await attempt(which === 'known' ? TOM : which === 'disabled' ? PRIYA : `nobody-${i}@northwind-it.example`, which === 'disabled' ? DEMO_PASSWORD : WRONG);
        expect(answer.status, `${which}: ${answer.body}`).toBe(401);
        (which === 'known' ? known : which === 'unknown' ? unknown : disabled).push(answer.ms);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const figures = { knownMs: median(known), unknownMs: median(unknown), disabledMs: median(disabled), ratio: median(known) / median(unknown) };
    console.log(`sign-in timing, interleaved, median of ${rounds} tries (disabled: ${disabled.length}): known ${figures.knownMs.toFixed(1)} ms, unknown ${figures.unknownMs.toFixed(1)} ms, disabled ${figures.disabledMs.toFixed(1)} ms, known/unknown ${figures.ratio.toFixed(2)}`);
    expect(figures.ratio).toBeGreaterThan(0.5);
    expect(figures.ratio).toBeLessThan(2);
    expect(figures.disabledMs / figures.unknownMs).toBeGreaterThan(0.5);
    expect(figures.disabledMs / figures.unknownMs).toBeLessThan(2);
  }, 120_000);
});

describe('client addresses', () => {
  it('counts an IPv4 client by its address and an IPv6 client by its /64 (one client usually holds a whole /64)', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('2001:db8:1:2::1')).toBe(clientNetwork('2001:0db8:0001:0002:ffff::9'));
    expect(clientNetwork('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('2001:db8:1:3::1')).not.toBe(clientNetwork('2001:db8:1:2::1'));
  });
});
