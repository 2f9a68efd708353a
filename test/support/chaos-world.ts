import { DEMO_TICKET_STATUSES as AUTOTASK_STATUSES } from '../../src/integrations/autotask/demo.ts';
import {
  API_RESOURCE_ID as AUTOTASK_RESOURCE,
  type Effect as AutotaskEffect,
  NOTE_PUBLISH as AUTOTASK_PUBLISH,
  TICKET_STATUSES as AUTOTASK_TICKET_STATUSES,
} from '../../src/integrations/autotask/emulator/index.ts';
import { ConnectWiseClient } from '../../src/integrations/connectwise/client.ts';
import { emulatorPortalCredentials } from '../../src/integrations/connectwise/emulator/data.ts';
import { openEmulatedTicket } from '../../src/integrations/emulators.ts';
import { DEMO_TICKET_STATUSES as HALO_STATUSES } from '../../src/integrations/halopsa/demo.ts';
import { API_AGENT_NAME as HALO_AGENT, type HaloEffect } from '../../src/integrations/halopsa/emulator/index.ts';
import { STATUSES as HALO_STATUS_NAMES } from '../../src/integrations/halopsa/emulator/data.ts';
import { mailMarker } from '../../src/integrations/m365/client.ts';
import { verifyAuditChain } from '../../src/store/audit.ts';
import type { Db } from '../../src/store/db.ts';
import { loadDemoWorld } from '../../src/world/fixture.ts';
import { http } from './chaos-processes.ts';
import { type ProgressSnapshot, type Quiet, waitForProgress } from './progress.ts';

/**
 * What the chaos test asks for and what it must end as: tickets of every kind (by the demo world of
 * `src/world/demo-world.json`), the technician and manager who decide them, and the checks on the
 * database and the emulators once everything is final.
 */
export type Kind = 'approve' | 'deny' | 'auto' | 'dual' | 'dual_deny' | 'no_action' | 'escalate' | 'no_manager' | 'plan';

/** The PSA a ticket is opened in: its client's MSP's (Northwind's clients on ConnectWise, Tailspin's on HaloPSA, Woodgrove's on Autotask). */
export type Psa = 'connectwise' | 'halopsa' | 'autotask';

export interface TicketSpec {
  kind: Kind;
  client: 'contoso' | 'fabrikam' | 'adatum' | 'litware';
  /** ConnectWise when absent. */
  psa?: Psa;
  requester: string;
  text: string;
  /** The change it must make, exactly once (approved and auto kinds). */
  effect?: { op: 'member_added' | 'sessions_revoked' | 'password_reset'; group?: string };
}

export const TECHNICIAN = 'tom.rivera@northwind-it.example';
export const SECOND_TECHNICIAN = 'priya.nair@northwind-it.example';
/** The technicians who decide the approvals of the other PSAs' MSPs (Tailspin on HaloPSA, Woodgrove on Autotask). */
export const PSA_TECHNICIANS = { halopsa: 'omar.haddad@tailspin-ms.example', autotask: 'jon.berg@woodgrove-tp.example' } as const;
/** Tailspin's admin: switches Adatum (Plan Mode in the demo world) to Execute Mode through the API. */
export const TAILSPIN_ADMIN = 'kim.lee@tailspin-ms.example';

export function psaOf(spec: TicketSpec): Psa {
  return spec.psa ?? 'connectwise';
}

const access = (requester: string, app: string, group: string, kind: Kind = 'approve'): TicketSpec => ({
  kind,
  client: 'contoso',
  requester: `${requester}@contoso.example`,
  text: `I'd like access to ${app}, please.`,
  ...(kind === 'approve' || kind === 'dual' ? { effect: { op: 'member_added' as const, group } } : {}),
});
const signOut = (requester: string): TicketSpec => ({
  kind: 'auto',
  client: 'contoso',
  requester: `${requester}@contoso.example`,
  text: 'I stayed signed in on a shared computer, please sign me out everywhere',
  effect: { op: 'sessions_revoked' },
});
const forgotPassword = (requester: string, kind: Kind = 'dual'): TicketSpec => ({
  kind,
  client: 'contoso',
  requester: `${requester}@contoso.example`,
  text: "My password slipped my mind and I'm locked out today.",
  ...(kind === 'dual' ? { effect: { op: 'password_reset' as const } } : {}),
});

/**
 * 33 tickets: 31 on ConnectWise, one on HaloPSA (Adatum, switched to Execute Mode through the API
 * before it is opened) and one on Autotask (Litware). Every approved access request adds a
 * different employee to a different group, every sign-out is a different employee, and nobody both
 * signs out and resets a password: each effect can be told apart in the emulator's effects log.
 */
export const CHAOS_TICKETS: TicketSpec[] = [
  access('alex.wilber', 'Zendesk', 'SG-App-Zendesk'),
  access('megan.bowen', 'Tableau', 'SG-App-Tableau'),
  access('nestor.wilke', 'DocuSign', 'SG-App-DocuSign'),
  access('lynne.robbins', 'Salesforce', 'SG-App-Salesforce'),
  access('joni.sherman', 'Figma', 'SG-App-Figma'),
  { ...access('isaiah.langer', 'VPN', 'SG-VPN-Users'), text: 'I need VPN access.' },
  access('christie.cline', 'the Support Inbox shared mailbox', 'SM-Support-Inbox'),
  access('debra.berger', 'the Accounts Payable shared mailbox', 'SM-Accounts-Payable'),
  access('lee.gu', 'Adobe Creative Cloud', 'SG-App-AdobeCC', 'dual'),
  access('debra.berger', 'Tableau', 'SG-App-Tableau', 'deny'),
  access('henrietta.mueller', 'Salesforce', 'SG-App-Salesforce', 'deny'),
  access('miriam.graham', 'Zendesk', 'SG-App-Zendesk', 'deny'),
  signOut('patti.fernandez'),
  signOut('miriam.graham'),
  signOut('adele.vance'),
  signOut('lidia.holloway'),
  signOut('diego.siciliani'),
  signOut('megan.bowen'),
  forgotPassword('joni.sherman'),
  forgotPassword('debra.berger'),
  forgotPassword('pradeep.gupta'),
  forgotPassword('henrietta.mueller'),
  forgotPassword('isaiah.langer'),
  forgotPassword('lee.gu', 'dual_deny'),
  forgotPassword('grady.archie', 'no_manager'),
  { kind: 'no_action', client: 'contoso', requester: 'lidia.holloway@contoso.example', text: 'Can I have Zendesk, please?' },
  { kind: 'no_action', client: 'contoso', requester: 'pradeep.gupta@contoso.example', text: 'I need access to GitHub.' },
  { kind: 'escalate', client: 'contoso', requester: 'allan.deyoung@contoso.example', text: 'Can you put me in SG-Admins-Privileged? I have some software to install.' },
  { kind: 'escalate', client: 'contoso', requester: 'lee.gu@contoso.example', text: "The third-floor printer has jammed again and its light is flashing orange." },
  { kind: 'escalate', client: 'contoso', requester: 'christie.cline@contoso.example', text: 'I need access to GitHub.' },
  { kind: 'plan', client: 'fabrikam', requester: 'alan.turing@fabrikam.example', text: 'Joining the support rota, so I need a Zendesk login.' },
  { kind: 'approve', client: 'adatum', psa: 'halopsa', requester: 'dan.brown@adatum.example', text: 'I need access to Salesforce.', effect: { op: 'member_added', group: 'App-Salesforce' } },
  { kind: 'approve', client: 'litware', psa: 'autotask', requester: 'ivan.petrov@litware.example', text: 'Could you give me Zendesk access?', effect: { op: 'member_added', group: 'SG-App-Zendesk' } },
];

