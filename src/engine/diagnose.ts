import type { DirectoryUser, Runbook } from '../core/directory.ts';
import { describeError, isDeskhandError, isToolDisabled } from '../core/errors.ts';
import { freezePlan, type PlannerContext, type PlanStep, type ProposedPlan } from '../core/plan.ts';
import { approvalsNeeded, effectiveOperatingMode, effectivePolicy, offeredTools, type OperatingMode } from '../core/policy.ts';
import type { ToolDefinition, ToolPolicy } from '../core/tool.ts';
import { findTool } from '../integrations/catalog.ts';
import { readRunbooks, type RunbookReadHooks } from '../integrations/knowledge.ts';
import type { ReadCallHook } from '../integrations/module.ts';
import type { IdentityRuntime } from '../integrations/registry.ts';
import { type DiagnosisReader, type PlannerInput, REQUEST_CHANNELS, type RequestChannelName } from '../planner/types.ts';
import { validatePlan } from '../planner/validate.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { json } from '../store/db.ts';
import { matchWorkflows } from '../core/workflows.ts';
import { plannerJournal } from '../store/planner-journal.ts';
import { activeWorkflowsFor } from '../store/workflows.ts';
import { type ClaimedRequest, enqueueTicketNote } from '../store/requests.ts';
import type { RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { internalNote } from './messages.ts';
import { deliverNow } from './outbox.ts';
import { resolveThroughReader } from './resolve.ts';

/**
 * The `received` step: read the ticket, diagnose with read tools only, plan, validate, freeze the
 * plan and check its policies, then queue the internal note. Nothing changes anywhere and the
 * employee hears nothing; the request becomes `noted` once the note is on the ticket.
 */
export interface ReadRecord {
  tool: string;
  args: Record<string, string>;
  result: unknown;
  /** `resolve`: a lookup made to resolve the names of a write step the policies allow (part of that step). */
  purpose?: 'resolve';
}

export async function diagnoseRequest(ctx: EngineContext, claimed: ClaimedRequest): Promise<void> {
  // The claim already moved a `received` request to `diagnosing`; its audit row is written with the outcome.
  let request: RequestRow = claimed;
  const started = (await movedToDiagnosingUnaudited(ctx, claimed)) ? ctx.clock.now() : null;
  const ticket = await loadTicket(ctx, request);
  request = { ...request, requester_email: ticket.requesterEmail };
  const client = request.client_id
    ? await ctx.db.selectFrom('clients').selectAll().where('id', '=', request.client_id).executeTakeFirst()
    : undefined;
  const msp = await ctx.db.selectFrom('msps').selectAll().where('id', '=', request.msp_id).executeTakeFirstOrThrow();
  const identity = client ? await ctx.integrations.identityForClient(client.id) : null;
  const mode: OperatingMode = effectiveOperatingMode(client?.operating_mode ?? 'inherit', msp.default_operating_mode);

  if (!client || !identity) {
    const reason = !client
      ? 'the ticket does not belong to a client deskhand serves'
      : `${client.name} has no identity provider integration configured, so the agent cannot look anything up`;
    await persistOutcome(ctx, request, {
      mode,
      clientName: client?.name ?? 'an unknown client',
      proposed: { outcome: 'escalate', summary: reason, reasons: [reason], steps: [] },
      reads: [],
      requester: null,
      manager: null,
      findings: [],
      rejectedProblems: null,
      planner: ctx.planner.name,
      started,
    });
    return;
  }

  // The client's own language model, else its MSP's, else the built-in planner.
  const planner = (await ctx.integrations.plannerForClient(client.id)) ?? ctx.planner;
  // The MSP's workflows whose trigger matches the words (the client's own first), and the prompts' tiers.
  const workflows = matchWorkflows(ticket.text, await activeWorkflowsFor(ctx.db, msp.id, client.id)).map((m) => ({
    id: m.workflow.id,
    name: m.workflow.name,
    instructions: m.workflow.instructions,
    steps: m.workflow.steps,
    scope: m.workflow.clientId === null ? ('msp' as const) : ('client' as const),
  }));
  const planning = await runPlanning({
    planner,
    catalog: ctx.catalog,
    identity,
    client,
    text: ticket.text,
    channel: requestChannel(request.channel),
    requesterEmail: ticket.requesterEmail,
    runbooks: await clientRunbooks(ctx, client.id),
    journal: plannerJournal(ctx.db, request.id),
    prompts: { msp: msp.planner_prompt, client: client.planner_prompt },
    workflows,
  });
  await persistOutcome(ctx, request, {
    mode,
    clientName: client.name,
    ...planning,
    identity,
    planner: planner.name,
    plannerContext: {
      // Only a model reads the prompts; the built-in planner applies workflows' steps.
      prompts: planner.name === 'builtin' ? null : { msp: msp.planner_prompt, client: client.planner_prompt },
      workflows: workflows.map((w) => ({ id: w.id, name: w.name, scope: w.scope })),
    },
    started,
  });
}

/**
 * Where a client's runbooks come from: the knowledge bases of its MSP's documentation integrations
 * (its linked company or organization, and the MSP-wide one), each list a recorded read. A client
 * whose MSP has no documentation integration reads the `runbooks` table instead (runbooks stored
 * before documentation integrations existed); once the MSP connects one, the table is not read.
 */
async function clientRunbooks(ctx: EngineContext, clientId: string): Promise<PlanningInput['runbooks']> {
  const sources = await ctx.integrations.knowledgeForClient(clientId);
  if (sources.length > 0) return (hooks) => readRunbooks(sources, hooks);
  return async () => ctx.db.selectFrom('runbooks').select(['title', 'body', 'source']).where('client_id', '=', clientId).orderBy('title').execute();
}

/** Whether the `diagnosing` state still needs its audit row (written with the outcome, in one transaction). */
async function movedToDiagnosingUnaudited(ctx: EngineContext, claimed: ClaimedRequest): Promise<boolean> {
  if (claimed.claimed_state === 'received') return true;
  // A retry after a crash: the first claim's row was never written if that attempt died before persisting.
  const seen = await ctx.db
    .selectFrom('audit_log')
    .select('seq')
    .where('request_id', '=', claimed.id)
    .where('event', '=', 'request.diagnosing')
    .executeTakeFirst();
  return !seen;
}

/**
 * The agent could not diagnose (a system kept failing, or an error that retrying cannot fix): the
 * note tells technicians, in the client's real operating mode; nothing else happens.
 */
export async function escalateUndiagnosed(ctx: EngineContext, request: RequestRow, error: string): Promise<void> {
  const existing = await ctx.db.selectFrom('plans').select('id').where('request_id', '=', request.id).executeTakeFirst();
  if (existing) return;
  const client = request.client_id
    ? await ctx.db.selectFrom('clients').select(['name', 'operating_mode']).where('id', '=', request.client_id).executeTakeFirst()
    : undefined;
  const msp = await ctx.db.selectFrom('msps').select('default_operating_mode').where('id', '=', request.msp_id).executeTakeFirstOrThrow();
  const reason = `the agent could not complete its diagnosis: ${error}`;
  await persistOutcome(ctx, request, {
    mode: effectiveOperatingMode(client?.operating_mode ?? 'inherit', msp.default_operating_mode),
    clientName: client?.name ?? 'an unknown client',
    proposed: { outcome: 'escalate', summary: reason, reasons: [reason], steps: [] },
    reads: [],
    requester: null,
    manager: null,
    findings: [],
    rejectedProblems: null,
    planner: ctx.planner.name,
    // The claim that moved it to `diagnosing` has its audit row written here when no outcome was.
    started: (await movedToDiagnosingUnaudited(ctx, { ...request, claimed_state: 'diagnosing' })) ? ctx.clock.now() : null,
  });
}

export interface PlanningInput {
  planner: EngineContext['planner'];
  catalog: EngineContext['catalog'];
  identity: IdentityRuntime;
  client: { slug: string; name: string; domain: string };
  text: string;
  channel?: PlannerInput['request']['channel'];
  requesterEmail: string;
  /** The client's runbooks, read once per planning run; the hooks record each read (or its refusal by the policies). */
  runbooks: (hooks: RunbookReadHooks) => Promise<Runbook[]>;
  /** The MSP's and the client's instructions to a model-backed planner. */
  prompts?: PlannerInput['prompts'];
  /** The workflows whose trigger matches the request, named in the note whichever planner reads them. */
  workflows?: ReadonlyArray<NonNullable<PlannerInput['workflows']>[number] & { scope: 'msp' | 'client' }>;
  /** A model-backed planner's durable memory for this request. */
  journal?: PlannerInput['journal'];
  signal?: AbortSignal;
}

export interface PlanningResult {
  proposed: ProposedPlan;
  reads: ReadRecord[];
  requester: DirectoryUser | null;
  manager: DirectoryUser | null;
  findings: string[];
  rejectedProblems: string[] | null;
}

/** What a read the policies disable records in the diagnosis instead of a result. */
export const NOT_CALLED = { not_called: 'disabled by the tool policies' } as const;

/**
 * Diagnosis and planning without any side effect: the planner reads through the recording reader,
 * then every plan goes through validation. Used by the engine and by `deskhand eval`.
 *
 * Only read tools the policies allow are called (DESIGN rule 3); a read refused for that reason is
 * recorded as not called and named in the findings, and a planner that needed it escalates.
 * Resolving the names of a write step the policies allow is part of that step, so validation
 * resolves through the unrestricted view of the same reader.
 */
export async function runPlanning(input: PlanningInput): Promise<PlanningResult> {
  const reads: ReadRecord[] = [];
  const refused = new Map<string, ReadRecord>();
  const allowed = (tool: string) => {
    const definition = findTool(tool);
    return definition !== undefined && effectivePolicy(definition, input.identity.policies).policy !== 'disabled';
  };
  const onCall: ReadCallHook = (tool, args, result, purpose) => reads.push({ tool, args, result, ...(purpose === 'resolve' ? { purpose } : {}) });
  const onRefused = (tool: string, args: Record<string, string>) => {
    const key = `${tool}?${JSON.stringify(args)}`;
    if (!refused.has(key)) refused.set(key, { tool, args, result: NOT_CALLED });
  };
  let runbooks: Promise<Runbook[]> | undefined;
  const { reader, resolving } = input.identity.reader(() => (runbooks ??= input.runbooks({ onCall, onRefused })), onCall, { allowed, onRefused });
  await prefetch(reader, input.requesterEmail);
  const offered = offeredTools(input.catalog, input.identity.policies);
  // The same validation as below, offered to the planner so that a model can correct its answer once.
  const check = async (plan: ProposedPlan): Promise<string[]> => {
    const checked = await validatePlan(plan, { tools: offered, allTools: input.catalog, resolve: (argObjects, args) => resolveThroughReader(resolving, argObjects, args) });
    return checked.ok ? [] : checked.problems;
  };
  const proposed = await planOrEscalate(input, reader, offered, check);
  // The requester and their manager, for the note and for dual approval (fail closed when none).
  const requester = await reader.getUser(input.requesterEmail).catch(() => null);
  const manager = requester ? await reader.getManager(requester.userPrincipalName).catch(() => null) : null;
  const findings = requester
    ? await describeRequester(reader, requester, manager, allowed, input.identity.readTools)
    : [
        allowed(input.identity.readTools.user)
          ? `${input.requesterEmail} was not found in ${input.client.name}'s directory.`
          : `Who is asking (${input.requesterEmail}) was not checked: ${input.identity.readTools.user} is disabled by the tool policies.`,
      ];
  const validation = await validatePlan(proposed, {
    tools: offered,
    allTools: input.catalog,
    resolve: (argObjects, args) => resolveThroughReader(resolving, argObjects, args),
  });
  if (input.workflows && input.workflows.length > 0) {
    findings.push(`Workflows given to the planner (their trigger matches the request): ${input.workflows.map((w) => `"${w.name}" (${w.scope === 'client' ? `${input.client.name}'s` : 'MSP-wide'})`).join(', ')}.`);
  }
  const notCalled = [...refused.values()];
  if (notCalled.length > 0) {
    findings.push(
      `Not checked, because the tool policies disable these read tools for ${input.client.name}: ${[...new Set(notCalled.map((r) => r.tool))].join(', ')}.`,
    );
  }
  const recorded = [...reads, ...notCalled];
  if (validation.ok) {
    const checked = await checkSteps(input.identity, validation.plan);
    findings.push(...checked.notes);
    if (checked.refusals.length === 0) return { proposed: validation.plan, reads: recorded, requester, manager, findings, rejectedProblems: null };
    return {
      proposed: {
        outcome: 'escalate',
        summary: `Escalate to a technician: the plan (${validation.plan.summary.replace(/\.$/, '')}) cannot be carried out with this connection`,
        reasons: [...checked.refusals, ...validation.plan.reasons.map((reason) => `The plan's reasoning: ${reason}`)],
        steps: [],
        ...(proposed.usage ? { usage: proposed.usage } : {}),
      },
      reads: recorded,
      requester,
      manager,
      findings,
      rejectedProblems: null,
    };
  }
  return {
    proposed: {
      outcome: 'escalate',
      summary: 'the proposed plan failed validation, so nothing will run',
      reasons: proposed.reasons,
      steps: [],
      ...(proposed.usage ? { usage: proposed.usage } : {}),
    },
    reads: recorded,
    requester,
    manager,
    findings,
    rejectedProblems: validation.problems,
  };
}

/**
 * The integration's own look at each step of a valid plan (`check`, when its tools have one): how the
 * change will be made, for the note, or why it cannot be made with this connection, which makes the
 * request a technician's before anything runs.
 */
async function checkSteps(identity: IdentityRuntime, plan: ProposedPlan): Promise<{ notes: string[]; refusals: string[] }> {
  const notes: string[] = [];
  const refusals: string[] = [];
  if (!identity.check || plan.outcome !== 'plan') return { notes, refusals };
  for (const step of plan.steps) {
    const checked = await identity.check(step.tool, step.args, step.resolved ?? {});
    if (!checked.ok) refusals.push(`${step.tool} cannot be carried out: ${checked.reason}`);
    else if (checked.note) notes.push(checked.note);
  }
  return { notes, refusals };
}

/** The planner's answer; a read it needed that the policies disable makes it a technician's request. */
async function planOrEscalate(input: PlanningInput, reader: DiagnosisReader, offered: ToolDefinition[], check: PlannerInput['check']): Promise<ProposedPlan> {
  try {
    return await input.planner.plan({
      request: { text: input.text, channel: input.channel ?? 'psa' },
      client: input.client,
      requesterEmail: input.requesterEmail,
      tools: offered,
      reader,
      ...(check ? { check } : {}),
      ...(input.prompts ? { prompts: input.prompts } : {}),
      ...(input.workflows && input.workflows.length > 0 ? { workflows: input.workflows } : {}),
      ...(input.journal ? { journal: input.journal } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
  } catch (error) {
    if (!isToolDisabled(error)) throw error;
    return {
      outcome: 'escalate',
      summary: `Escalate to a technician: the agent needed ${error.tool}, which the tool policies disable for ${input.client.name}`,
      reasons: [`Diagnosing this request needs ${error.tool}; it is disabled for ${input.client.name}, so it was not called and the agent cannot decide safely.`],
      steps: [],
    };
  }
}

/**
 * Start, at once and in parallel, the reads nearly every diagnosis makes (the reader caches them, so
 * the planner's own calls then find them done): the tenant's groups and SKUs, the client's runbooks
 * (read once per planning run), and the requester's profile, groups, licenses and manager. Failures
 * (and reads the policies disable) are left for the planner to meet.
 */
async function prefetch(reader: DiagnosisReader, requesterEmail: string): Promise<void> {
  const quiet = (promise: Promise<unknown>) => promise.catch(() => undefined);
  void quiet(reader.findGroups(''));
  void quiet(reader.listLicenses());
  void quiet(reader.listRunbooks());
  const user = await reader.getUser(requesterEmail).catch(() => null);
  if (!user) return;
  await Promise.all([
    quiet(reader.listUserGroups(user.userPrincipalName)),
    quiet(reader.listUserLicenses(user.userPrincipalName)),
    quiet(reader.getManager(user.userPrincipalName)),
  ]);
}

interface TicketText {
  text: string;
  requesterEmail: string;
}

/**
 * The employee's words. A PSA ticket's summary and requester usually came with the signed webhook;
 * its description (the first Discussion note) is read here. Without them, the whole ticket is read.
 */
async function loadTicket(ctx: EngineContext, request: RequestRow): Promise<TicketText> {
  if (request.body || !request.source_integration_id) return { text: joinText(request.subject, request.body), requesterEmail: request.requester_email };
  const psa = await ctx.integrations.ticketOf(request.source_integration_id);
  const known = request.subject !== '' && request.requester_email !== '';
  const ticket = known
    ? { summary: request.subject, description: await psa.getDescription(request.external_ref), requesterEmail: request.requester_email }
    : await psa.getTicket(request.external_ref);
  const requesterEmail = (ticket.requesterEmail ?? request.requester_email).toLowerCase();
  await ctx.db
    .updateTable('requests')
    .set({ subject: ticket.summary, body: ticket.description, requester_email: requesterEmail, updated_at: ctx.clock.now() })
    .where('id', '=', request.id)
    .execute();
  return { text: joinText(ticket.summary, ticket.description), requesterEmail };
}

function joinText(subject: string, body: string): string {
  if (!body) return subject;
  if (!subject || body.startsWith(subject)) return body;
  return `${subject}\n\n${body}`;
}

async function describeRequester(
  reader: DiagnosisReader,
  user: DirectoryUser,
  manager: DirectoryUser | null,
  allowed: (tool: string) => boolean,
  tools: IdentityRuntime['readTools'],
): Promise<string[]> {
  const notChecked = (tool: string) => `not checked (${tool} is disabled by the tool policies)`;
  const [groups, licenses] = await Promise.all([
    allowed(tools.groups) ? reader.listUserGroups(user.userPrincipalName).catch(() => []) : null,
    allowed(tools.licenses) ? reader.listUserLicenses(user.userPrincipalName).catch(() => []) : null,
  ]);
  const role = [user.jobTitle, user.department].filter(Boolean).join(', ');
  return [
    `Requester: ${user.displayName} <${user.userPrincipalName}>${role ? `, ${role}` : ''}; account ${user.accountEnabled === false ? 'DISABLED' : 'enabled'}.`,
    `Manager: ${manager ? `${manager.displayName} <${manager.userPrincipalName}>` : allowed(tools.manager) ? 'none set in the directory' : notChecked(tools.manager)}.`,
    `Groups: ${groups === null ? notChecked(tools.groups) : groups.length > 0 ? groups.map((g) => g.displayName).join(', ') : 'none'}.`,
    `Licenses: ${licenses === null ? notChecked(tools.licenses) : licenses.length > 0 ? licenses.join(', ') : 'none'}.`,
  ];
}

interface OutcomeInput {
  plannerContext?: PlannerContext;
  mode: OperatingMode;
  clientName: string;
  proposed: ProposedPlan;
  reads: ReadRecord[];
  requester: DirectoryUser | null;
  manager: DirectoryUser | null;
  findings: string[];
  rejectedProblems: string[] | null;
  identity?: IdentityRuntime;
  planner: string;
  /** When this claim moved the request from `received` to `diagnosing` (audited with the outcome). */
  started: Date | null;
}

/** Freeze the plan, check policies, store diagnosis and plan, and queue the internal note: one transaction. */
async function persistOutcome(ctx: EngineContext, request: RequestRow, input: OutcomeInput): Promise<void> {
  const at = ctx.clock.now();
  const steps: PlanStep[] = input.proposed.outcome === 'plan' ? input.proposed.steps : [];
  const frozen = freezePlan(request.id, steps);
  // Policies are checked only after the plan is frozen (DESIGN rule 4).
  const stepPolicies: ToolPolicy[] = frozen.steps.map((step) => {
    const tool = findTool(step.tool);
    if (!tool || !input.identity) return { policy: 'disabled', requireManagerApproval: false };
    return effectivePolicy(tool, input.identity.policies);
  });
  const needs = approvalsNeeded(
    frozen.steps.map((step, index) => ({ policy: stepPolicies[index]!, plannerRequestsManagerApproval: step.requireManagerApproval === true })),
  );
  const planId = crypto.randomUUID();
  const note = internalNote({
    requestId: request.id,
    requesterEmail: request.requester_email,
    requesterName: input.requester?.displayName ?? null,
    clientName: input.clientName,
    operatingMode: input.mode,
    outcome: input.proposed.outcome,
    summary: input.proposed.summary,
    reasons: input.proposed.reasons,
    findings: input.findings,
    steps: frozen.steps,
    stepPolicies,
    planHash: frozen.hash,
    needsTechnician: needs.technician,
    needsManager: needs.manager,
    managerName: input.manager?.displayName ?? null,
    rejectedProblems: input.rejectedProblems,
    replyToEmployee: input.proposed.replyToEmployee ?? null,
  });
  await inTransaction(ctx.db, async (tx) => {
    // The request row first, as every transaction that touches a request does (no lock-order deadlocks).
    await tx.selectFrom('requests').select('id').where('id', '=', request.id).forNoKeyUpdate().executeTakeFirst();
    await tx
      .insertInto('diagnoses')
      .values({
        request_id: request.id,
        requester: input.requester ? json(input.requester) : null,
        manager: input.manager ? json(input.manager) : null,
        reads: json(input.reads),
        created_at: at,
      })
      .onConflict((oc) =>
        oc.column('request_id').doUpdateSet({
          requester: input.requester ? json(input.requester) : null,
          manager: input.manager ? json(input.manager) : null,
          reads: json(input.reads),
          created_at: at,
        }),
      )
      .execute();
    await tx
      .insertInto('plans')
      .values({
        id: planId,
        request_id: request.id,
        planner: input.planner,
        outcome: input.proposed.outcome,
        summary: input.proposed.summary,
        reasons: json(input.proposed.reasons),
        reply_to_employee: input.proposed.replyToEmployee ?? null,
        steps: json(frozen.steps),
        step_policies: json(stepPolicies),
        canonical: frozen.canonical,
        hash: frozen.hash,
        operating_mode: input.mode,
        needs_technician: needs.technician,
        needs_manager: needs.manager,
        rejected_problems: input.rejectedProblems ? json(input.rejectedProblems) : null,
        usage: input.proposed.usage ? json(input.proposed.usage) : null,
        planner_context: input.plannerContext ? json(input.plannerContext) : null,
        created_at: at,
      })
      .execute();
    await appendAudit(tx, [
      ...(input.started
        ? [{ mspId: request.msp_id, requestId: request.id, actor: 'agent', event: 'request.diagnosing', data: { from: 'received', to: 'diagnosing' }, at: input.started }]
        : []),
      {
        mspId: request.msp_id,
        requestId: request.id,
        actor: 'agent',
        event: 'diagnosis.recorded',
        data: { reads: input.reads.map((r) => r.tool), requester: input.requester?.userPrincipalName ?? null },
        at,
      },
      {
        mspId: request.msp_id,
        requestId: request.id,
        actor: 'agent',
        event: 'plan.frozen',
        data: {
          planner: input.planner,
          outcome: input.proposed.outcome,
          hash: frozen.hash,
          steps: frozen.steps.map((s) => s.tool),
          policies: stepPolicies.map((p) => p.policy),
          rejected: input.rejectedProblems,
        },
        at,
      },
    ]);
    await enqueueTicketNote(tx, request, {
      key: 'note',
      purpose: 'internal_note',
      visibility: 'internal',
      text: note,
      onDelivered: { requestState: 'noted' },
      at,
      wake: false,
    });
    // Wait for the note: the outbox moves the request on once the note is on the ticket (rule 2).
    await tx
      .updateTable('requests')
      .set({ due_at: null, lease_owner: null, lease_until: null, attempts: 0, last_error: null, updated_at: at })
      .where('id', '=', request.id)
      .where('state', '=', 'diagnosing')
      .execute();
  });
  // The note goes out now, from this worker (the outbox loop is the fallback if it dies first).
  await deliverNow(ctx, `${request.id}:note`);
}

export function isTransient(error: unknown): boolean {
  return isDeskhandError(error) && error.retryable;
}

export { describeError };

/** The channel a request came in by, as the planner knows channels. */
function requestChannel(channel: string): RequestChannelName {
  return (REQUEST_CHANNELS as readonly string[]).includes(channel) ? (channel as RequestChannelName) : 'psa';
}
