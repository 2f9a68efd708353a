import { createHash } from 'node:crypto';
import type { World } from '../../../world/fixture.ts';
import { deterministicInt } from '../../../world/ids.ts';
import { textToHtml } from '../../html-text.ts';

/**
 * What the Hudu emulator holds before anyone calls it: one Hudu instance per MSP of the world that
 * keeps its documentation in Hudu (HUDU_MSPS), each with its own API key, the MSP's own company (its
 * MSP-wide articles) and one company per client of the MSP holding the client's runbooks from the
 * fixture as articles (HTML, one paragraph a line). Every id is derived from the fixture.
 */

/** The world's MSPs whose documentation lives in Hudu, with their MSP-wide articles. */
export const HUDU_MSPS: Readonly<Record<string, { articles: readonly { title: string; body: string }[] }>> = {
  northwind: {
    articles: [
      {
        title: 'Northwind service desk hours',
        body: 'The Northwind service desk works Monday to Friday, 8 am to 6 pm.\nTickets that arrive outside these hours are picked up the next working day.',
      },
      {
        title: 'How Northwind technicians work a ticket',
        body: 'Read the internal note before you change anything.\nSign every note you write with your initials.',
      },
    ],
  },
};

export interface HuduCompanyRecord {
  id: number;
  name: string;
  slug: string;
}

export interface HuduArticleRecord {
  id: number;
  name: string;
  slug: string;
  content: string;
  companyId: number | null;
  draft: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface HuduInstance {
  msp: string;
  apiKey: string;
  companies: HuduCompanyRecord[];
  articles: HuduArticleRecord[];
}

/** The API key of an MSP's emulated Hudu instance (deterministic, so the demo world can be seeded with it). */
export function emulatorHuduApiKey(mspId: string): string {
  return createHash('sha256').update(`deskhand:hudu:api-key:${mspId}`).digest('base64url').slice(0, 32);
}

/** The Hudu company id of a world client (or of the MSP's own company) in its MSP's instance. */
export function huduCompanyId(mspId: string, owner: string): number {
  return deterministicInt(100, 900_000, 'hudu', 'company', mspId, owner);
}

const SEEDED_AT = '2026-01-05T09:00:00.000Z';

export function seedInstances(world: World): HuduInstance[] {
  return world.msps
    .filter((msp) => HUDU_MSPS[msp.id] !== undefined)
    .map((msp) => {
      const own = { id: huduCompanyId(msp.id, msp.id), name: msp.name, slug: slugOf(msp.name) };
      const clients = world.clients.filter((c) => c.msp === msp.id);
      const companies = [own, ...clients.map((c) => ({ id: huduCompanyId(msp.id, c.id), name: c.name, slug: slugOf(c.name) }))];
      const articles = [
        ...HUDU_MSPS[msp.id]!.articles.map((a) => article(msp.id, own.id, a)),
        ...clients.flatMap((c) => c.runbooks.map((r) => article(msp.id, huduCompanyId(msp.id, c.id), r))),
      ];
      return { msp: msp.id, apiKey: emulatorHuduApiKey(msp.id), companies, articles };
    });
}

export function article(mspId: string, companyId: number | null, input: { title: string; body: string; draft?: boolean }): HuduArticleRecord {
  const id = deterministicInt(1, 9_000_000, 'hudu', 'article', mspId, String(companyId), input.title);
  return {
    id,
    name: input.title,
    slug: `${slugOf(input.title)}-${id}`,
    content: textToHtml(input.body),
    companyId,
    draft: input.draft === true,
    createdAt: SEEDED_AT,
    updatedAt: SEEDED_AT,
  };
}

export function slugOf(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}
