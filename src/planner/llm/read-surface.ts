import type { ToolDefinition } from '../../core/tool.ts';
import type { DiagnosisReader } from '../types.ts';

/**
 * One generic `read(tool, args)` for a model: every offered read tool of the identity provider and
 * of the documentation platforms, called through the `DiagnosisReader` so that each call is
 * recorded in the request's story as the engine records the built-in planner's. A read tool the policies disable is not offered, and a
 * name that is not offered is refused with a message the model can act on.
 */
export interface ReadSurface {
  /** The read tools offered, for the model's tool description. */
  tools: readonly ToolDefinition[];
  call(tool: string, args: Record<string, string>): Promise<ReadOutcome>;
}

export type ReadOutcome = { ok: true; result: unknown } | { ok: false; error: string };

/** The reader's method behind each read verb (the part of a tool's name after its integration). */
const VERBS: Readonly<Record<string, (reader: DiagnosisReader, args: Record<string, string>) => Promise<unknown>>> = {
  get_user: (r, a) => r.getUser(a['user'] ?? ''),
  find_user: (r, a) => r.findUsers(a['query'] ?? ''),
  get_manager: (r, a) => r.getManager(a['user'] ?? ''),
  list_user_groups: (r, a) => r.listUserGroups(a['user'] ?? ''),
  list_user_licenses: (r, a) => r.listUserLicenses(a['user'] ?? ''),
  list_licenses: (r) => r.listLicenses(),
  list_auth_methods: (r, a) => r.listAuthMethods(a['user'] ?? ''),
  find_group: (r, a) => r.findGroups(a['query'] ?? ''),
  // Documentation platforms' searches: the client's runbooks (read once per request and recorded under
  // the platform's own tool names), with their text, so that no second call is needed to open one.
  search_articles: (r, a) => searchRunbooks(r, a['query'] ?? ''),
  search_documents: (r, a) => searchRunbooks(r, a['query'] ?? ''),
};

/** Runbooks whose title or text holds every word of the query (all of them for an empty query). */
async function searchRunbooks(reader: DiagnosisReader, query: string): Promise<unknown> {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w !== '');
  const runbooks = await reader.listRunbooks();
  return runbooks
    .filter((r) => words.every((w) => `${r.title}\n${r.body}`.toLowerCase().includes(w)))
    .map((r) => ({ title: r.title, body: r.body, source: r.source, url: r.url ?? null }));
}

function verbOf(tool: string): string {
  return tool.slice(tool.indexOf('.') + 1);
}

/** Results are cut to a size a model can take; the cut is said, never silent. */
const MAX_RESULT_CHARS = 12_000;

export function readSurface(reader: DiagnosisReader, offered: readonly ToolDefinition[]): ReadSurface {
  const tools = offered.filter((t) => t.kind === 'read' && VERBS[verbOf(t.name)] !== undefined);
  return {
    tools,
    async call(name, args) {
      const tool = tools.find((t) => t.name === name);
      if (!tool) {
        return { ok: false, error: `"${name}" is not a read tool you can use here; use one of: ${tools.map((t) => t.name).join(', ') || 'none'}.` };
      }
      const parsed = tool.args.safeParse(args ?? {});
      if (!parsed.success) {
        return { ok: false, error: `${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}` };
      }
      const run = VERBS[verbOf(name)];
      if (!run) return { ok: false, error: `${name} cannot be called` };
      try {
        const result = (await run(reader, parsed.data)) ?? null;
        const text = JSON.stringify(result);
        if (text.length <= MAX_RESULT_CHARS) return { ok: true, result };
        return { ok: true, result: { truncated: true, note: `the result was cut to ${MAX_RESULT_CHARS} characters; narrow the query`, text: text.slice(0, MAX_RESULT_CHARS) } };
      } catch (error) {
        // The reader's errors are already safe to show (no secrets); a disabled tool says so.
        return { ok: false, error: `${name} failed: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
  };
}