export interface Expectation {
  state: string;
  outcome: string;
  /** Note purposes (the `<purpose>` of `[deskhand ref <request id>:<purpose>]`), each exactly once. */
  notes: string[];
  technician: 'approved' | 'denied' | 'cancelled' | null;
  manager: 'approved' | 'denied' | null;
}

export function expectationOf(kind: Kind): Expectation {
  switch (kind) {
    case 'approve':
      return { state: 'replied', outcome: 'executed', notes: ['note', 'approval-notice', 'reply'], technician: 'approved', manager: null };
    case 'deny':
      return { state: 'replied', outcome: 'denied', notes: ['note', 'approval-notice', 'reply'], technician: 'denied', manager: null };
    case 'auto':
      return { state: 'replied', outcome: 'executed', notes: ['note', 'reply'], technician: null, manager: null };
    case 'dual':
      return { state: 'replied', outcome: 'executed', notes: ['note', 'approval-notice', 'reply'], technician: 'approved', manager: 'approved' };
    case 'dual_deny':
      return { state: 'replied', outcome: 'denied', notes: ['note', 'approval-notice', 'reply'], technician: 'cancelled', manager: 'denied' };
    case 'no_action':
      return { state: 'replied', outcome: 'no_action', notes: ['note', 'reply'], technician: null, manager: null };
    case 'escalate':
      return { state: 'escalated', outcome: 'escalated', notes: ['note'], technician: null, manager: null };
    case 'no_manager':
      return { state: 'escalated', outcome: 'escalated', notes: ['note', 'no-manager'], technician: null, manager: null };
    case 'plan':
      return { state: 'planned', outcome: 'planned', notes: ['note'], technician: null, manager: null };
  }
}

export interface Placed {
  spec: TicketSpec;
  ticketId: number;
  requestId: string | null;
  /** Decisions the approver made (and how many tries they took). */
  technicianDone: boolean;
  managerDone: boolean;
  tries: number;
}

export const FINAL_STATES = ['planned', 'replied', 'escalated', 'failed'];

/** Where the PSA emulators listen. */
export interface PsaEmulators {
  connectwise: string;
  halopsa: string;
  autotask: string;
}

const world = loadDemoWorld();

/**
 * Open a ticket in its PSA's emulator as the client's employee would: in ConnectWise as the portal
 * member, in HaloPSA and Autotask through their portals (whose tickets call the webhooks).
 */
export async function openTicket(emulators: PsaEmulators, spec: TicketSpec): Promise<number> {
  if (psaOf(spec) !== 'connectwise') {
    return openEmulatedTicket(world, emulators as unknown as Parameters<typeof openEmulatedTicket>[1], { client: spec.client, requester: spec.requester, text: spec.text });
  }
  const { companyId, publicKey, privateKey, clientId } = emulatorPortalCredentials('northwind');
  const cw = new ConnectWiseClient({ siteUrl: emulators.connectwise, companyId, publicKey, privateKey, clientId });
  const ticket = await cw.createTicket({
    summary: spec.text.slice(0, 100),
    company: { identifier: spec.client },
    contactEmailAddress: spec.requester,
    initialDescription: spec.text,
  });
  return ticket.id;
}

/** Fill in the request id of every placed ticket whose webhook (or poll) has brought it in, by its PSA and ticket id. */
export async function linkRequests(db: Db, placed: Placed[]): Promise<void> {
  const missing = placed.filter((p) => !p.requestId);
  if (missing.length === 0) return;
  const rows = await db
    .selectFrom('requests')
    .innerJoin('integrations', 'integrations.id', 'requests.source_integration_id')
    .select(['requests.id', 'requests.external_ref', 'integrations.kind'])
    .where(
      'requests.external_ref',
      'in',
      missing.map((p) => String(p.ticketId)),
    )
    .execute();
  for (const row of rows) {
    const p = missing.find((m) => String(m.ticketId) === row.external_ref && psaOf(m.spec) === row.kind);
    if (p) p.requestId = row.id;
  }
}

/**
 * Decides approvals as people would, through the running API (whose address changes when the
 * start process is restarted): technicians with a personal token, managers through the link in
 * their mail. A decision whose answer was lost (the API died) is tried again; a 409 then means it
 * was already recorded, which the database confirms.
 */
export class Approver {
  decisions = 0;
  retries = 0;
  readonly log: string[] = [];
  doubleClicks = 0;
  /** Decisions the API accepted more than once. */
  readonly violations: string[] = [];
  /** Where the manager links pointed (the API's address changes at every restart: only the path is used). */
  readonly linkOrigins = new Set<string>();

  constructor(
    private readonly options: {
      db: () => Db;
      base: () => string | null;
      /** Northwind's technicians (ConnectWise tickets); `psa`: the technician of the MSP on each other PSA. */
      tokens: { technician: string; second: string; psa?: Partial<Record<Psa, string>> };
      graphControl: string;
      placed: Placed[];
      /** For dual approvals: whether the manager decides before the technician. */
      managerFirst: (p: Placed) => boolean;
      /** Whether this decision is sent twice at once. */
      doubleClick?: (p: Placed) => boolean;
    },
  ) {}

