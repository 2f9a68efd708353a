import type { Sandbox } from './sandbox.ts';
import type { RequestRow } from '../store/schema.ts';
import { API_RESOURCE_ID as AUTOTASK_API_RESOURCE, NOTE_PUBLISH as AUTOTASK_PUBLISH } from '../integrations/autotask/emulator/index.ts';

/**
 * The stories of the product page, played through the real webhooks, worker and API, and checked
 * against what the emulators saw (memberships, notes and replies on the ticket, mail sent).
 */
export interface Check {
  what: string;
  ok: boolean;
  detail?: string;
}

export interface StoryResult {
  name: string;
  ok: boolean;
  /** The PSA the story's ticket lives in (a module kind). */
  psa: string;
  channel: 'psa';
  client: string;
  requester: string;
  request: string;
  ticket: number | null;
  final_state: string | null;
  outcome: string | null;
  checks: Check[];
  steps: string[];
  error?: string;
}

export const FINAL = ['planned', 'replied', 'escalated', 'failed'];
const TECHNICIAN = 'tom.rivera@northwind-it.example';
const SECOND_TECHNICIAN = 'priya.nair@northwind-it.example';
const PSA_LABELS: Record<string, string> = { connectwise: 'ConnectWise', halopsa: 'HaloPSA', autotask: 'Autotask' };
const WOODGROVE_TECHNICIAN = 'jon.berg@woodgrove-tp.example';

interface Note {
  id: number;
  text: string;
  internal: boolean;
  customer: boolean;
  member: string | null;
  dateCreated: string;
}

class StoryRun {
  readonly checks: Check[] = [];
  readonly steps: string[] = [];
  ticket: number | null = null;
  request: RequestRow | null = null;

  constructor(
    readonly sb: Sandbox,
    readonly name: string,
    readonly client: string,
    readonly requester: string,
    private readonly say: (line: string) => void,
    readonly psa = 'connectwise',
  ) {}

  step(text: string): void {
    this.steps.push(text);
    this.say(`  ${text}`);
  }

  check(what: string, ok: boolean, detail?: string): void {
    this.checks.push({ what, ok, ...(detail ? { detail } : {}) });
    this.say(`    ${ok ? 'ok  ' : 'FAIL'} ${what}${detail && !ok ? ` (${detail})` : ''}`);
  }

  async open(text: string): Promise<RequestRow> {
    this.ticket = await this.sb.openTicket(this.client, this.requester, text);
    this.step(`${this.requester} opens ${PSA_LABELS[this.psa] ?? this.psa} ticket #${this.ticket}: "${text}"`);
    this.request = await this.sb.requestForTicket(this.ticket);
    return this.request;
  }

  async settle(states: string[]): Promise<RequestRow> {
    const row = await this.sb.waitForRequest(this.request!.id, states);
    await this.sb.waitForDelivered(row.id);
    this.request = await this.sb.waitForRequest(row.id, () => true);
    this.step(`request is ${this.request.state}${this.request.outcome ? ` (outcome ${this.request.outcome})` : ''}`);
    return this.request;
  }

