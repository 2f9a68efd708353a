import { z } from 'zod';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { HttpClient, type HttpClientOptions } from '../http.ts';

/**
 * Hudu's REST API (`{baseUrl}/api/v1`), signed with the `x-api-key` header. Lists are wrapped
 * (`{"articles": [...]}`), paged by `page` (1-based) and `page_size`, and carry no totals: pages are
 * read until one comes back shorter than asked for. Retries on 429 (Retry-After) and 5xx, the timeout
 * and the outbound rules come from the shared HttpClient; errors name the integration and the call,
 * never the key.
 */

/** What is asked for per page. Hudu honours `page_size` (HuduAPI asks for 1000); its maximum is unverified. */
export const PAGE_SIZE = 100;
/** A runaway list (a server ignoring `page`) stops here. */
const MAX_PAGES = 200;

export const articleSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    content: z.string().nullable().optional(),
    url: z.string().nullable().optional(),
    draft: z.boolean().nullable().optional(),
    company_id: z.number().int().nullable().optional(),
    slug: z.string().nullable().optional(),
  })
  .passthrough();
export type HuduArticle = z.infer<typeof articleSchema>;

export const companySchema = z.object({ id: z.number().int(), name: z.string() }).passthrough();
export type HuduCompany = z.infer<typeof companySchema>;

const apiInfoSchema = z.object({ version: z.string().optional(), date: z.string().optional() }).passthrough();

export interface HuduClientConfig {
  /** The instance, e.g. `https://northwind.huducloud.com` (http to loopback for the emulator). */
  baseUrl: string;
  apiKey: string;
  /** For messages: the integration's name. */
  name: string;
}

export class HuduClient {
  private readonly http: HttpClient;
  readonly baseUrl: string;

  constructor(config: HuduClientConfig, options: Pick<HttpClientOptions, 'timeoutMs' | 'maxAttempts' | 'maxInlineWaitMs' | 'fetchImpl'> = {}) {
    if (config.apiKey === '') throw new DeskhandError('config', `Hudu (${config.name}) has no API key`);
    this.baseUrl = config.baseUrl.replace(/\/+$/, '');
    this.http = new HttpClient({
      system: systemName(config.name),
      baseUrl: `${this.baseUrl}/api/v1/`,
      headers: () => ({ 'x-api-key': config.apiKey }),
      describeError: describeHuduError,
      ...options,
    });
  }

  /** `GET /api_info`: the cheapest signed call (the doctor's sign-in check). */
  async apiInfo(): Promise<z.infer<typeof apiInfoSchema>> {
    const response = await this.call('reading the API version', 'GET /api/v1/api_info', () => this.http.request({ method: 'GET', url: 'api_info' }));
    return apiInfoSchema.parse(response.body ?? {});
  }

  /** Every article of a company (`search` narrows it, on Hudu's side), page after page. */
  async listArticles(filter: { companyId: number; search?: string }): Promise<HuduArticle[]> {
    return this.listAll('articles', articleSchema, 'listing articles', { company_id: filter.companyId, ...(filter.search ? { search: filter.search } : {}) });
  }

  /** One article, or null when Hudu does not know it (or the key may not see it: 404). */
  async getArticle(id: number): Promise<HuduArticle | null> {
    const response = await this.call(`reading article ${id}`, `GET /api/v1/articles/${id}`, () =>
      this.http.request({ method: 'GET', url: `articles/${id}`, acceptStatuses: [404] }),
    );
    if (response.status === 404) return null;
    return z.object({ article: articleSchema }).parse(response.body).article;
  }

  /** One company, or null when unknown (or outside the key's company scope). */
  async getCompany(id: number): Promise<HuduCompany | null> {
    const response = await this.call(`reading company ${id}`, `GET /api/v1/companies/${id}`, () =>
      this.http.request({ method: 'GET', url: `companies/${id}`, acceptStatuses: [404] }),
    );
    if (response.status === 404) return null;
    return z.object({ company: companySchema }).parse(response.body).company;
  }

  async listCompanies(): Promise<HuduCompany[]> {
    return this.listAll('companies', companySchema, 'listing companies', {});
  }

  private async listAll<T>(resource: 'articles' | 'companies', schema: z.ZodType<T>, what: string, query: Record<string, string | number>): Promise<T[]> {
    const page = z.object({ [resource]: z.array(schema) });
    const all: T[] = [];
    for (let number = 1; number <= MAX_PAGES; number++) {
      const response = await this.call(`${what} (page ${number})`, `GET /api/v1/${resource}`, () =>
        this.http.request({ method: 'GET', url: resource, query: { ...query, page: number, page_size: PAGE_SIZE } }),
      );
      const parsed = page.safeParse(response.body);
      if (!parsed.success) throw new DeskhandError('upstream', `${this.http.system}: ${what}: GET /api/v1/${resource} answered without an "${resource}" list`);
      const rows = parsed.data[resource] as T[];
      all.push(...rows);
      if (rows.length < PAGE_SIZE) return all;
    }
    throw new DeskhandError('upstream', `${this.http.system}: ${what}: GET /api/v1/${resource} had more than ${MAX_PAGES} pages; stopped there`);
  }

  /** The call named in any error it ends with (the HttpClient's message already names the integration). */
  private async call<T>(what: string, route: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!isDeskhandError(error)) throw error;
      throw new DeskhandError(error.code, `${error.message} (${what}: ${route})`, {
        ...(error.details ? { details: { ...error.details, call: route } } : { details: { call: route } }),
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        cause: error,
      });
    }
  }
}

/** Hudu's error bodies are unverified: the status speaks, with a short `error`/`message` when one is given. */
export function describeHuduError(status: number, body: unknown): string {
  const said = body && typeof body === 'object' ? ((body as Record<string, unknown>)['error'] ?? (body as Record<string, unknown>)['message']) : undefined;
  const text = typeof said === 'string' ? `: ${said.slice(0, 200)}` : '';
  if (status === 401) return `HTTP 401, the API key was refused${text}`;
  if (status === 429) return `HTTP 429, too many requests${text}`;
  return `HTTP ${status}${text}`;
}

/** How errors name the integration: its name, with the system's when the name does not say it. */
function systemName(name: string): string {
  return /Hudu/i.test(name) ? name : `Hudu (${name})`;
}
