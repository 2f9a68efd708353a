import { DeskhandError } from '../../core/errors.ts';
import { htmlToText } from '../html-text.ts';
import type { KnowledgeArticle, KnowledgeCapability } from '../module.ts';
import type { HuduArticle, HuduClient } from './client.ts';

/**
 * Hudu's knowledge base as deskhand's runbooks: a client's articles are those of its linked Hudu
 * company; the MSP-wide ones are those of the MSP's own company (a setting). Drafts are left out (a
 * draft is not yet a procedure). `get` answers only for an article of the connection's client or of
 * the MSP's company, so an id never reaches another client's documentation.
 */
export class HuduKnowledge implements KnowledgeCapability {
  readonly readTools = { list: 'hudu.search_articles', get: 'hudu.get_article' } as const;

  constructor(
    private readonly client: HuduClient,
    private readonly scope: { name: string; mspCompanyId: number | null; clientLink: string | null },
  ) {}

  async list(scope: { clientLink: string | null }, query?: string): Promise<KnowledgeArticle[]> {
    const companyId = scope.clientLink === null ? this.scope.mspCompanyId : companyIdOf(this.scope.name, scope.clientLink);
    // No MSP company configured: the MSP has no knowledge base here, and nothing is asked.
    if (companyId === null) return [];
    const search = query?.trim();
    const articles = await this.client.listArticles({ companyId, ...(search ? { search } : {}) });
    // Hudu's filter is trusted no further than its word: an article of another company is dropped.
    return articles.filter((a) => a.draft !== true && a.company_id === companyId).map(toKnowledge);
  }

  async get(id: string): Promise<KnowledgeArticle | null> {
    if (!/^\d{1,15}$/.test(id)) return null;
    const article = await this.client.getArticle(Number(id));
    if (!article || article.draft === true) return null;
    const allowed = [this.scope.mspCompanyId, this.scope.clientLink === null ? null : companyIdOf(this.scope.name, this.scope.clientLink)];
    return article.company_id != null && allowed.includes(article.company_id) ? toKnowledge(article) : null;
  }
}

export function companyIdOf(name: string, link: string): number {
  if (!/^\d{1,15}$/.test(link.trim())) throw new DeskhandError('config', `Hudu (${name}): a client's link must be a Hudu company id (a number), not "${link.slice(0, 40)}"`);
  return Number(link.trim());
}

function toKnowledge(article: HuduArticle): KnowledgeArticle {
  return { id: String(article.id), title: article.name, body: htmlToText(article.content ?? ''), url: article.url ?? null };
}