  /** True once every decision the tickets need has been made. */
  done(): boolean {
    return this.options.placed.every((p) => {
      const e = expectationOf(p.spec.kind);
      return (!e.technician || e.technician === 'cancelled' || p.technicianDone) && (!e.manager || p.managerDone);
    });
  }

  /** One pass: make every decision that can be made now. */
  async pass(): Promise<void> {
    const base = this.options.base();
    if (!base) return;
    const waiting = this.options.placed.filter((p) => p.requestId && !this.satisfied(p));
    if (waiting.length === 0) return;
    // All statuses: a decision whose answer was lost (the API was killed after committing it) is no
    // longer pending, and must still be found to be retried (409) and recognised as made.
    // Each MSP's technicians see their MSP's approvals: one list per MSP with a request waiting.
    type Listed = { id: string; requestId: string; kind: string; status: string; planHash: string };
    const listed: { body: { approvals: Listed[] } } = { body: { approvals: [] } };
    for (const token of new Set(waiting.map((p) => this.listToken(p)))) {
      const answer = await http<{ approvals?: Listed[] }>('GET', `${base}/api/approvals?status=all&limit=500`, { token, timeoutMs: 5_000 });
      if (answer.status !== 200) {
        this.retries++;
        return;
      }
      listed.body.approvals.push(...(answer.body.approvals ?? []));
    }
    const mail = await http<{ subject: string; content: string; to: string[] }[]>('GET', `${this.options.graphControl}/_emulator/mail`, { timeoutMs: 5_000 });
    const mails = mail.status === 200 ? mail.body : [];
    for (const p of waiting) {
      const e = expectationOf(p.spec.kind);
      // The pending one when there is one (a request may be asked again), else the one decided already.
      const technicianApprovals = listed.body.approvals?.filter((a) => a.requestId === p.requestId && a.kind === 'technician') ?? [];
      const technicianApproval = technicianApprovals.find((a) => a.status === 'pending') ?? technicianApprovals[0];
      const managerFirst = this.options.managerFirst(p);
      if (e.manager && !p.managerDone && (managerFirst || p.technicianDone || e.technician === 'cancelled')) {
        const subjectMarker = `[ref ${mailMarker(`${p.requestId}:manager-mail`)}]`;
        const letter = mails.find((m) => m.subject.includes(subjectMarker));
        const link = letter?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
        if (link) {
          this.linkOrigins.add(new URL(link).origin);
          await this.decideAsManager(base, p, new URL(link).pathname, e.manager === 'approved' ? 'approve' : 'deny');
        }
      }
      if (e.technician && e.technician !== 'cancelled' && !p.technicianDone && (!e.manager || !managerFirst || p.managerDone) && technicianApproval) {
        await this.decideAsTechnician(base, p, technicianApproval.id, technicianApproval.planHash, e.technician === 'approved' ? 'approve' : 'deny');
      }
    }
  }

  /** The technician token that lists a request's approvals (and approves it). */
  private listToken(p: Placed): string {
    const psa = psaOf(p.spec);
    if (psa === 'connectwise') return this.options.tokens.technician;
    const token = this.options.tokens.psa?.[psa];
    if (!token) throw new Error(`no technician token for ${psa}`);
    return token;
  }

  private satisfied(p: Placed): boolean {
    const e = expectationOf(p.spec.kind);
    return (!e.technician || e.technician === 'cancelled' || p.technicianDone) && (!e.manager || p.managerDone);
  }

  private async decideAsTechnician(base: string, p: Placed, approvalId: string, planHash: string, decision: 'approve' | 'deny'): Promise<void> {
    // On ConnectWise a second technician denies; elsewhere the MSP's own technician decides both ways.
    const token = psaOf(p.spec) !== 'connectwise' || decision === 'approve' ? this.listToken(p) : this.options.tokens.second;
    p.tries++;
    const post = () =>
      http('POST', `${base}/api/approvals/${approvalId}/decision`, {
        token,
        body: { decision, planHash, ...(decision === 'deny' ? { comment: 'chaos test: not this time' } : {}) },
        timeoutMs: 8_000,
      });
    // Now and then the same decision twice at once (a double click, a retrying script): one may win.
    const answers = this.options.doubleClick?.(p) ? await Promise.all([post(), post()]) : [await post()];
    const won = answers.filter((a) => a.status === 200).length;
    if (won > 1) this.violations.push(`technician ${decision} of ${p.requestId} was accepted ${won} times`);
    if (answers.length > 1) this.doubleClicks++;
    const result = answers.find((a) => a.status === 200) ?? answers[0]!;
    if (result.status === 200) {
      p.technicianDone = true;
      this.decisions++;
      return;
    }
    this.retries++;
    this.log.push(`technician ${decision} of ${p.requestId}: HTTP ${result.status} ${result.error ?? result.text.slice(0, 200)}`);
    if (result.status === 409 && (await this.decided(approvalId))) p.technicianDone = true;
  }

  private async decideAsManager(base: string, p: Placed, path: string, decision: 'approve' | 'deny'): Promise<void> {
    p.tries++;
    const post = () => http('POST', `${base}${path}`, { form: { decision }, timeoutMs: 8_000 });
    const answers = this.options.doubleClick?.(p) ? await Promise.all([post(), post()]) : [await post()];
    const won = answers.filter((a) => a.status === 200).length;
    if (won > 1) this.violations.push(`manager ${decision} of ${p.requestId} was accepted ${won} times`);
    if (answers.length > 1) this.doubleClicks++;
    const result = answers.find((a) => a.status === 200) ?? answers[0]!;
    if (result.status === 200) {
      p.managerDone = true;
      this.decisions++;
      return;
    }
    this.retries++;
    this.log.push(`manager ${decision} of ${p.requestId}: HTTP ${result.status} ${result.error ?? result.text.slice(0, 200)}`);
    const approvalId = path.split('/').pop()!.split('.')[0]!;
    if (result.status === 409 && (await this.decided(approvalId))) p.managerDone = true;
  }

  private async decided(approvalId: string): Promise<boolean> {
    const row = await this.options.db().selectFrom('approvals').select('status').where('id', '=', approvalId).executeTakeFirst();
    return !!row && row.status !== 'pending';
  }
}