  notes(): Note[] {
    const view = this.sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === this.ticket);
    return (view?.notes ?? []).map((n) => ({
      id: Number(n['id']),
      text: String(n['text'] ?? ''),
      internal: n['internalAnalysisFlag'] === true,
      customer: n['detailDescriptionFlag'] === true,
      member: ((n['member'] as { identifier?: string } | undefined)?.identifier ?? null) as string | null,
      dateCreated: String(n['dateCreated'] ?? ''),
    }));
  }

  /** Notes deskhand wrote (the first Discussion note is the employee's own description). */
  agentNotes(): Note[] {
    return this.notes().filter((n) => n.member === 'deskhand');
  }

  /** The statuses ConnectWise moved the ticket through, in order. */
  statusChanges(): string[] {
    return this.sb.emulators.connectwise
      .effects()
      .filter((e) => e.op === 'status_changed' && e.ticketId === this.ticket)
      .map((e) => e.firstLine);
  }

  user(upn: string) {
    const user = this.sb.emulators.graph.tenant(this.client).users.find((u) => u.userPrincipalName === upn);
    if (!user) throw new Error(`no ${upn} in ${this.client}`);
    return user;
  }

  async pendingApproval(kind: 'technician' | 'manager' = 'technician') {
    const token = await this.sb.tokenFor(TECHNICIAN);
    const { body } = await this.sb.api<{ approvals: { id: string; requestId: string; kind: string; planHash: string }[] }>('GET', '/api/approvals', { token });
    return body.approvals.find((a) => a.requestId === this.request!.id && a.kind === kind) ?? null;
  }

  async decide(approvalId: string, decision: 'approve' | 'deny', as: string, planHash?: string, comment?: string) {
    const token = await this.sb.tokenFor(as);
    const result = await this.sb.api<{ combined?: string; error?: { message: string } }>('POST', `/api/approvals/${approvalId}/decision`, {
      token,
      body: { decision, ...(planHash ? { planHash } : {}), ...(comment ? { comment } : {}) },
    });
    this.step(`${as} ${decision === 'approve' ? 'approves' : 'denies'} through the API: HTTP ${result.status}`);
    return result;
  }

  /**
   * DESIGN rule 2, proven from what the emulators applied (their effects on one monotonic clock),
   * not from timestamps: ConnectWise's dates are whole seconds.
   */
  noteBeforeChange(): void {
    const note = this.sb.emulators.connectwise.effects().find((e) => e.op === 'note_added' && e.ticketId === this.ticket && e.member === 'deskhand' && e.flags?.internalAnalysis === true);
    const changes = this.sb.emulators.graph.effects(this.client).filter((e) => e.op !== 'mail_sent' && e.targetName === this.requester);
    this.check(
      'the internal note was posted before anything changed',
      !!note && changes.length > 0 && changes.every((c) => BigInt(note.order) < BigInt(c.order)),
      `note at ${note?.order ?? 'none'}, changes ${changes.map((c) => `${c.op} at ${c.order}`).join(', ') || 'none'}`,
    );
  }

  result(error?: unknown): StoryResult {
    if (error) this.check('the story ran to the end', false, error instanceof Error ? error.message : String(error));
    return {
      name: this.name,
      ok: this.checks.length > 0 && this.checks.every((c) => c.ok),
      psa: this.psa,
      channel: 'psa',
      client: this.client,
      requester: this.requester,
      request: this.request?.id ?? '',
      ticket: this.ticket,
      final_state: this.request?.state ?? null,
      outcome: this.request?.outcome ?? null,
      checks: this.checks,
      steps: this.steps,
      ...(error ? { error: error instanceof Error ? error.message : String(error) } : {}),
    };
  }
}

type StoryFn = (run: StoryRun) => Promise<void>;

interface StoryDefinition {
  name: string;
  /** The PSA the story's tickets are opened in (default ConnectWise). */
  psa?: string;
  client: string;
  requester: string;
  title: string;
  play: StoryFn;
}


function groupMembers(run: StoryRun, group: string): string[] {
  return run.sb.emulators.graph.tenant(run.client).groups.find((g) => g.displayName === group)?.members ?? [];
}

/**
 * The approval story on HaloPSA (Tailspin's PSA): Adatum runs in Plan Mode in the world, so the first
 * ticket is only planned (one private action); an admin switches Adatum to Execute Mode through the
 * API and the same request on a new ticket is approved by a technician and carried out.
 */
