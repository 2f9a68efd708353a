import type { ArgumentObject, ToolDefinition } from './tool.ts';

/**
 * Workflows (issue 14): what an MSP's admin writes down once so that the planner handles a kind of
 * request their way. A trigger sentence ("a new starter joins the company") says which requests it
 * is for; the instructions say what to do; an optional list of steps names write tools with
 * arguments that are literal values or templates the planner fills from the request. MSP-wide (no
 * client) or one client's; `active`, `draft` (written, not used yet) or `archived` (no longer used,
 * kept because requests' stories name it).
 */

export const WORKFLOW_STATUSES = ['active', 'draft', 'archived'] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

export interface WorkflowStep {
  tool: string;
  /** Argument name → a literal value or one of `STEP_TEMPLATES`. */
  args: Record<string, string>;
}

export interface Workflow {
  id: string;
  /** Null: MSP-wide. */
  clientId: string | null;
  name: string;
  trigger: string;
  instructions: string;
  status: WorkflowStatus;
  steps: WorkflowStep[];
}

/**
 * The values a step's argument may take besides a literal: filled by the planner from the request.
 * Each names the kind of object it stands for, so that a template can only go where that kind of
 * object is asked for (a group where a group is, never a licence).
 */
export const STEP_TEMPLATES: Readonly<Record<string, Extract<ArgumentObject, 'user' | 'group' | 'sku'>>> = {
  '{requester}': 'user',
  '{person named in the request}': 'user',
  '{group named in the request}': 'group',
  '{licence named in the request}': 'sku',
};

/** At most this many steps: a workflow is a short recipe, not a programme. */
export const MAX_WORKFLOW_STEPS = 20;
/** A literal argument value is at most this long. */
export const MAX_STEP_VALUE_LENGTH = 500;

/** What a step list is checked against: the catalog's tools (the caller hands the catalog in). */
export type CatalogTool = Pick<ToolDefinition, 'name' | 'kind' | 'argObjects'>;

/**
 * Why a step list cannot be stored, one readable sentence per problem (empty: it can). A step must
 * name a known write tool (a workflow says what to change; reading is the diagnosis's job), use only
 * that tool's argument names, and give each a non-empty literal or a template; a template goes only
 * into an argument that names an object of its kind (`text` and `id` arguments take any template).
 * Anything in braces that is not a template is refused, so that a misspelt template is never sent
 * to a system as a literal.
 */
export function workflowStepProblems(steps: readonly WorkflowStep[], catalog: readonly CatalogTool[]): string[] {
  const problems: string[] = [];
  if (steps.length > MAX_WORKFLOW_STEPS) problems.push(`a workflow has at most ${MAX_WORKFLOW_STEPS} steps, not ${steps.length}`);
  const byName = new Map(catalog.map((tool) => [tool.name, tool]));
  steps.forEach((step, index) => {
    const where = `step ${index + 1} (${step.tool})`;
    const tool = byName.get(step.tool);
    if (!tool) {
      problems.push(`${where}: no tool is called ${step.tool}`);
      return;
    }
    if (tool.kind !== 'write') {
      problems.push(`${where}: ${step.tool} only reads; a workflow's steps are changes (write tools)`);
      return;
    }
    const names = Object.keys(tool.argObjects);
    for (const [name, value] of Object.entries(step.args)) {
      // Own keys only: an argument called `constructor` or `__proto__` is no argument of any tool.
      const object = Object.hasOwn(tool.argObjects, name) ? tool.argObjects[name] : undefined;
      if (object === undefined) {
        problems.push(`${where}: ${step.tool} has no argument ${name} (it takes ${names.length > 0 ? names.join(', ') : 'none'})`);
        continue;
      }
      const problem = valueProblem(value, object);
      if (problem) problems.push(`${where}, argument ${name}: ${problem}`);
    }
  });
  return problems;
}