/** Every request of the placed tickets is final and nothing of theirs is waiting in the outbox. */
export async function allSettled(db: Db, placed: Placed[]): Promise<boolean> {
  if (placed.some((p) => !p.requestId)) return false;
  const ids = placed.map((p) => p.requestId!);
  const open = await db.selectFrom('requests').select('id').where('id', 'in', ids).where('state', 'not in', FINAL_STATES).executeTakeFirst();
  if (open) return false;
  const pending = await db.selectFrom('outbox').select('id').where('request_id', 'in', ids).where('status', '=', 'pending').executeTakeFirst();
  return !pending;
}

interface GraphEffect {
  op: string;
  target: string;
  targetName: string;
  objectName: string | null;
  clientId: string;
}

/**
 * Everything the chaos must not have broken. Returns the problems found (empty when all is well):
 * final states and outcomes, effects exactly once (and none for what was not approved), each note
 * once, each manager mail once, each approval decided once, and every MSP's audit chain.
 */
export async function verifyChaos(input: { db: Db; placed: Placed[]; connectwise: string; halopsa?: string; autotask?: string; graphControl: string }): Promise<string[]> {
  const { db, placed } = input;
  const problems: string[] = [];
  const ids = placed.map((p) => p.requestId).filter((id): id is string => !!id);
  if (ids.length !== placed.length) problems.push(`${placed.length - ids.length} tickets never became requests`);
  const requests = ids.length ? await db.selectFrom('requests').selectAll().where('id', 'in', ids).execute() : [];
  const approvals = ids.length ? await db.selectFrom('approvals').selectAll().where('request_id', 'in', ids).execute() : [];
  const plans = ids.length ? await db.selectFrom('plans').select(['request_id', 'steps', 'outcome']).where('request_id', 'in', ids).execute() : [];
  const steps = ids.length ? await db.selectFrom('step_executions').selectAll().where('request_id', 'in', ids).execute() : [];
  const decisionsAudited = ids.length
    ? await db
        .selectFrom('audit_log')
        .select(['event', 'data', 'request_id'])
        .where('request_id', 'in', ids)
        .where('event', 'in', ['approval.approved', 'approval.denied'])
        .execute()
    : [];

  // 1. States and outcomes, approvals, plans and steps, by kind.
  for (const p of placed) {
    if (!p.requestId) continue;
    const e = expectationOf(p.spec.kind);
    const label = `${p.spec.kind} ${p.spec.requester} "${p.spec.text}" (ticket ${p.ticketId}, request ${p.requestId})`;
    const row = requests.find((r) => r.id === p.requestId);
    if (!row) {
      problems.push(`${label}: no request row`);
      continue;
    }
    if (row.state !== e.state || row.outcome !== e.outcome) {
      problems.push(`${label}: ended ${row.state}/${row.outcome}, expected ${e.state}/${e.outcome} (last error: ${row.last_error})`);
    }
    const mine = approvals.filter((a) => a.request_id === p.requestId);
    const technician = mine.find((a) => a.kind === 'technician');
    const manager = mine.find((a) => a.kind === 'manager');
    if ((technician?.status ?? null) !== e.technician) problems.push(`${label}: technician approval ${technician?.status ?? 'none'}, expected ${e.technician ?? 'none'}`);
    if ((manager?.status ?? null) !== e.manager) problems.push(`${label}: manager approval ${manager?.status ?? 'none'}, expected ${e.manager ?? 'none'}`);
    if (mine.length > 2 || mine.filter((a) => a.kind === 'technician').length > 1 || mine.filter((a) => a.kind === 'manager').length > 1) {
      problems.push(`${label}: ${mine.length} approvals`);
    }
    for (const approval of mine) {
      const audited = decisionsAudited.filter((d) => (d.data as { approvalId?: string }).approvalId === approval.id).length;
      const decided = approval.status === 'approved' || approval.status === 'denied';
      if (audited !== (decided ? 1 : 0)) problems.push(`${label}: the ${approval.kind} approval was decided ${audited} times (status ${approval.status})`);
    }
    const plan = plans.find((pl) => pl.request_id === p.requestId);
    const planSteps = (plan?.steps ?? []) as { tool: string; args: Record<string, string> }[];
    const mySteps = steps.filter((s) => s.request_id === p.requestId);
    if (p.spec.effect) {
      const tool = { member_added: 'm365.add_user_to_group', sessions_revoked: 'm365.revoke_sessions', password_reset: 'm365.reset_password' }[p.spec.effect.op];
      const planned = planSteps.length === 1 && planSteps[0]!.tool === tool && (!p.spec.effect.group || planSteps[0]!.args['group'] === p.spec.effect.group);
      if (!planned) problems.push(`${label}: planned ${JSON.stringify(planSteps.map((s) => [s.tool, s.args]))}, expected one ${tool}`);
      if (e.outcome === 'executed' && (mySteps.length !== planSteps.length || mySteps.some((s) => s.status !== 'succeeded'))) {
        problems.push(`${label}: step executions ${JSON.stringify(mySteps.map((s) => [s.step_index, s.status, s.attempts, s.error]))}`);
      }
    } else if (mySteps.length > 0) {
      problems.push(`${label}: ${mySteps.length} step executions for a request that must change nothing`);
    }
  }

  // 2. Effects in Microsoft 365: exactly the expected ones, each once.
  const effectsAnswer = await http<{ effects: GraphEffect[] }>('GET', `${input.graphControl}/_emulator/effects`);
  const effects = effectsAnswer.body?.effects ?? [];
  const changes = effects.filter((f) => f.op !== 'mail_sent');
  const expected = placed.filter((p) => p.spec.effect && expectationOf(p.spec.kind).outcome === 'executed');
  for (const p of expected) {
    const { op, group } = p.spec.effect!;
    const matching = changes.filter((f) => f.op === op && f.targetName === p.spec.requester && (!group || f.objectName === group));
    if (matching.length !== 1) problems.push(`effect ${op} ${p.spec.requester}${group ? ` → ${group}` : ''} happened ${matching.length} times (request ${p.requestId})`);
  }
  if (changes.length !== expected.length) {
    problems.push(`${changes.length} changes in Microsoft 365, expected ${expected.length}: ${JSON.stringify(changes.map((f) => [f.op, f.targetName, f.objectName]))}`);
  }

  // 3. Manager mail: once per dual approval, and no other mail.
  const mails = effects.filter((f) => f.op === 'mail_sent');
  const duals = placed.filter((p) => expectationOf(p.spec.kind).manager !== null);
  for (const p of duals) {
    const marker = `[ref ${mailMarker(`${p.requestId}:manager-mail`)}]`;
    const sent = mails.filter((m) => m.objectName?.includes(marker)).length;
    if (sent !== 1) problems.push(`manager mail for request ${p.requestId} (${p.spec.requester}) sent ${sent} times`);
  }
  if (mails.length !== duals.length) problems.push(`${mails.length} mails sent, expected ${duals.length}`);

  // 4. The PSAs: every deskhand note marker exactly once (internal notes carry them: the expected
  // ones, a decision note per approval decided or expired, and no others); the reply carries none and
  // is on the ticket exactly once. On HaloPSA and Autotask also: deskhand's notes in the emulator's
  // effects log are exactly those (none posted twice, with or without a marker), and the ticket ends
  // in the status its board maps the request's end to.
  const seen = await psaTickets(input);
  for (const p of placed) {
    const psa = psaOf(p.spec);
    const label = `${psa} ticket ${p.ticketId} (${p.spec.kind} ${p.spec.requester})`;
    const view = seen.get(`${psa} ${p.ticketId}`);
    const notes = view?.notes ?? [];
    const counts = new Map<string, number>();
    for (const note of notes) {
      for (const match of note.text.matchAll(/\[deskhand ref ([^\]]+)\]/g)) counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + 1);
    }
    const visible = notes.filter((n) => n.visible);
    if (visible.some((n) => n.text.includes('[deskhand ref'))) problems.push(`${label}: a marker in a note the employee sees`);
    const replies = visible.filter((n) => n.ours).length;
    const replyWanted = expectationOf(p.spec.kind).notes.includes('reply') ? 1 : 0;
    if (replies !== replyWanted) problems.push(`${label}: ${replies} replies, expected ${replyWanted}`);
    const decided = approvals.filter((a) => a.request_id === p.requestId && ['approved', 'denied', 'expired'].includes(a.status));
    const wanted = [
      ...expectationOf(p.spec.kind)
        .notes.filter((purpose) => purpose !== 'reply')
        .map((purpose) => `${p.requestId}:${purpose}`),
      ...decided.map((a) => `${p.requestId}:decision-${a.id}`),
    ];
    for (const key of wanted) {
      if (counts.get(key) !== 1) problems.push(`${label}: note ${key} appears ${counts.get(key) ?? 0} times`);
    }
    for (const [key, count] of counts) {
      if (!wanted.includes(key)) problems.push(`${label}: unexpected note ${key} (${count} times)`);
    }
    if (psa === 'connectwise') continue;
    if (!view) {
      problems.push(`${label}: not found in the emulator`);
      continue;
    }
    if (view.posted !== wanted.length + replyWanted) problems.push(`${label}: deskhand posted ${view.posted} notes (effects log), expected ${wanted.length + replyWanted}`);
    if (visible.some((n) => n.ours && !n.emailed)) problems.push(`${label}: a reply the employee is not told about`);
    const e = expectationOf(p.spec.kind);
    const endStatus = e.state === 'replied' ? RESOLVED_STATUS[psa] : undefined;
    if (endStatus && view.status !== endStatus) problems.push(`${label}: the ticket ended in status ${view.status}, expected ${endStatus} (status changes: ${view.statusChanges.join(' → ') || 'none'})`);
  }

  // 5. The audit chain of every MSP.
  for (const msp of await db.selectFrom('msps').select('id').execute()) {
    const verified = await verifyAuditChain(db, msp.id);
    if (!verified.ok) {
      const row = verified.brokenAt
        ? await db.selectFrom('audit_log').select(['seq', 'at', 'actor', 'event', 'data', 'request_id']).where('msp_id', '=', msp.id).where('seq', '=', String(verified.brokenAt) as never).executeTakeFirst()
        : undefined;
      problems.push(`audit chain of ${msp.id} broken at ${verified.brokenAt}: ${verified.reason} (row: ${JSON.stringify(row)})`);
    }
  }
  return problems;
}