const HALOPSA_APPROVAL: StoryDefinition = {
  name: 'approval_halopsa',
  psa: 'halopsa',
  title: 'HaloPSA at Tailspin: Plan Mode first, then Execute Mode set through the API; a technician approves and the employee gets a reply',
  client: 'adatum',
  requester: 'dan.brown@adatum.example',
  async play(run) {
    const admin = 'kim.lee@tailspin-ms.example';
    const technician = 'omar.haddad@tailspin-ms.example';
    const halo = run.sb.emulators.halopsa;
    const actions = () => halo.tickets().find((t) => t.id === run.ticket)?.actions ?? [];
    await run.open('I need access to Salesforce.');
    const planned = await run.settle(FINAL);
    run.check('in Plan Mode the request is only planned', planned.state === 'planned' && planned.outcome === 'planned', `${planned.state}/${planned.outcome}`);
    run.check('Plan Mode leaves one private action, hidden from the user and not emailed', actions().length === 1 && actions()[0]!.hiddenfromuser && !actions()[0]!.sendemail, `${actions().length} actions`);
    run.check('nothing changed in the tenant', !run.user(run.requester).groups.includes('App-Salesforce'));

    const client = await run.sb.service.ctx.db.selectFrom('clients').select('id').where('slug', '=', run.client).executeTakeFirstOrThrow();
    const switched = await run.sb.api('PATCH', `/api/clients/${client.id}`, { token: await run.sb.tokenFor(admin), body: { operatingMode: 'execute' } });
    run.step(`${admin} switches Adatum to Execute Mode through the API: HTTP ${switched.status}`);
    run.check('the switch to Execute Mode is accepted', switched.status === 200, String(switched.status));

    await run.open('I need access to Salesforce, please.');
    const waiting = await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
    run.check('the request waits for approval', waiting.state === 'awaiting_approval', waiting.state);
    await run.sb.waitForDelivered(waiting.id);
    run.check('the employee sees nothing while it waits', actions().every((a) => a.hiddenfromuser));
    run.check('the approval notification is a private action on the ticket', actions().some((a) => a.hiddenfromuser && a.note.includes('approval request')));
    const { body } = await run.sb.api<{ approvals: { id: string; requestId: string; kind: string; planHash: string }[] }>('GET', '/api/approvals', { token: await run.sb.tokenFor(technician) });
    const approval = body.approvals.find((a) => a.requestId === run.request!.id && a.kind === 'technician');
    run.check('a technician approval is pending', approval !== undefined);
    const decided = await run.decide(approval!.id, 'approve', technician, approval!.planHash);
    run.check('the approval is accepted', decided.status === 200, String(decided.status));
    const final = await run.settle(FINAL);
    run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
    run.check('dan.brown is now in App-Salesforce', run.user(run.requester).groups.includes('App-Salesforce'));
    const replies = actions().filter((a) => !a.hiddenfromuser);
    run.check('the employee got one reply, a visible action emailed to him', replies.length === 1 && replies[0]!.sendemail && replies[0]!.note.includes('App-Salesforce'), `${replies.length} replies`);
    run.check('the reply carries no internal marker', replies.every((a) => !a.note.includes('[deskhand ref')));
    run.check('a private action says who approved', actions().some((a) => a.hiddenfromuser && a.note.includes('approved by') && a.note.includes(technician)));
    const statuses = halo.effects().filter((e) => e.op === 'status_changed' && e.ticketId === run.ticket).map((e) => e.firstLine);
    run.check('the ticket went Waiting on Approval → In Progress → Closed', statuses.join(' → ') === 'Waiting on Approval → In Progress → Closed', statuses.join(' → ') || 'no change');
    const note = halo.effects().find((e) => e.op === 'action_added' && e.ticketId === run.ticket && e.hiddenfromuser === true);
    const changes = run.sb.emulators.graph.effects(run.client).filter((e) => e.op !== 'mail_sent' && e.targetName === run.requester);
    run.check(
      'the internal note was posted before anything changed',
      !!note && changes.length > 0 && changes.every((c) => BigInt(note.order) < BigInt(c.order)),
      `note at ${note?.order ?? 'none'}, changes ${changes.map((c) => `${c.op} at ${c.order}`).join(', ') || 'none'}`,
    );
  },
};