function valueProblem(value: string, object: ArgumentObject): string | null {
  const template = Object.hasOwn(STEP_TEMPLATES, value) ? STEP_TEMPLATES[value] : undefined;
  if (template !== undefined) {
    const fits = object === 'text' || object === 'id' || object === template;
    return fits ? null : `${value} stands for a ${template === 'sku' ? 'licence' : template}, and this argument names a ${object === 'sku' ? 'licence' : object}`;
  }
  if (/[{}]/.test(value)) return `${JSON.stringify(value)} is not a template; use one of ${Object.keys(STEP_TEMPLATES).join(', ')}, or a literal value without braces`;
  if (value.trim() === '') return 'a value is needed (a literal or a template)';
  if (value.length > MAX_STEP_VALUE_LENGTH) return `a literal value is at most ${MAX_STEP_VALUE_LENGTH} characters`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Matching a request's text to workflows' triggers

/**
 * Words that carry no meaning of their own in a trigger or a request (articles, pronouns,
 * auxiliaries, prepositions, politeness): ignored on both sides, so that "a new starter joins" and
 * "please set up the new starter who joins on Monday" are compared on new, starter, join.
 */
const FUNCTION_WORDS = new Set(
  (
    'a an the this that these those there here it its i me my mine we us our you your he him his she her they them their who whom whose which what when where why how ' +
    'is am are was were be been being do does did done have has had having will would shall should can could may might must ' +
    'to of in on at by for with from into onto about as than then so and or but if not no nor also too very just please thanks thank hi hello dear ' +
    'some any all each every other another one ones own same such up out over off again get gets got need needs want wants like'
  ).split(' '),
);

/** A word as compared: lower case, accents off, a plural or -ing/-ed ending off ("joins", "joining", "joined" → "join"). */
function wordStem(word: string): string {
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith('ied')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && word.endsWith('ed')) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

/** The meaningful words of a text, each once, as stems. */
export function meaningfulWords(text: string): Set<string> {
  const words = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 1 && !FUNCTION_WORDS.has(word));
  return new Set(words.map(wordStem));
}

/**
 * A trigger matches when the words the request and the trigger share are most of the shorter
 * one's (at least `COVERAGE`), and not a vanishing part of the longer one's (at least `DILUTION`):
 * bounded both ways, so that a short request that says most of the trigger matches, and a long
 * pasted log that happens to hold the trigger's words somewhere does not. A trigger of two or more
 * meaningful words needs at least two of them: one shared common word is never enough.
 */
export const COVERAGE = 0.6;
export const DILUTION = 0.05;

export interface WorkflowMatch<W> {
  workflow: W;
  /** Shared words over the shorter side's words, 0..1. */
  score: number;
  /** The shared words (stems), to show why it matched. */
  words: string[];
}

/**
 * The active workflows whose trigger matches the request's text: the client's own first, then the
 * MSP-wide ones, each group best match first (then by name). Drafts and archived workflows never
 * match.
 */
export function matchWorkflows<W extends Pick<Workflow, 'clientId' | 'name' | 'trigger' | 'status'>>(text: string, workflows: readonly W[]): WorkflowMatch<W>[] {
  const request = meaningfulWords(text);
  const matches: WorkflowMatch<W>[] = [];
  for (const workflow of workflows) {
    if (workflow.status !== 'active') continue;
    const trigger = meaningfulWords(workflow.trigger);
    if (trigger.size === 0 || request.size === 0) continue;
    const shared = [...trigger].filter((word) => request.has(word));
    if (shared.length < Math.min(2, trigger.size)) continue;
    const score = shared.length / Math.min(trigger.size, request.size);
    const dilution = shared.length / Math.max(trigger.size, request.size);
    if (score >= COVERAGE && dilution >= DILUTION) matches.push({ workflow, score, words: shared.sort() });
  }
  const own = (match: WorkflowMatch<W>) => (match.workflow.clientId === null ? 1 : 0);
  return matches.sort((a, b) => own(a) - own(b) || b.score - a.score || a.workflow.name.localeCompare(b.workflow.name));
}