/** The status each PSA's demo board maps a replied request to. */
const RESOLVED_STATUS: Record<Exclude<Psa, 'connectwise'>, string> = { halopsa: HALO_STATUSES.resolved, autotask: AUTOTASK_STATUSES.resolved };

interface PsaNote {
  text: string;
  /** The employee sees it (a ConnectWise discussion or resolution note, a Halo action not hidden from the user, an Autotask All Autotask Users note). */
  visible: boolean;
  /** Posted by deskhand's API member, agent or resource. */
  ours: boolean;
  /** The employee is emailed about it (HaloPSA's sendemail; true elsewhere). */
  emailed: boolean;
}

interface PsaTicket {
  notes: PsaNote[];
  /** deskhand's notes in the emulator's effects log (HaloPSA, Autotask). */
  posted: number;
  status: string;
  statusChanges: string[];
}

/** Every ticket of the three PSA emulators, keyed `<psa> <ticket id>`, as the same shape. */
export async function psaTickets(input: { connectwise: string; halopsa?: string; autotask?: string }): Promise<Map<string, PsaTicket>> {
  const out = new Map<string, PsaTicket>();
  const cw = await http<{
    tickets: { ticket: { id: number }; notes: { text?: string; member?: { identifier?: string }; detailDescriptionFlag?: boolean; resolutionFlag?: boolean }[] }[];
  }>('GET', `${input.connectwise}/_emulator/tickets`);
  for (const t of cw.body?.tickets ?? []) {
    out.set(`connectwise ${t.ticket.id}`, {
      notes: t.notes.map((n) => ({ text: n.text ?? '', visible: n.detailDescriptionFlag === true || n.resolutionFlag === true, ours: n.member?.identifier === 'deskhand', emailed: true })),
      posted: 0,
      status: '',
      statusChanges: [],
    });
  }
  if (input.halopsa) {
    const tickets = await http<{ tickets: { id: number; status_id: number; actions: { note: string; hiddenfromuser: boolean; sendemail: boolean; who: string }[] }[] }>('GET', `${input.halopsa}/_emulator/tickets`);
    const effects = (await http<{ effects: HaloEffect[] }>('GET', `${input.halopsa}/_emulator/effects`)).body?.effects ?? [];
    for (const t of tickets.body?.tickets ?? []) {
      const mine = effects.filter((e) => e.ticketId === t.id);
      out.set(`halopsa ${t.id}`, {
        notes: t.actions.map((a) => ({ text: a.note, visible: !a.hiddenfromuser, ours: a.who === HALO_AGENT, emailed: a.sendemail })),
        posted: mine.filter((e) => e.op === 'action_added' && e.who === HALO_AGENT).length,
        status: HALO_STATUS_NAMES.find((s) => s.id === t.status_id)?.name ?? String(t.status_id),
        statusChanges: mine.filter((e) => e.op === 'status_changed').map((e) => e.firstLine),
      });
    }
  }
  if (input.autotask) {
    const tickets = await http<{ tickets: { ticket: { id: number; status: number }; notes: { description?: string; publish?: number; creatorResourceID?: number | null }[] }[] }>(
      'GET',
      `${input.autotask}/_emulator/tickets`,
    );
    const effects = (await http<{ effects: AutotaskEffect[] }>('GET', `${input.autotask}/_emulator/effects`)).body?.effects ?? [];
    const allUsers = Number(AUTOTASK_PUBLISH.find((p) => p.label === 'All Autotask Users')!.value);
    for (const t of tickets.body?.tickets ?? []) {
      const mine = effects.filter((e) => e.ticketId === t.ticket.id);
      out.set(`autotask ${t.ticket.id}`, {
        notes: t.notes.map((n) => ({ text: n.description ?? '', visible: n.publish === allUsers, ours: n.creatorResourceID === AUTOTASK_RESOURCE, emailed: true })),
        posted: mine.filter((e) => e.op === 'note_added' && e.creatorResourceID === AUTOTASK_RESOURCE).length,
        status: AUTOTASK_TICKET_STATUSES.find((s) => Number(s.value) === t.ticket.status)?.label ?? String(t.ticket.status),
        statusChanges: mine.filter((e) => e.op === 'status_changed').map((e) => e.firstLine),
      });
    }
  }
  return out;
}