export const STORIES: StoryDefinition[] = [
  {
    name: 'approval',
    title: 'Zendesk access: a technician approves, the member is added, the employee gets a reply',
    client: 'contoso',
    requester: 'alex.wilber@contoso.example',
    async play(run) {
      await run.open('Could you give me Zendesk access?');
      const waiting = await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      run.check('the request waits for approval', waiting.state === 'awaiting_approval', waiting.state);
      await run.sb.waitForDelivered(waiting.id);
      run.check('the employee hears nothing while it waits', run.agentNotes().every((n) => !n.customer));
      run.check('the approval notification is on the ticket', run.agentNotes().some((n) => n.internal && n.text.includes('approval request')));
      const approval = await run.pendingApproval();
      run.check('a technician approval is pending', approval !== null);
      const decided = await run.decide(approval!.id, 'approve', TECHNICIAN, approval!.planHash);
      run.check('the approval is accepted', decided.status === 200, String(decided.status));
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
      run.check('alex.wilber is now in SG-App-Zendesk', run.user(run.requester).groups.includes('SG-App-Zendesk'));
      run.check('the employee got a reply on the ticket', run.agentNotes().some((n) => n.customer && n.text.includes('SG-App-Zendesk')));
      run.check('the reply carries no internal marker', run.agentNotes().every((n) => !n.customer || !n.text.includes('[deskhand ref')));
      run.check('an internal note says who approved and when', run.agentNotes().some((n) => n.internal && n.text.includes(`approved by`) && n.text.includes(TECHNICIAN)));
      const statuses = run.statusChanges();
      run.check('the ticket went Waiting on Approval → In Progress → Resolved', statuses.join(' → ') === 'Waiting on Approval → In Progress → Resolved', statuses.join(' → ') || 'no change');
      run.noteBeforeChange();
    },
  },
  {
    name: 'shared_mailbox',
    title: 'Shared mailbox access: Graph cannot change the group, so the same tool goes through Exchange Online',
    client: 'contoso',
    requester: 'christie.cline@contoso.example',
    async play(run) {
      const graphWrites = () => run.sb.emulators.graph.requests().filter((r) => r.path.includes(`/groups/${groupId(run, 'SM-Support-Inbox')}/members`) && r.method !== 'GET').length;
      await run.open('I need access to the Support Inbox shared mailbox.');
      const waiting = await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      run.check('the request waits for approval', waiting.state === 'awaiting_approval', waiting.state);
      await run.sb.waitForDelivered(waiting.id);
      run.check(
        'the internal note says the change goes through Exchange Online',
        run.agentNotes().some((n) => n.internal && n.text.includes('SM-Support-Inbox is a mail-enabled security group') && n.text.includes('goes through Exchange Online')),
      );
      const approval = await run.pendingApproval();
      run.check('a technician approval is pending', approval !== null);
      const decided = await run.decide(approval!.id, 'approve', TECHNICIAN, approval!.planHash);
      run.check('the approval is accepted', decided.status === 200, String(decided.status));
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
      const calls = run.sb.emulators.graph.exchange.calls(run.client).filter((c) => c.cmdlet === 'Add-DistributionGroupMember' && c.parameters['Member'] === run.requester);
      run.step(`Exchange Online ran ${calls.map((c) => `${c.cmdlet} -Identity ${String(c.parameters['Identity'])} -Member ${String(c.parameters['Member'])} (HTTP ${c.status})`).join('; ') || 'nothing'}`);
      run.check('Exchange Online added the member once (Add-DistributionGroupMember)', calls.length === 1 && calls[0]!.status === 200, `${calls.length} calls`);
      run.check('Graph was never asked to change the group', graphWrites() === 0, `${graphWrites()} writes`);
      run.check('Graph now lists christie.cline in SM-Support-Inbox', run.user(run.requester).groups.includes('SM-Support-Inbox'));
      run.check('the employee got a reply on the ticket', run.agentNotes().some((n) => n.customer && n.text.includes('SM-Support-Inbox')));
      run.noteBeforeChange();
    },
  },
  {
    name: 'auto',
    title: 'Signed in on a shared computer: revoke_sessions is auto at Contoso, so it runs at once',
    client: 'contoso',
    requester: 'megan.bowen@contoso.example',
    async play(run) {
      const before = run.user(run.requester).sessionRevocations;
      await run.open('I stayed signed in on a shared computer, please sign me out everywhere.');
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
      run.check('no approval was needed', (await run.pendingApproval()) === null);
      run.check('her sessions were revoked once', run.user(run.requester).sessionRevocations === before + 1);
      run.check('the employee got a reply', run.agentNotes().some((n) => n.customer));
      run.noteBeforeChange();
    },
  },
  {
    name: 'dual_approval',
    title: 'Password reset: technician and manager both approve; the temporary password never reaches a note',
    client: 'contoso',
    requester: 'joni.sherman@contoso.example',
    async play(run) {
      await run.open("My password slipped my mind and I'm locked out today.");
      const waiting = await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      run.check('the request waits for approval', waiting.state === 'awaiting_approval', waiting.state);
      await run.sb.waitForDelivered(waiting.id);
      const approval = await run.pendingApproval();
      const decided = await run.decide(approval!.id, 'approve', TECHNICIAN, approval!.planHash);
      run.check('the technician approval is recorded, the manager is still awaited', decided.status === 200 && decided.body.combined === 'pending', JSON.stringify(decided.body));
      run.check('nothing ran on the technician approval alone', run.user(run.requester).passwordResets === 0);
      const mail = run.sb.emulators.graph.mail().find((m) => m.to.includes('lynne.robbins@contoso.example'));
      run.check('her manager Lynne Robbins was emailed from it-helpdesk@contoso.example', mail?.from === 'it-helpdesk@contoso.example');
      const link = mail?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
      run.check('the mail carries an approval link', !!link);
      const path = new URL(link!).pathname;
      const page = await fetch(`${run.sb.service.url}${path}`);
      run.check('the link opens a page (opening it decides nothing)', page.status === 200 && run.user(run.requester).passwordResets === 0);
      const post = await fetch(`${run.sb.service.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
      run.step(`Lynne Robbins approves through the link: HTTP ${post.status}`);
      run.check('the manager approval is accepted', post.status === 200);
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
      run.check('the password was reset once', run.user(run.requester).passwordResets === 1);
      const again = await fetch(`${run.sb.service.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
      run.check('the link used again answers 409', again.status === 409, String(again.status));
      const resetStep = await run.sb.service.ctx.db
        .selectFrom('step_executions')
        .select('step_index')
        .where('request_id', '=', final.id)
        .where('tool', '=', 'm365.reset_password')
        .executeTakeFirst();
      const stepIndex = resetStep?.step_index ?? -1;
      const token = await run.sb.tokenFor(TECHNICIAN);
      const reveal = await run.sb.api<{ temporaryPassword?: string }>('POST', `/api/requests/${final.id}/steps/${stepIndex}/temporary-password`, { token });
      const password = reveal.body.temporaryPassword ?? '';
      run.check('the approving technician sees the temporary password once', reveal.status === 200 && password.length >= 12);
      const second = await run.sb.api('POST', `/api/requests/${final.id}/steps/${stepIndex}/temporary-password`, { token });
      run.check('a second look answers 409', second.status === 409, String(second.status));
      const everywhere = [
        ...run.notes().map((n) => n.text),
        ...run.sb.emulators.graph.mail().map((m) => m.content),
        JSON.stringify(await run.sb.service.ctx.db.selectFrom('audit_log').select('data').execute()),
        JSON.stringify(await run.sb.service.ctx.db.selectFrom('outbox').select('payload').execute()),
        JSON.stringify(await run.sb.service.ctx.db.selectFrom('step_executions').select(['result', 'summary']).execute()),
      ].join('\n');
      run.check('the temporary password is in no note, reply, mail, audit row or stored result', password.length > 0 && !everywhere.includes(password));
    },
  },
  {
    name: 'denied',
    title: 'A technician denies: nothing changes, the employee is told it was not approved',
    client: 'contoso',
    requester: 'nestor.wilke@contoso.example',
    async play(run) {
      await run.open('Could I have a Power BI Pro license, please?');
      await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      const approval = await run.pendingApproval();
      run.check('a technician approval is pending', approval !== null);
      const decided = await run.decide(approval!.id, 'deny', SECOND_TECHNICIAN, approval!.planHash, 'Budget freeze until next quarter');
      run.check('the denial is accepted', decided.status === 200, String(decided.status));
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome denied', final.state === 'replied' && final.outcome === 'denied', `${final.state}/${final.outcome}`);
      run.check('no license was assigned', !run.user(run.requester).licenses.includes('POWER_BI_PRO'));
      run.check('the reply says it was not approved', run.agentNotes().some((n) => n.customer && n.text.includes('not approved')));
      run.check("the denial's comment is on the ticket, for technicians", run.agentNotes().some((n) => n.internal && n.text.includes('denied by') && n.text.includes('Budget freeze until next quarter')));
      run.check('the ticket is resolved', run.statusChanges().at(-1) === 'Resolved', run.statusChanges().join(' → '));
    },
  },
  {
    name: 'expired',
    title: 'Nobody decides for 24 hours: the approval expires and the employee is asked to resubmit',
    client: 'contoso',
    requester: 'isaiah.langer@contoso.example',
    async play(run) {
      await run.open('Could you add me to the Accounts Payable shared mailbox?');
      await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      const approval = await run.pendingApproval();
      run.check('a technician approval is pending', approval !== null);
      run.sb.clock.advance(24 * 60 * 60 * 1000 + 60_000);
      run.step('the clock moves forward 24 hours and 1 minute');
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome expired', final.state === 'replied' && final.outcome === 'expired', `${final.state}/${final.outcome}`);
      run.check('the reply says it was not approved in time and to resubmit', run.agentNotes().some((n) => n.customer && n.text.includes('not approved in time') && n.text.includes('submit the request again')));
      const late = await run.decide(approval!.id, 'approve', TECHNICIAN);
      run.check('approving after expiry answers 409', late.status === 409, String(late.status));
      run.check('nothing changed in the tenant', !groupMembers(run, 'SM-Accounts-Payable').includes(run.user(run.requester).id));
    },
  },
  {
    name: 'plan_mode',
    title: 'Fabrikam runs in Plan Mode: one internal note with the plan and its policies, nothing else',
    client: 'fabrikam',
    requester: 'alan.turing@fabrikam.example',
    async play(run) {
      await run.open('Joining the support rota, so I need a Zendesk login.');
      const final = await run.settle(FINAL);
      run.check('final state planned', final.state === 'planned' && final.outcome === 'planned', `${final.state}/${final.outcome}`);
      const notes = run.agentNotes();
      run.check('exactly one note, internal', notes.length === 1 && notes[0]!.internal, `${notes.length} notes`);
      run.check('the note shows the plan and the policy of each step', notes[0]?.text.includes('m365.add_user_to_group') === true && notes[0]?.text.includes('approval_needed') === true);
      run.check('no approval was requested', (await run.sb.service.ctx.db.selectFrom('approvals').select('id').where('request_id', '=', final.id).execute()).length === 0);
      run.check('nothing changed in the tenant', !run.user(run.requester).groups.includes('SG-App-Zendesk'));
    },
  },
  {
    name: 'replay',
    title: 'An approval used twice: the second answers 409 and nothing runs twice',
    client: 'contoso',
    requester: 'adele.vance@contoso.example',
    async play(run) {
      await run.open('Could you give me access to Tableau?');
      await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      const approval = await run.pendingApproval();
      run.check('a technician approval is pending', approval !== null);
      const first = await run.decide(approval!.id, 'approve', TECHNICIAN, approval!.planHash);
      run.check('the first approval is accepted', first.status === 200);
      const final = await run.settle(FINAL);
      const replay = await run.decide(approval!.id, 'approve', SECOND_TECHNICIAN, approval!.planHash);
      run.check('the replayed approval answers 409', replay.status === 409, String(replay.status));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const adds = run.sb.emulators.graph.requests().filter((r) => r.method === 'POST' && r.path.includes('/members/$ref') && r.path.includes(groupId(run, 'SG-App-Tableau')));
      run.check('the member was added exactly once', adds.length === 1, `${adds.length} calls`);
      const steps = await run.sb.service.ctx.db.selectFrom('step_executions').select('id').where('request_id', '=', final.id).execute();
      run.check('one step execution recorded', steps.length === 1, `${steps.length}`);
      run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
    },
  },
  {
    name: 'no_manager',
    title: 'Dual approval for an employee without a manager: fails closed, escalated with a note',
    client: 'contoso',
    requester: 'grady.archie@contoso.example',
    async play(run) {
      await run.open("I've forgotten my password and can't sign in.");
      const final = await run.settle(FINAL);
      run.check('final state escalated', final.state === 'escalated' && final.outcome === 'escalated', `${final.state}/${final.outcome}`);
      run.check('a note tells technicians no manager could be resolved', run.agentNotes().some((n) => n.internal && n.text.includes('no manager')));
      run.check('no reply to the employee', run.agentNotes().every((n) => !n.customer));
      run.check('no approval mail was sent', !run.sb.emulators.graph.mail().some((m) => m.content.includes(run.requester) || m.subject.includes('Grady')));
      run.check('the password was not reset', run.user(run.requester).passwordResets === 0);
    },
  },
  {
    name: 'no_action',
    title: 'Access the employee already has: the reply says so, nothing changes',
    client: 'contoso',
    requester: 'lidia.holloway@contoso.example',
    async play(run) {
      const before = JSON.stringify(run.user(run.requester));
      await run.open('Can I have Zendesk, please?');
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome no_action', final.state === 'replied' && final.outcome === 'no_action', `${final.state}/${final.outcome}`);
      run.check('the reply says she already has it', run.agentNotes().some((n) => n.customer && /already/i.test(n.text)));
      run.check('nothing changed in the tenant', JSON.stringify(run.user(run.requester)) === before);
    },
  },
  HALOPSA_APPROVAL,
  {
    name: 'approval_autotask',
    psa: 'autotask',
    title: 'Zendesk access at a Woodgrove client, on Autotask: internal notes, approval, the change, an all-users reply',
    client: 'litware',
    requester: 'ivan.petrov@litware.example',
    async play(run) {
      const at = run.sb.emulators.autotask!;
      const notes = () => at.tickets().find((t) => t.ticket.id === run.ticket)?.notes ?? [];
      const publish = (label: string) => Number(AUTOTASK_PUBLISH.find((p) => p.label === label)!.value);
      const ours = () => notes().filter((n) => n['creatorResourceID'] === AUTOTASK_API_RESOURCE);
      await run.open('Could you give me Zendesk access?');
      const waiting = await run.sb.waitForRequest(run.request!.id, ['awaiting_approval', ...FINAL]);
      run.check('the request waits for approval', waiting.state === 'awaiting_approval', waiting.state);
      await run.sb.waitForDelivered(waiting.id);
      run.check('every note so far is Internal Only', ours().length > 0 && ours().every((n) => n['publish'] === publish('Internal Only')));
      run.check('the approval notification is an internal note', ours().some((n) => String(n['description']).includes('approval request')));
      const token = await run.sb.tokenFor(WOODGROVE_TECHNICIAN);
      const { body } = await run.sb.api<{ approvals: { id: string; requestId: string; kind: string; planHash: string }[] }>('GET', '/api/approvals', { token });
      const approval = body.approvals.find((a) => a.requestId === run.request!.id && a.kind === 'technician');
      run.check('a technician approval is pending', approval !== undefined);
      const decided = await run.decide(approval!.id, 'approve', WOODGROVE_TECHNICIAN, approval!.planHash);
      run.check('the approval is accepted', decided.status === 200, String(decided.status));
      const final = await run.settle(FINAL);
      run.check('final state replied, outcome executed', final.state === 'replied' && final.outcome === 'executed', `${final.state}/${final.outcome}`);
      run.check('ivan.petrov is now in SG-App-Zendesk', run.user(run.requester).groups.includes('SG-App-Zendesk'));
      const replies = ours().filter((n) => n['publish'] === publish('All Autotask Users'));
      run.check('one All Autotask Users reply names the group', replies.length === 1 && String(replies[0]!['description']).includes('SG-App-Zendesk'), `${replies.length} replies`);
      run.check('the reply carries no internal marker', replies.every((n) => !String(n['description']).includes('[deskhand ref')));
      const statuses = at.effects().filter((e) => e.op === 'status_changed' && e.ticketId === run.ticket).map((e) => e.firstLine);
      run.check('the ticket went Waiting Approval → In Progress → Complete', statuses.join(' → ') === 'Waiting Approval → In Progress → Complete', statuses.join(' → ') || 'no change');
      const note = at.effects().find((e) => e.op === 'note_added' && e.ticketId === run.ticket && e.creatorResourceID === AUTOTASK_API_RESOURCE && e.publish === publish('Internal Only'));
      const changes = run.sb.emulators.graph.effects(run.client).filter((e) => e.op !== 'mail_sent' && e.targetName === run.requester);
      run.check('the internal note was posted before anything changed', !!note && changes.length > 0 && changes.every((c) => BigInt(note.order) < BigInt(c.order)));
    },
  },
];

function groupId(run: StoryRun, name: string): string {
  return run.sb.emulators.graph.tenant(run.client).groups.find((g) => g.displayName === name)?.id ?? name;
}

export async function playStories(sb: Sandbox, names: string[] | null, say: (line: string) => void): Promise<StoryResult[]> {
  const results: StoryResult[] = [];
  for (const story of STORIES) {
    if (names && !names.includes(story.name)) continue;
    say(`\n${story.name}: ${story.title}`);
    const run = new StoryRun(sb, story.name, story.client, story.requester, say, story.psa);
    try {
      await story.play(run);
      results.push(run.result());
    } catch (error) {
      results.push(run.result(error));
    }
  }
  return results;
}
