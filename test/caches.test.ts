import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { INTEGRATION_CACHE_LIMITS } from '../src/integrations/registry.ts';
import { normalisedCacheSize, normalise } from '../src/planner/text.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Nobody outside can grow deskhand's memory: every cache keyed by what a stranger sends (an
 * integration id in a webhook URL, the text of a ticket) is bounded in size and in time. A flood of
 * made-up webhook URLs leaves the caches within their bounds, and real webhooks still work.
 */

let sb: Sandbox;

function totalCached(): number {
  const sizes = sb.service.ctx.integrations.cacheSizes();
  return Object.values(sizes).reduce((sum, n) => sum + n, 0);
}

/** POSTs to these webhook URLs, a few at a time; every answer's status. */
async function postAll(urls: string[], parallel = 8): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < urls.length; i += parallel) {
    const batch = urls.slice(i, i + parallel).map(async (url) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await response.arrayBuffer();
      return response.status;
    });
    statuses.push(...(await Promise.all(batch)));
  }
  return statuses;
}

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

describe('caches fed by strangers', () => {
  it('stay bounded under a flood of webhook URLs with made-up integration ids, and real webhooks still work', async () => {
    const before = sb.service.ctx.integrations.cacheSizes();
    const flood = Array.from({ length: INTEGRATION_CACHE_LIMITS.missing * 2 + 50 }, () => `${sb.service.url}/webhooks/connectwise/${randomUUID()}/x`);
    const statuses = await postAll(flood);
    expect(new Set(statuses)).toEqual(new Set([401]));
    const after = sb.service.ctx.integrations.cacheSizes();
    // The made-up ids fill only the cache of ids not found, up to its bound; real rows stay.
    expect(flood.length).toBeGreaterThan(INTEGRATION_CACHE_LIMITS.missing);
    expect(after.missing).toBeGreaterThan(0);
    expect(after.missing).toBeLessThanOrEqual(INTEGRATION_CACHE_LIMITS.missing);
    expect(after.rows).toBeLessThanOrEqual(before.rows + 4);
    expect(after.policies).toBeLessThanOrEqual(INTEGRATION_CACHE_LIMITS.policies);
    expect(after.connections).toBeLessThanOrEqual(INTEGRATION_CACHE_LIMITS.clients);
    expect(after.available).toBeLessThanOrEqual(INTEGRATION_CACHE_LIMITS.rows);
    expect(totalCached()).toBeLessThan(flood.length);

    const ticket = await sb.openTicket('contoso', 'megan.bowen@contoso.example', 'Can I have Zendesk, please?');
    const request = await sb.requestForTicket(ticket);
    const final = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL]);
    expect(final.state).toBe('awaiting_approval');
  });

  it('never looks up, nor remembers, an integration id that is not a UUID', async () => {
    const before = totalCached();
    const notUuids = [
      '------------------------------------',
      'ffffffffffffffffffffffffffffffffffff',
      'gggggggg-gggg-gggg-gggg-gggggggggggg',
      '12345678-1234-1234-1234-1234567890123',
      `${randomUUID()}x`,
      'x'.repeat(90),
    ];
    const statuses = await postAll(notUuids.map((id) => `${sb.service.url}/webhooks/connectwise/${id}/x`));
    expect(statuses).toEqual(notUuids.map(() => 401));
    expect(totalCached()).toBe(before);
    // Refused before the database is asked (PostgreSQL would answer 22P02 to a malformed uuid).
    for (const id of notUuids) await expect(sb.service.ctx.integrations.row(id)).rejects.toMatchObject({ code: 'not_found' });
    expect(totalCached()).toBe(before);
  });

  it('keeps the planner\'s memory of normalised text bounded whatever the tickets say', () => {
    for (let i = 0; i < 3_000; i++) normalise(`${'a long ticket text '.repeat(200)} ${i}`);
    expect(normalisedCacheSize().chars).toBeLessThanOrEqual(normalisedCacheSize().maxChars);
    expect(normalisedCacheSize().maxChars).toBeLessThan(3_000 * 4_000);
  });
});