/** The state of every unfinished request and of its pending messages and steps, for a failure report. */
export async function describeUnfinished(db: Db, placed: Placed[]): Promise<string> {
  const lines: string[] = [];
  const unlinked = placed.filter((p) => !p.requestId);
  if (unlinked.length) lines.push(`tickets without a request: ${unlinked.map((p) => p.ticketId).join(', ')}`);
  const ids = placed.map((p) => p.requestId).filter((id): id is string => !!id);
  if (ids.length === 0) return lines.join('\n');
  const rows = await db.selectFrom('requests').selectAll().where('id', 'in', ids).execute();
  for (const row of rows) {
    const p = placed.find((x) => x.requestId === row.id)!;
    const e = expectationOf(p.spec.kind);
    const outbox = await db.selectFrom('outbox').select(['idempotency_key', 'status', 'attempts', 'last_error', 'next_attempt_at', 'lease_until']).where('request_id', '=', row.id).execute();
    const pendingOutbox = outbox.filter((o) => o.status !== 'delivered');
    if (FINAL_STATES.includes(row.state) && row.state === e.state && row.outcome === e.outcome && pendingOutbox.length === 0) continue;
    const steps = await db.selectFrom('step_executions').select(['step_index', 'tool', 'status', 'attempts', 'error', 'started_at', 'finished_at']).where('request_id', '=', row.id).execute();
    const approvals = await db.selectFrom('approvals').select(['kind', 'status']).where('request_id', '=', row.id).execute();
    lines.push(
      `${p.spec.kind} ${p.spec.requester} ticket ${p.ticketId} request ${row.id}: ${row.state}/${row.outcome} (expected ${e.state}/${e.outcome}) ` +
        `due ${row.due_at?.toISOString() ?? '-'} lease ${row.lease_owner ?? '-'} until ${row.lease_until?.toISOString() ?? '-'} attempts ${row.attempts} error ${row.last_error ?? '-'}` +
        `\n    approvals ${JSON.stringify(approvals)} decided by the test: technician ${p.technicianDone} manager ${p.managerDone} (${p.tries} tries)` +
        `\n    steps ${JSON.stringify(steps)}` +
        `\n    outbox ${JSON.stringify(pendingOutbox)}`,
    );
  }
  const health = await db.selectFrom('integration_health').selectAll().execute();
  if (health.length) lines.push(`circuit breakers: ${JSON.stringify(health)}`);
  return lines.join('\n');
}

/**
 * The history of the requests a failure names: their messages, audit trail, what the emulators saw
 * for their ticket and user, and what each process logged about them.
 */
