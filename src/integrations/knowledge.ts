import type { Runbook } from '../core/directory.ts';
import { describeError } from '../core/errors.ts';
import { effectivePolicy, type PolicyOverrides } from '../core/policy.ts';
import { findTool } from './catalog.ts';
import type { KnowledgeArticle, KnowledgeCapability, ReadCallHook } from './module.ts';

/**
 * Runbooks as diagnosis reads them: every article of each knowledge base a client may use (its
 * linked company or organization on each documentation platform, then the MSP's own knowledge base),
 * through the platforms' knowledge capability. Each list is one read of the platform's read tool,
 * recorded like any other read; a read tool the policies disable is never called, and is reported
 * as refused instead.
 */
export interface KnowledgeSource {
  integrationId: string;
  /** The integration's name, kept as each runbook's source. */
  name: string;
  /** The client's link on the integration; null: the MSP's own knowledge base. */
  clientLink: string | null;
  knowledge: KnowledgeCapability;
  /** The policies that apply to this client on this integration. */
  policies: PolicyOverrides;
}

export interface RunbookReadHooks {
  onCall: ReadCallHook;
  onRefused: (tool: string, args: Record<string, string>) => void;
}

/**
 * Every article of every source: the client's own knowledge bases first, then the MSP-wide ones,
 * each by title. An article two sources share (the same integration and id) is read once. A failed
 * list fails the whole read (the agent does not decide on part of the runbooks).
 */
export async function readRunbooks(sources: readonly KnowledgeSource[], hooks: RunbookReadHooks): Promise<Runbook[]> {
  const ordered = [...sources].sort((a, b) => (a.clientLink === null ? 1 : 0) - (b.clientLink === null ? 1 : 0));
  const lists = await Promise.all(ordered.map((source) => readSource(source, hooks)));
  const seen = new Set<string>();
  const runbooks: Runbook[] = [];
  lists.forEach((list, index) => {
    const source = ordered[index]!;
    for (const article of [...list].sort((a, b) => a.title.localeCompare(b.title))) {
      const key = `${source.integrationId}|${article.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      runbooks.push({ title: article.title, body: article.body, source: source.name, url: article.url });
    }
  });
  return runbooks;
}

/**
 * One article by its id, through the first source that has it (the platform answers only within the
 * connection's scope: the client's company and the MSP's own), recorded as a read of the platform's
 * `get` tool; a source whose `get` tool the policies disable is never asked. Null when none has it.
 */
export async function readArticle(sources: readonly KnowledgeSource[], id: string, hooks: RunbookReadHooks): Promise<KnowledgeArticle | null> {
  const asked = new Set<string>();
  for (const source of sources) {
    if (asked.has(source.integrationId)) continue;
    asked.add(source.integrationId);
    const tool = source.knowledge.readTools.get;
    const args = { id };
    if (!allowed(tool, source.policies)) {
      hooks.onRefused(tool, args);
      continue;
    }
    try {
      const article = await source.knowledge.get(id);
      hooks.onCall(tool, args, { integration: source.name, article: article ? { id: article.id, title: article.title, url: article.url } : null });
      if (article) return article;
    } catch (error) {
      hooks.onCall(tool, args, { integration: source.name, error: describeError(error) });
      throw error;
    }
  }
  return null;
}

function allowed(tool: string, policies: PolicyOverrides): boolean {
  const definition = findTool(tool);
  return definition !== undefined && effectivePolicy(definition, policies).policy !== 'disabled';
}

async function readSource(source: KnowledgeSource, hooks: RunbookReadHooks) {
  const tool = source.knowledge.readTools.list;
  const args = { query: '', scope: source.clientLink === null ? 'msp' : `client:${source.clientLink}` };
  if (!allowed(tool, source.policies)) {
    hooks.onRefused(tool, args);
    return [];
  }
  try {
    const articles = await source.knowledge.list({ clientLink: source.clientLink });
    hooks.onCall(tool, args, { integration: source.name, articles: articles.map((a) => ({ id: a.id, title: a.title, url: a.url })) });
    return articles;
  } catch (error) {
    hooks.onCall(tool, args, { integration: source.name, error: describeError(error) });
    throw error;
  }
}
