import { APICallError, generateText, type LanguageModel, type ModelMessage, tool } from 'ai';
import { z } from 'zod';
import type { PlannerUsage, ProposedPlan } from '../../core/plan.ts';
import type { ToolDefinition } from '../../core/tool.ts';
import { identifyRequester } from '../requester.ts';
import type { Planner, PlannerInput, PlannerJournalEntry } from '../types.ts';
import { answerProblems, answerSchema, type ModelAnswer, toProposedPlan } from './answer.ts';
import { BASE_PROMPT, requestMessage, systemPrompt } from './prompts.ts';
import { type ReadSurface, readSurface } from './read-surface.ts';
import { costUsd, DEFAULT_BUDGET, type LlmBudget, type LlmSettings, languageModel, modelLabel } from './settings.ts';

/**
 * The LLM planner: a language model diagnoses with the read tools itself, through one generic
 * `read(tool, args)`, then answers once with a structured `answer` (a plan of offered write tools,
 * `no_action` or `escalate`). Whatever it says, the same guarantees hold as for the built-in
 * planner: only offered tools, schema-valid arguments, names resolved by the integration; an
 * invalid answer is sent back once with what was wrong, then the request escalates.
 *
 * Every model response is appended to the request's journal as it arrives; a run that was
 * interrupted replays the journal instead of paying for those calls again. Limits per request:
 * model calls, tokens, wall time (an abort reaches every call). A provider that rate-limits or
 * fails is retried with backoff within those limits, then the request escalates with a note.
 */
export interface LlmPlannerOptions {
  budget?: Partial<LlmBudget>;
  /** Tests and the scripted server pass a model; otherwise it is built from the settings. */
  model?: LanguageModel;
  env?: NodeJS.ProcessEnv;
}

/** What the journal keeps of one model response: the messages to replay and what was spent. */
interface ModelStep {
  messages: ModelMessage[];
  toolCalls: Array<{ toolCallId: string; toolName: string; input: unknown }>;
  inputTokens: number;
  outputTokens: number;
}

class ProviderUnavailable extends Error {}
class BudgetSpent extends Error {}

export class LlmPlanner implements Planner {
  readonly name = 'llm';
  private readonly budget: LlmBudget;

  constructor(
    private readonly settings: LlmSettings,
    private readonly options: LlmPlannerOptions = {},
  ) {
    this.budget = { ...DEFAULT_BUDGET, ...options.budget };
  }

  async plan(input: PlannerInput): Promise<ProposedPlan> {
    // Who is asking is checked before any model is paid: outsiders and unknown or disabled accounts escalate.
    const requester = await identifyRequester(input);
    if (!requester.ok) {
      const refusal = requester.refusal;
      return { outcome: 'escalate', summary: `Escalate to a technician: ${refusal.summary}.`, reasons: refusal.reasons, steps: [] };
    }
    return new ModelRun(this.settings, this.options.model ?? languageModel(this.settings), this.budget, input, this.options.env ?? process.env).run();
  }
}

class ModelRun {
  private readonly surface: ReadSurface;
  private readonly writeTools: readonly ToolDefinition[];
  private readonly usage: PlannerUsage;
  private readonly started = Date.now();
  private messages: ModelMessage[] = [];
  private journal: PlannerJournalEntry[] = [];
  private replayed = 0;
  private step = 0;