export async function forensics(input: {
  db: Db;
  placed: Placed[];
  problems: string[];
  connectwise: string;
  halopsa?: string;
  autotask?: string;
  graphControl: string;
  logs: { name: string; lines: string[] }[];
}): Promise<string> {
  const named = new Set(input.problems.flatMap((p) => p.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? []));
  const tickets = new Set(input.problems.flatMap((p) => [...p.matchAll(/ticket (\d+)/g)].map((m) => Number(m[1]))));
  const suspects = input.placed.filter((p) => (p.requestId && named.has(p.requestId)) || tickets.has(p.ticketId)).slice(0, 4);
  if (suspects.length === 0) return '';
  const cwEffects = (await http<{ effects: { at: string; op: string; ticketId: number; noteId?: number; firstLine?: string }[] }>('GET', `${input.connectwise}/_emulator/effects`)).body?.effects ?? [];
  const cwRequests = (await http<{ at: string; method: string; path: string; status: number }[] | { requests: { at: string; method: string; path: string; status: number }[] }>(
    'GET',
    `${input.connectwise}/_emulator/requests`,
  )).body;
  const cwLog = Array.isArray(cwRequests) ? cwRequests : (cwRequests?.requests ?? []);
  const graphEffects = (await http<{ effects: { at: string; op: string; targetName: string; objectName: string | null }[] }>('GET', `${input.graphControl}/_emulator/effects`)).body?.effects ?? [];
  // The other PSAs' effects and calls, by PSA (their ticket ids are their own).
  type Logged = { ticketId?: number | null; op?: string; firstLine?: string; method?: string; path?: string; status?: number };
  const elsewhere: Record<string, { effects: Logged[]; calls: Logged[] }> = {};
  for (const psa of ['halopsa', 'autotask'] as const) {
    const base = input[psa];
    if (!base || !suspects.some((p) => psaOf(p.spec) === psa)) continue;
    elsewhere[psa] = {
      effects: (await http<{ effects: Logged[] }>('GET', `${base}/_emulator/effects`)).body?.effects ?? [],
      calls: (await http<{ requests: Logged[] }>('GET', `${base}/_emulator/requests`)).body?.requests ?? [],
    };
  }
  const lines: string[] = ['forensics:'];
  for (const p of suspects) {
    lines.push(`  ${p.spec.kind} ${p.spec.requester} ticket ${p.ticketId} request ${p.requestId}`);
    if (p.requestId) {
      const outbox = await input.db.selectFrom('outbox').selectAll().where('request_id', '=', p.requestId).orderBy('created_at').execute();
      for (const o of outbox) {
        lines.push(
          `    outbox ${o.id} ${o.idempotency_key} ${o.status} attempts ${o.attempts} created ${o.created_at.toISOString()} delivered ${o.delivered_at?.toISOString() ?? '-'} ` +
            `lease ${o.lease_until?.toISOString() ?? '-'} error ${o.last_error ?? '-'} result ${JSON.stringify(o.result)}`,
        );
      }
      const steps = await input.db.selectFrom('step_executions').selectAll().where('request_id', '=', p.requestId).execute();
      for (const s of steps) lines.push(`    step ${s.step_index} ${s.tool} ${s.status} attempts ${s.attempts} started ${s.started_at.toISOString()} finished ${s.finished_at?.toISOString() ?? '-'} error ${s.error ?? '-'}`);
      const audit = await input.db.selectFrom('audit_log').select(['seq', 'at', 'actor', 'event', 'data']).where('request_id', '=', p.requestId).orderBy('seq').execute();
      for (const a of audit) lines.push(`    audit ${a.seq} ${a.at.toISOString()} ${a.actor} ${a.event} ${JSON.stringify(a.data).slice(0, 160)}`);
      const ids = [p.requestId, ...outbox.map((o) => o.id)];
      for (const log of input.logs) {
        for (const line of log.lines.filter((l) => ids.some((id) => l.includes(id)))) lines.push(`    log ${log.name}: ${line.slice(0, 300)}`);
      }
    }
    const psa = psaOf(p.spec);
    if (psa === 'connectwise') {
      for (const e of cwEffects.filter((e) => e.ticketId === p.ticketId)) lines.push(`    connectwise effect ${e.at} ${e.op} note ${e.noteId ?? '-'} ${(e.firstLine ?? '').slice(0, 80)}`);
      for (const r of cwLog.filter((r) => r.path.includes(`/tickets/${p.ticketId}/`))) lines.push(`    connectwise call ${r.at} ${r.method} ${r.path} → ${r.status}`);
    } else {
      for (const e of elsewhere[psa]?.effects.filter((e) => e.ticketId === p.ticketId) ?? []) lines.push(`    ${psa} effect ${JSON.stringify(e).slice(0, 200)}`);
      // Notes and status changes of HaloPSA name their ticket in the body: every write is listed.
      for (const r of elsewhere[psa]?.calls.filter((r) => r.method !== 'GET' || r.path?.includes(String(p.ticketId))) ?? []) lines.push(`    ${psa} call ${JSON.stringify(r).slice(0, 200)}`);
    }
    for (const e of graphEffects.filter((e) => e.targetName === p.spec.requester)) lines.push(`    graph effect ${e.at} ${e.op} ${e.objectName ?? ''}`);
  }
  return lines.join('\n');
}

/**
 * Each executed password reset still holds its temporary password for the technician who approved
 * it (also when the reset was found done after an interruption rather than made by the last call):
 * shown once through the API, refused the second time.
 */
export async function checkTemporaryPasswords(input: { db: Db; placed: Placed[]; base: string; technicianToken: string }): Promise<string[]> {
  const problems: string[] = [];
  for (const p of input.placed) {
    if (p.spec.effect?.op !== 'password_reset' || !p.requestId) continue;
    const step = await input.db.selectFrom('step_executions').select('step_index').where('request_id', '=', p.requestId).where('tool', '=', 'm365.reset_password').executeTakeFirst();
    if (!step) {
      problems.push(`reset for ${p.spec.requester}: no step execution`);
      continue;
    }
    const url = `${input.base}/api/requests/${p.requestId}/steps/${step.step_index}/temporary-password`;
    const first = await http<{ temporaryPassword?: string }>('POST', url, { token: input.technicianToken });
    if (first.status !== 200 || (first.body?.temporaryPassword ?? '').length < 12) {
      problems.push(`reset for ${p.spec.requester}: the approving technician could not see the temporary password (HTTP ${first.status} ${first.text.slice(0, 200)})`);
    }
    const second = await http('POST', url, { token: input.technicianToken });
    if (second.status !== 409) problems.push(`reset for ${p.spec.requester}: a second look at the temporary password answered ${second.status}`);
  }
  return problems;
}

/**
 * What can move for each placed ticket, for a wait on progress (see `progress.ts`): its request's
 * state, outcome, attempts and last error, its steps, its messages, its approvals and the decisions
 * the test made. A lease renewed is not a move (a worker stuck in a call renews its lease forever);
 * a retry or a breaker due later is a wake-up the engine scheduled (`wakeAt`), not a stall.
 */
export async function requestProgress(db: Db, placed: Placed[]): Promise<ProgressSnapshot> {
  const ids = placed.map((p) => p.requestId).filter((id): id is string => !!id);
  const [requests, steps, outbox, approvals, breakers] = ids.length
    ? await Promise.all([
        db.selectFrom('requests').select(['id', 'state', 'outcome', 'attempts', 'last_error', 'due_at']).where('id', 'in', ids).execute(),
        db.selectFrom('step_executions').select(['request_id', 'step_index', 'status', 'attempts']).where('request_id', 'in', ids).execute(),
        db.selectFrom('outbox').select(['request_id', 'idempotency_key', 'status', 'attempts', 'next_attempt_at']).where('request_id', 'in', ids).execute(),
        db.selectFrom('approvals').select(['request_id', 'kind', 'status']).where('request_id', 'in', ids).execute(),
        db.selectFrom('integration_health').select(['open_until']).execute(),
      ])
    : [[], [], [], [], []];
  const marks = new Map<string, string>();
  let wakeAt = 0;
  const later = (at: Date | null | undefined) => {
    if (at && at.getTime() > wakeAt) wakeAt = at.getTime();
  };
  for (const p of placed) {
    const key = `ticket ${p.ticketId}`;
    const row = p.requestId ? requests.find((r) => r.id === p.requestId) : undefined;
    if (!row) {
      marks.set(key, 'no request');
      continue;
    }
    const mine = <T extends { request_id: string | null }>(rows: T[]) => rows.filter((r) => r.request_id === row.id);
    const messages = mine(outbox);
    marks.set(
      key,
      JSON.stringify([
        row.state,
        row.outcome,
        row.attempts,
        row.last_error,
        mine(steps).map((s) => [s.step_index, s.status, s.attempts]),
        messages.map((m) => [m.idempotency_key, m.status, m.attempts]),
        mine(approvals).map((a) => [a.kind, a.status]),
        p.technicianDone,
        p.managerDone,
      ]),
    );
    if (!FINAL_STATES.includes(row.state)) later(row.due_at);
    for (const m of messages) if (m.status === 'pending') later(m.next_attempt_at);
  }
  for (const b of breakers) later(b.open_until);
  return { marks, wakeAt };
}

