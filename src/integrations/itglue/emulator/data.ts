import { createHash } from 'node:crypto';
import type { World } from '../../../world/fixture.ts';
import { deterministicInt } from '../../../world/ids.ts';
import { textToHtml } from '../../html-text.ts';

/**
 * What the IT Glue emulator holds before anyone calls it: one IT Glue account per MSP of the world
 * that keeps its documentation in IT Glue (ITGLUE_MSPS), each with its own API key, the MSP's own
 * organization (its MSP-wide documents) and one organization per client holding the client's
 * runbooks from the fixture as documents, each with one text section (HTML, one paragraph a line).
 * Every id is derived from the fixture (IT Glue's ids are numbers sent as strings).
 */

export const ITGLUE_MSPS: Readonly<Record<string, { documents: readonly { title: string; body: string }[] }>> = {
  tailspin: {
    documents: [{ title: 'Tailspin support hours', body: 'The Tailspin service desk works Monday to Friday, 7 am to 7 pm.\nWeekend tickets are picked up on Monday morning.' }],
  },
  woodgrove: {
    documents: [
      { title: 'Woodgrove support hours', body: 'The Woodgrove service desk works Monday to Friday, 9 am to 5 pm.' },
      { title: 'Woodgrove ticket notes', body: 'Read the internal note before you change anything.' },
    ],
  },
};

export interface ItGlueOrganizationRecord {
  id: string;
  name: string;
}

export interface ItGlueDocumentRecord {
  id: string;
  name: string;
  organizationId: string;
  published: boolean;
  /** A document inside a folder is not listed at the organization's root. */
  folderId: string | null;
  sections: { id: string; content: string; sort: number }[];
  createdAt: string;
}

export interface ItGlueAccount {
  msp: string;
  apiKey: string;
  subdomain: string;
  organizations: ItGlueOrganizationRecord[];
  documents: ItGlueDocumentRecord[];
}

export function emulatorItGlueApiKey(mspId: string): string {
  return `ITG.${createHash('sha256').update(`deskhand:itglue:api-key:${mspId}`).digest('hex').slice(0, 40)}`;
}

export function itGlueOrganizationId(mspId: string, owner: string): string {
  return String(deterministicInt(1_000_000, 8_000_000, 'itglue', 'organization', mspId, owner));
}

const SEEDED_AT = '2026-01-05T09:00:00.000Z';

export function seedAccounts(world: World): ItGlueAccount[] {
  return world.msps
    .filter((msp) => ITGLUE_MSPS[msp.id] !== undefined)
    .map((msp) => {
      const own = { id: itGlueOrganizationId(msp.id, msp.id), name: msp.name };
      const clients = world.clients.filter((c) => c.msp === msp.id);
      return {
        msp: msp.id,
        apiKey: emulatorItGlueApiKey(msp.id),
        subdomain: msp.id,
        organizations: [own, ...clients.map((c) => ({ id: itGlueOrganizationId(msp.id, c.id), name: c.name }))],
        documents: [
          ...ITGLUE_MSPS[msp.id]!.documents.map((d) => documentRecord(msp.id, own.id, d)),
          ...clients.flatMap((c) => c.runbooks.map((r) => documentRecord(msp.id, itGlueOrganizationId(msp.id, c.id), r))),
        ],
      };
    });
}

export function documentRecord(
  mspId: string,
  organizationId: string,
  input: { title: string; body: string; published?: boolean; folderId?: string | null },
): ItGlueDocumentRecord {
  const id = String(deterministicInt(10_000_000, 80_000_000, 'itglue', 'document', mspId, organizationId, input.title));
  return {
    id,
    name: input.title,
    organizationId,
    published: input.published !== false,
    folderId: input.folderId ?? null,
    sections: [{ id: `${id}1`, content: textToHtml(input.body), sort: 1 }],
    createdAt: SEEDED_AT,
  };
}
