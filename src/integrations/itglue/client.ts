import { z } from 'zod';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { HttpClient, type HttpClientOptions } from '../http.ts';

/**
 * IT Glue's JSON:API (`https://api.itglue.com`, `api.eu.itglue.com`, `api.au.itglue.com`), signed
 * with the `x-api-key` header. Ids are strings, attributes kebab-case; lists are paged by
 * `page[number]` and `page[size]` (50 by default, 1000 at most) and read while `meta.next-page` is
 * set. IT Glue allows 3000 requests per 5 minutes and answers 429 beyond: the shared HttpClient
 * retries 429 (Retry-After) and 5xx a bounded number of times, with the timeout and outbound rules.
 * Errors name the integration and the call, never the key.
 */

export const REGION_URLS = { us: 'https://api.itglue.com', eu: 'https://api.eu.itglue.com', au: 'https://api.au.itglue.com' } as const;
export type ItGlueRegion = keyof typeof REGION_URLS;

export const PAGE_SIZE = 100;
const MAX_PAGES = 200;
const JSON_API = 'application/vnd.api+json';

const resourceSchema = z.object({ id: z.string(), type: z.string(), attributes: z.record(z.string(), z.unknown()).default({}) }).passthrough();
export type ItGlueResource = z.infer<typeof resourceSchema>;

const listSchema = z.object({
  data: z.array(resourceSchema),
  meta: z.object({ 'next-page': z.number().int().nullable().optional() }).passthrough().optional(),
});
const showSchema = z.object({ data: resourceSchema });

export interface ItGlueDocument {
  id: string;
  name: string;
  organizationId: string | null;
  url: string | null;
  published: boolean | null;
}

export interface ItGlueSection {
  id: string;
  resourceType: string | null;
  content: string;
  sort: number | null;
}

export interface ItGlueClientConfig {
  baseUrl: string;
  apiKey: string;
  name: string;
}

export class ItGlueClient {
  private readonly http: HttpClient;
  readonly baseUrl: string;

  constructor(config: ItGlueClientConfig, options: Pick<HttpClientOptions, 'timeoutMs' | 'maxAttempts' | 'maxInlineWaitMs' | 'fetchImpl'> = {}) {
    if (config.apiKey === '') throw new DeskhandError('config', `IT Glue (${config.name}) has no API key`);
    this.baseUrl = config.baseUrl.replace(/\/+$/, '');
    this.http = new HttpClient({
      system: systemName(config.name),
      baseUrl: `${this.baseUrl}/`,
      headers: () => ({ 'x-api-key': config.apiKey, accept: JSON_API }),
      describeError: describeItGlueError,
      ...options,
    });
  }

  /** One organization, or null when unknown (404). */
  async getOrganization(id: string): Promise<{ id: string; name: string } | null> {
    const body = await this.show(`reading organization ${id}`, `organizations/${encodeURIComponent(id)}`);
    return body ? { id: body.id, name: String(body.attributes['name'] ?? '') } : null;
  }

  /**
   * The documents at the root of an organization's Documents (IT Glue lists only those unless a
   * folder is named; documents inside folders are not read: see the README).
   */
  async listDocuments(organizationId: string): Promise<ItGlueDocument[]> {
    return (await this.listAll(`listing documents of organization ${organizationId}`, `organizations/${encodeURIComponent(organizationId)}/relationships/documents`)).map(documentOf);
  }

  /** One document, or null when unknown (404). */
  async getDocument(id: string): Promise<ItGlueDocument | null> {
    const body = await this.show(`reading document ${id}`, `documents/${encodeURIComponent(id)}`);
    return body ? documentOf(body) : null;
  }

  /** A document's sections, in their order. */
  async listSections(documentId: string): Promise<ItGlueSection[]> {
    const rows = await this.listAll(`reading the sections of document ${documentId}`, `documents/${encodeURIComponent(documentId)}/relationships/sections`);
    const sections = rows.map((row) => ({
      id: row.id,
      resourceType: typeof row.attributes['resource-type'] === 'string' ? row.attributes['resource-type'] : null,
      content: String(row.attributes['content'] ?? row.attributes['rendered-content'] ?? ''),
      sort: typeof row.attributes['sort'] === 'number' ? row.attributes['sort'] : null,
    }));
    return sections.map((s, index) => ({ s, index })).sort((a, b) => (a.s.sort ?? a.index) - (b.s.sort ?? b.index)).map(({ s }) => s);
  }

  private async show(what: string, path: string): Promise<ItGlueResource | null> {
    const response = await this.call(what, `GET /${path}`, () => this.http.request({ method: 'GET', url: path, acceptStatuses: [404] }));
    if (response.status === 404) return null;
    const parsed = showSchema.safeParse(response.body);
    if (!parsed.success) throw new DeskhandError('upstream', `${this.http.system}: ${what}: GET /${path} answered without a "data" object`);
    return parsed.data.data;
  }

  private async listAll(what: string, path: string): Promise<ItGlueResource[]> {
    const all: ItGlueResource[] = [];
    for (let number = 1; number <= MAX_PAGES; number++) {
      const response = await this.call(`${what} (page ${number})`, `GET /${path}`, () =>
        this.http.request({ method: 'GET', url: path, query: { 'page[size]': PAGE_SIZE, 'page[number]': number } }),
      );
      const parsed = listSchema.safeParse(response.body);
      if (!parsed.success) throw new DeskhandError('upstream', `${this.http.system}: ${what}: GET /${path} answered without a "data" list`);
      all.push(...parsed.data.data);
      const next = parsed.data.meta?.['next-page'];
      if (next === null || next === undefined || parsed.data.data.length === 0) return all;
    }
    throw new DeskhandError('upstream', `${this.http.system}: ${what}: GET /${path} had more than ${MAX_PAGES} pages; stopped there`);
  }

  private async call<T>(what: string, route: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!isDeskhandError(error)) throw error;
      throw new DeskhandError(error.code, `${error.message} (${what}: ${route})`, {
        details: { ...(error.details ?? {}), call: route },
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        cause: error,
      });
    }
  }
}

function documentOf(row: ItGlueResource): ItGlueDocument {
  const org = row.attributes['organization-id'];
  const url = row.attributes['resource-url'];
  const published = row.attributes['published'];
  return {
    id: row.id,
    name: String(row.attributes['name'] ?? ''),
    organizationId: org === null || org === undefined ? null : String(org),
    url: typeof url === 'string' ? url : null,
    published: typeof published === 'boolean' ? published : null,
  };
}

/** JSON:API errors (`{"errors":[{"status","title","detail"}]}`, unverified on a live tenant), else the status. */
export function describeItGlueError(status: number, body: unknown): string {
  const first = body && typeof body === 'object' ? (body as { errors?: unknown }).errors : undefined;
  const error = Array.isArray(first) && first[0] && typeof first[0] === 'object' ? (first[0] as Record<string, unknown>) : undefined;
  const said = [error?.['title'], error?.['detail']].filter((v): v is string => typeof v === 'string').join(': ');
  const text = said ? `: ${said.slice(0, 200)}` : '';
  if (status === 401 || status === 403) return `HTTP ${status}, the API key was refused${text}`;
  if (status === 429) return `HTTP 429, too many requests (IT Glue allows 3000 per 5 minutes)${text}`;
  return `HTTP ${status}${text}`;
}

/** How errors name the integration: its name, with the system's when the name does not say it. */
function systemName(name: string): string {
  return /IT\s?Glue/i.test(name) ? name : `IT Glue (${name})`;
}