/**
 * Why a wait on the placed tickets stood still: for every ticket not yet where it must end, longest
 * quiet first, its request's state, what it waits for (a decision, a message and its next try, a
 * running step, a worker to take it), its last error and its history (the audit trail).
 */
export async function explainStall(db: Db, placed: Placed[], quiet: Quiet[], approver?: Approver | null): Promise<string> {
  const now = Date.now();
  const ago = (at: Date | null | undefined) => {
    if (!at) return '-';
    const s = (Math.abs(at.getTime() - now) / 1000).toFixed(1);
    return `${at.toISOString()} (${at.getTime() > now ? `in ${s} s` : `${s} s ago`})`;
  };
  const lines: string[] = ['what stood still, longest first:'];
  for (const q of quiet) {
    const p = placed.find((x) => `ticket ${x.ticketId}` === q.key);
    if (!p) continue;
    const e = expectationOf(p.spec.kind);
    const label = `ticket ${p.ticketId} (${p.spec.kind}: ${p.spec.requester} "${p.spec.text}")`;
    const quietFor = `${(q.quietMs / 1000).toFixed(1)} s`;
    if (!p.requestId) {
      lines.push(`  ${label}: no request for ${quietFor}: its webhook did not arrive and the poll for missed tickets has not taken it in`);
      continue;
    }
    const row = await db.selectFrom('requests').selectAll().where('id', '=', p.requestId).executeTakeFirst();
    if (!row) {
      lines.push(`  ${label}: request ${p.requestId} is gone`);
      continue;
    }
    const outbox = await db.selectFrom('outbox').selectAll().where('request_id', '=', row.id).orderBy('created_at').execute();
    const pending = outbox.filter((o) => o.status === 'pending');
    const approvals = await db.selectFrom('approvals').selectAll().where('request_id', '=', row.id).execute();
    const decisionsMissing = ((e.technician === 'approved' || e.technician === 'denied') && !p.technicianDone) || (!!e.manager && !p.managerDone);
    if (FINAL_STATES.includes(row.state) && pending.length === 0 && !decisionsMissing) continue;
    const steps = await db.selectFrom('step_executions').selectAll().where('request_id', '=', row.id).orderBy('step_index').execute();
    const waits: string[] = [];
    for (const a of approvals.filter((x) => x.status === 'pending')) {
      const decided = a.kind === 'technician' ? p.technicianDone : p.managerDone;
      waits.push(`the ${a.kind}'s decision (approval ${a.id}, asked ${ago(a.created_at)}; the test ${decided ? 'has recorded it as made' : 'has not made it'}, ${p.tries} tries)`);
    }
    for (const m of pending) {
      waits.push(
        `message ${m.idempotency_key} (${m.kind}, attempt ${m.attempts}, next try ${ago(m.next_attempt_at)}${m.lease_until ? `, leased until ${ago(m.lease_until)}` : ''}${m.last_error ? `, last error: ${m.last_error}` : ''})`,
      );
    }
    for (const s of steps.filter((x) => x.status === 'running')) waits.push(`step ${s.step_index} ${s.tool} running since ${ago(s.started_at)} (attempt ${s.attempts})`);
    if (!FINAL_STATES.includes(row.state) && row.due_at) waits.push(`a worker to take it (due ${ago(row.due_at)}${row.lease_owner ? `, held by ${row.lease_owner} until ${ago(row.lease_until)}` : ''})`);
    if (waits.length === 0) waits.push(`nothing the engine has scheduled (due ${ago(row.due_at)}, lease ${row.lease_owner ?? '-'} until ${ago(row.lease_until)})`);
    lines.push(`  ${label} request ${row.id}: ${row.state}${row.outcome ? `/${row.outcome}` : ''}, not moved for ${quietFor}; must end ${e.state}/${e.outcome}`);
    lines.push(`    waits for: ${waits.join('; ')}`);
    lines.push(`    last error: ${row.last_error ?? '-'} (attempts ${row.attempts})`);
    if (approvals.length) lines.push(`    approvals: ${approvals.map((a) => `${a.kind} ${a.status}`).join(', ')}; decided by the test: technician ${p.technicianDone}, manager ${p.managerDone}`);
    if (steps.length) lines.push(`    steps: ${steps.map((s) => `${s.step_index} ${s.tool} ${s.status} (attempt ${s.attempts}${s.error ? `, ${s.error}` : ''})`).join('; ')}`);
    const history = await db.selectFrom('audit_log').select(['seq', 'at', 'actor', 'event', 'data']).where('request_id', '=', row.id).orderBy('seq').execute();
    lines.push('    history:');
    for (const h of history.slice(-25)) lines.push(`      ${h.at.toISOString().slice(11, 23)} ${h.actor} ${h.event} ${JSON.stringify(h.data).slice(0, 160)}`);
  }
  const breakers = await db.selectFrom('integration_health').selectAll().where('open_until', '>', new Date()).execute();
  if (breakers.length) lines.push(`open circuit breakers: ${breakers.map((b) => `${b.integration_id} until ${ago(b.open_until)} (${b.last_error})`).join('; ')}`);
  if (approver?.log.length) lines.push('the approver, last:', ...approver.log.slice(-10).map((l) => `  ${l}`));
  return lines.join('\n');
}

/**
 * Wait until `done`, failing only when no placed ticket has moved for `stallMs` (and nothing was
 * scheduled to happen meanwhile); the failure says which request stood still where.
 */
export async function waitForRequests(
  what: string,
  input: { db: () => Db; placed: Placed[]; approver?: Approver | null; stallMs?: number },
  done: () => boolean | Promise<boolean>,
  intervalMs = 200,
): Promise<void> {
  await waitForProgress({
    what,
    done,
    snapshot: () => requestProgress(input.db(), input.placed),
    explain: (quiet) => explainStall(input.db(), input.placed, quiet, input.approver),
    intervalMs,
    ...(input.stallMs ? { stallMs: input.stallMs } : {}),
  });
}