  constructor(
    private readonly settings: LlmSettings,
    private readonly model: LanguageModel,
    private readonly budget: LlmBudget,
    private readonly input: PlannerInput,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.surface = readSurface(input.reader, input.tools);
    this.writeTools = input.tools.filter((t) => t.kind === 'write');
    this.usage = { model: modelLabel(settings), modelCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  }

  async run(): Promise<ProposedPlan> {
    this.journal = (await this.input.journal?.load()) ?? [];
    const runbooks = await this.input.reader.listRunbooks();
    this.messages = [
      {
        role: 'user',
        content: requestMessage({
          clientName: this.input.client.name,
          clientDomain: this.input.client.domain,
          requesterEmail: this.input.requesterEmail,
          channel: this.input.request.channel,
          text: this.input.request.text,
          runbooks,
        }),
      },
    ];
    let repairsLeft = 1;
    try {
      while (this.usage.modelCalls < this.budget.maxModelCalls) {
        const step = await this.nextStep();
        if (step.toolCalls.length === 0) {
          if (repairsLeft-- <= 0) return this.escalate('the model did not give a structured answer', ['The model answered in plain text twice instead of with the answer tool.']);
          this.messages.push({ role: 'user', content: 'Answer with the "answer" tool only: outcome, reason and, for a plan, steps.' });
          continue;
        }
        const results: ModelMessage = { role: 'tool', content: [] };
        let finished: ProposedPlan | null = null;
        for (const call of step.toolCalls) {
          if (call.toolName === 'read') {
            const asked = z.object({ tool: z.string(), args: z.record(z.string(), z.string()).default({}) }).safeParse(call.input);
            const outcome = asked.success ? await this.surface.call(asked.data.tool, asked.data.args) : { ok: false as const, error: 'read needs {tool, args}' };
            results.content.push(toolResult(call, outcome.ok ? outcome.result : { error: outcome.error }));
            continue;
          }
          if (call.toolName === 'answer' && finished === null) {
            const verdict = await this.judge(call.input);
            if (verdict.ok) {
              finished = verdict.plan;
              results.content.push(toolResult(call, { accepted: true }));
              continue;
            }
            if (repairsLeft-- <= 0) {
              return this.escalate('the model\'s answer failed validation twice', [`What was wrong the second time: ${verdict.problems.join('; ')}.`]);
            }
            results.content.push(toolResult(call, { accepted: false, problems: verdict.problems, instruction: 'Correct the answer and call "answer" again.' }));
            continue;
          }
          results.content.push(toolResult(call, { error: `unknown tool "${call.toolName}"; use "read" or "answer"` }));
        }
        if (finished) return this.finish(finished);
        this.messages.push(results);
      }
      return this.escalate('the model used its budget without answering', [`It made ${this.usage.modelCalls} model calls, the most allowed for one request.`]);
    } catch (error) {
      if (error instanceof ProviderUnavailable) return this.escalate('the language model could not be reached', [error.message]);
      if (error instanceof BudgetSpent) return this.escalate('the model used its budget without answering', [error.message]);
      throw error;
    }
  }

  /** The next model response: replayed from the journal when this run already paid for it, else asked for and recorded. */
  private async nextStep(): Promise<ModelStep> {
    const stored = this.journal.find((e) => e.kind === 'model' && e.step === this.step);
    let step: ModelStep;
    if (stored) {
      step = stored.payload as ModelStep;
      this.replayed++;
    } else {
      if (this.usage.inputTokens + this.usage.outputTokens >= this.budget.maxTokens) {
        throw new BudgetSpent(`It used ${this.usage.inputTokens + this.usage.outputTokens} tokens, the most allowed for one request (${this.budget.maxTokens}).`);
      }
      step = await this.callModel();
      await this.input.journal?.append({ step: this.step, kind: 'model', payload: step });
    }
    this.step++;
    this.usage.modelCalls++;
    this.usage.inputTokens += step.inputTokens;
    this.usage.outputTokens += step.outputTokens;
    this.messages.push(...step.messages);
    return step;
  }

  private async callModel(): Promise<ModelStep> {
    for (let attempt = 1; ; attempt++) {
      const left = this.budget.maxMs - (Date.now() - this.started);
      if (left <= 0) throw new BudgetSpent(`The request took longer than the ${Math.round(this.budget.maxMs / 1000)} s allowed for one request.`);
      const signal = this.input.signal ? AbortSignal.any([this.input.signal, AbortSignal.timeout(left)]) : AbortSignal.timeout(left);
      try {
        const result = await generateText({
          model: this.model,
          system: systemPrompt({ base: BASE_PROMPT, msp: this.input.prompts?.msp ?? null, client: this.input.prompts?.client ?? null, ...(this.input.workflows ? { workflows: this.input.workflows } : {}) }),
          messages: this.messages,
          tools: this.tools(),
          toolChoice: 'required',
          maxRetries: 0,
          abortSignal: signal,
        });
        return {
          messages: result.response.messages as ModelMessage[],
          toolCalls: result.toolCalls.map((c) => ({ toolCallId: c.toolCallId, toolName: c.toolName, input: c.input })),
          inputTokens: result.usage.inputTokens ?? 0,
          outputTokens: result.usage.outputTokens ?? 0,
        };
      } catch (error) {
        if (this.input.signal?.aborted) throw error;
        // A model that answered in words, or called no tool we offer, answered badly: the repair path, not an outage.
        if (error instanceof Error && /ToolChoiceViolation|NoSuchTool/.test(error.name)) return { messages: [], toolCalls: [], inputTokens: 0, outputTokens: 0 };
        const timedOut = signal.aborted;
        const status = APICallError.isInstance(error) ? error.statusCode : undefined;
        const retryable = timedOut ? false : APICallError.isInstance(error) ? error.isRetryable || status === 429 : true;
        const what = timedOut
          ? `The model did not answer within the ${Math.round(this.budget.maxMs / 1000)} s allowed for one request.`
          : `The provider answered ${status ?? 'with an error'}${status === 429 ? ' (rate limited)' : ''} on attempt ${attempt} of ${this.budget.maxAttempts}.`;
        if (!retryable || attempt >= this.budget.maxAttempts) throw new ProviderUnavailable(what);
        await this.backoff(error, attempt);
      }
    }
  }

  /** Wait as the provider asks (`retry-after`), else 0.5 s, 1 s, 2 s...; never past the request's time. */
  private async backoff(error: unknown, attempt: number): Promise<void> {
    const header = APICallError.isInstance(error) ? error.responseHeaders?.['retry-after'] : undefined;
    const asked = header !== undefined && Number.isFinite(Number(header)) ? Number(header) * 1000 : 500 * 2 ** (attempt - 1);
    const left = this.budget.maxMs - (Date.now() - this.started);
    const wait = Math.max(0, Math.min(asked, 10_000, left - 100));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, wait);
      this.input.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(this.input.signal?.reason);
      });
    });
  }

  private tools() {
    const reads = this.surface.tools.map((t) => `- ${t.name}(${Object.keys(t.argObjects).join(', ')}): ${t.description}`).join('\n');
    const writes = this.writeTools.map((t) => `- ${t.name}(${Object.keys(t.argObjects).join(', ')}): ${t.description}`).join('\n');
    return {
      read: tool({
        description: `Call one read tool of the client's tenant and get its result. Read tools:\n${reads || '(none offered)'}`,
        inputSchema: z.object({ tool: z.string().describe('the read tool, e.g. one listed above'), args: z.record(z.string(), z.string()).default({}).describe('its arguments as strings') }),
      }),
      answer: tool({
        description: `Give your one answer for this request. Write tools you may use in a plan's steps (no others):\n${writes || '(none offered: escalate anything that needs a change)'}`,
        inputSchema: answerSchema,
      }),
    };
  }

  /** The answer parsed, checked against the offered tools, then by the engine's validation. */
  private async judge(raw: unknown): Promise<{ ok: true; plan: ProposedPlan } | { ok: false; problems: string[] }> {
    const parsed = answerSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'answer'}: ${i.message}`) };
    const answer: ModelAnswer = parsed.data;
    const problems = [...answerProblems(answer, this.writeTools), ...(await this.administrativeGroups(answer))];
    if (problems.length > 0) return { ok: false, problems };
    const plan = toProposedPlan(answer, { model: this.usage.model, employeeEmail: this.input.requesterEmail });
    const checked = this.input.check ? await this.input.check(plan) : [];
    return checked.length > 0 ? { ok: false, problems: checked } : { ok: true, plan };
  }

  /**
   * Administrative groups are never changed by the agent, whatever a model (or a ticket that talked
   * it round) proposes: a hard rule here, not a matter of prompting.
   */
  private async administrativeGroups(answer: ModelAnswer): Promise<string[]> {
    const problems: string[] = [];
    for (const [i, step] of answer.steps.entries()) {
      const name = step.args['group'];
      if (!name) continue;
      const found = await this.input.reader.findGroups(name).catch(() => []);
      const group = found.find((g) => g.displayName.toLowerCase() === name.toLowerCase());
      if (group?.privileged) problems.push(`step ${i + 1}: ${group.displayName} is an administrative group; the helpdesk never changes its members, so escalate`);
    }
    return problems;
  }

  private spent(): PlannerUsage {
    return { ...this.usage, costUsd: costUsd(this.settings, this.usage.inputTokens, this.usage.outputTokens, this.env) };
  }

  private usageLine(): string {
    const u = this.spent();
    const cost = u.costUsd === null ? 'cost unknown for this model' : `$${u.costUsd.toFixed(4)}`;
    const replay = this.replayed > 0 ? `; ${this.replayed} of them replayed from the journal, not paid again` : '';
    return `Model ${u.model}: ${u.modelCalls} call${u.modelCalls === 1 ? '' : 's'}${replay}, ${u.inputTokens} input and ${u.outputTokens} output tokens, ${cost}.`;
  }

  private finish(plan: ProposedPlan): ProposedPlan {
    return { ...plan, reasons: [...plan.reasons, this.usageLine()], usage: this.spent() };
  }

  private escalate(summary: string, reasons: string[]): ProposedPlan {
    return { outcome: 'escalate', summary: `Escalate to a technician: ${summary}.`, reasons: [...reasons, this.usageLine()], steps: [], usage: this.spent() };
  }
}

function toolResult(call: { toolCallId: string; toolName: string }, value: unknown) {
  return { type: 'tool-result' as const, toolCallId: call.toolCallId, toolName: call.toolName, output: { type: 'json' as const, value: JSON.parse(JSON.stringify(value ?? null)) } };
}
