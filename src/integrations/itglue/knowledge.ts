import { DeskhandError } from '../../core/errors.ts';
import { htmlToText } from '../html-text.ts';
import type { KnowledgeArticle, KnowledgeCapability } from '../module.ts';
import type { ItGlueClient, ItGlueDocument } from './client.ts';

/**
 * IT Glue documents as deskhand's runbooks: a client's are those of its linked organization; the
 * MSP-wide ones those of the MSP's own organization (a setting). Unpublished documents are left out.
 * A document's text is its sections' (HTML reduced to text). IT Glue has no name filter on
 * documents, so a query is matched here, on the names, before any section is read.
 */
export class ItGlueKnowledge implements KnowledgeCapability {
  readonly readTools = { list: 'itglue.search_documents', get: 'itglue.get_document' } as const;

  constructor(
    private readonly client: ItGlueClient,
    private readonly scope: { name: string; mspOrganizationId: string | null; clientLink: string | null },
  ) {}

  async list(scope: { clientLink: string | null }, query?: string): Promise<KnowledgeArticle[]> {
    const organizationId = scope.clientLink === null ? this.scope.mspOrganizationId : organizationIdOf(this.scope.name, scope.clientLink);
    if (organizationId === null) return [];
    const needle = query?.trim().toLowerCase();
    const documents = (await this.client.listDocuments(organizationId)).filter(
      (d) => d.published !== false && (d.organizationId === null || d.organizationId === organizationId) && (!needle || d.name.toLowerCase().includes(needle)),
    );
    return Promise.all(documents.map((d) => this.withText(d)));
  }

  async get(id: string): Promise<KnowledgeArticle | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    const document = await this.client.getDocument(id);
    if (!document || document.published === false) return null;
    const allowed = [this.scope.mspOrganizationId, this.scope.clientLink === null ? null : organizationIdOf(this.scope.name, this.scope.clientLink)];
    return document.organizationId !== null && allowed.includes(document.organizationId) ? this.withText(document) : null;
  }

  private async withText(document: ItGlueDocument): Promise<KnowledgeArticle> {
    const sections = await this.client.listSections(document.id);
    return { id: document.id, title: document.name, body: htmlToText(sections.map((s) => s.content).join('\n')), url: document.url };
  }
}

export function organizationIdOf(name: string, link: string): string {
  const id = link.trim();
  if (!/^\d{1,20}$/.test(id)) throw new DeskhandError('config', `IT Glue (${name}): a client's link must be an IT Glue organization id (a number), not "${link.slice(0, 40)}"`);
  return id;
}
