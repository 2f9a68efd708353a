import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../../core/errors.ts';
import type { GraphEmulator } from '../emulator/index.ts';
import { M365ToolRunner } from '../runner.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotUser, startDemoGraphEmulator } from '../testing.ts';
import { checkM365Step } from './check.ts';
import { ExchangeGroupMembership } from './membership.ts';
import { emulatedExchangeClient } from './testing.ts';

/**
 * The membership tools on distribution lists and mail-enabled security groups, through the runner:
 * they go to Exchange Online (Graph is never asked to write), repeat safely, reconcile by reading
 * only, and without Exchange Online fail (and are checked) with the reason.
 */

let emulator: GraphEmulator;
let runner: M365ToolRunner;

const ALEX = 'alex.wilber@contoso.example';

function ids(user: string, group: string): Record<string, string> {
  return { user: snapshotUser(emulator, 'contoso', user).id, group: snapshotGroupId(emulator, 'contoso', group) };
}

function graphMemberWrites(): number {
  return emulator.requests().filter((r) => r.path.includes('/members/') && (r.method === 'POST' || r.method === 'DELETE')).length;
}

function exchangeWrites(): string[] {
  return emulator.exchange.calls('contoso').filter((c) => !c.cmdlet.startsWith('Get-')).map((c) => `${c.cmdlet} ${c.parameters['Member']} ${c.status}`);
}

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
  const graph = emulatedGraphClient(emulator, 'contoso');
  runner = new M365ToolRunner(graph, new ExchangeGroupMembership(graph, emulatedExchangeClient(emulator, 'contoso')));
});

describe('m365.add_user_to_group on a shared-mailbox group', () => {
  it('goes through Exchange Online, and a repeat changes nothing', async () => {
    const args = { user: ALEX, group: 'SM-Accounts-Payable' };
    const first = await runner.run('m365.add_user_to_group', args, ids(ALEX, 'SM-Accounts-Payable'));
    expect(first.summary).toBe(`Added ${ALEX} to SM-Accounts-Payable through Exchange Online`);
    expect(first.data).toMatchObject({ alreadyMember: false, through: 'Exchange Online' });
    const again = await runner.run('m365.add_user_to_group', args, ids(ALEX, 'SM-Accounts-Payable'));
    expect(again.data).toMatchObject({ alreadyMember: true });
    expect(graphMemberWrites()).toBe(0);
    expect(exchangeWrites()).toEqual([`Add-DistributionGroupMember ${ALEX} 200`, `Add-DistributionGroupMember ${ALEX} 400`]);
    expect(emulator.effects('contoso').map((e) => e.op)).toEqual(['member_added']);
  });

  it('still goes through Graph for a security group', async () => {
    await runner.run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' }, ids(ALEX, 'SG-App-Zendesk'));
    expect(graphMemberWrites()).toBe(1);
    expect(exchangeWrites()).toEqual([]);
  });
});

describe('reconciliation through Exchange Online', () => {
  it.each([
    ['m365.add_user_to_group', ALEX, 'DL-Sales', true],
    ['m365.remove_user_from_group', ALEX, 'DL-Sales', false],
  ] as const)('%s: not done before it runs, done after, by reading only', async (tool, user, group, member) => {
    const resolved = ids(user, group);
    if (!member) await runner.run('m365.add_user_to_group', { user, group }, resolved);
    const before = exchangeWrites().length;
    expect(await runner.reconcile(tool, { user, group }, resolved, new Date())).toEqual({ done: false });
    await runner.run(tool, { user, group }, resolved);
    const after = exchangeWrites().length;
    const outcome = await runner.reconcile(tool, { user, group }, resolved, new Date());
    expect(outcome.done).toBe(true);
    if (outcome.done) expect(outcome.result.summary).toContain('through Exchange Online (confirmed after an interrupted attempt)');
    expect(after - before).toBe(1);
    expect(exchangeWrites().length).toBe(after);
  });

  it('a lost answer after the change: the run fails, reconcile finds it done, nothing is written twice', async () => {
    emulator.injectFault({ status: 503, count: 1, pathContains: '/InvokeCommand', retryAfterSeconds: 30, afterEffect: true });
    const resolved = ids(ALEX, 'SM-Support-Inbox');
    const error = await runner.run('m365.add_user_to_group', { user: ALEX, group: 'SM-Support-Inbox' }, resolved).catch((e: unknown) => e as DeskhandError);
    expect(error).toBeInstanceOf(DeskhandError);
    expect((error as DeskhandError).code).toBe('upstream_retryable');
    const outcome = await runner.reconcile('m365.add_user_to_group', { user: ALEX, group: 'SM-Support-Inbox' }, resolved, new Date());
    expect(outcome.done).toBe(true);
    expect(emulator.effects('contoso').filter((e) => e.op === 'member_added')).toHaveLength(1);
  });
});

describe('without Exchange Online', () => {
  it('the tool fails with the reason, and the check says so before a plan is accepted', async () => {
    const graph = emulatedGraphClient(emulator, 'contoso');
    const bare = new M365ToolRunner(graph);
    const error = await bare.run('m365.add_user_to_group', { user: ALEX, group: 'DL-Sales' }, ids(ALEX, 'DL-Sales')).catch((e: unknown) => e as DeskhandError);
    expect((error as DeskhandError).code).toBe('config');
    expect((error as DeskhandError).message).toContain('no Exchange Online access configured');
    expect(graphMemberWrites()).toBe(0);
    const refused = await checkM365Step(graph, false, 'm365.add_user_to_group', { user: ALEX, group: 'DL-Sales' }, ids(ALEX, 'DL-Sales'));
    expect(refused).toMatchObject({ ok: false });
    const through = await checkM365Step(graph, true, 'm365.add_user_to_group', { user: ALEX, group: 'DL-Sales' }, ids(ALEX, 'DL-Sales'));
    expect(through).toEqual({ ok: true, note: expect.stringContaining('goes through Exchange Online (Add-DistributionGroupMember)') });
    expect(await checkM365Step(graph, false, 'm365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' }, ids(ALEX, 'SG-App-Zendesk'))).toEqual({
      ok: true,
      note: expect.stringContaining('goes through Microsoft Graph'),
    });
  });

  it('a synced group is refused by both paths before any write', async () => {
    emulator.exchange.markGroupSynced('contoso', 'DL-Finance');
    const graph = emulatedGraphClient(emulator, 'contoso');
    const checked = await checkM365Step(graph, true, 'm365.add_user_to_group', { user: ALEX, group: 'DL-Finance' }, ids(ALEX, 'DL-Finance'));
    expect(checked).toMatchObject({ ok: false, reason: expect.stringContaining('synchronized from the on-premises directory') });
    const error = await runner.run('m365.add_user_to_group', { user: ALEX, group: 'DL-Finance' }, ids(ALEX, 'DL-Finance')).catch((e: unknown) => e as DeskhandError);
    expect((error as DeskhandError).code).toBe('upstream');
    expect(exchangeWrites()).toEqual([]);
  });
});
