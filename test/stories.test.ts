import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { playStories, STORIES, type StoryResult } from '../src/demo/stories.ts';
import { API_RESOURCE_ID as AUTOTASK_API_RESOURCE, NOTE_PUBLISH } from '../src/integrations/autotask/emulator/index.ts';
import { mailMarker } from '../src/integrations/m365/client.ts';
import { silentLogger } from '../src/logger.ts';
import { verifyAuditChain } from '../src/store/audit.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * The product page's stories end to end: tickets opened in the ConnectWise emulator, webhooks into
 * the running service, the worker, decisions through the HTTP API and the manager's link, and the
 * outcome read back from the emulators. Each story's own checks are asserted one by one.
 */
let sandbox: Sandbox;
const AUTOTASK_INTERNAL = Number(NOTE_PUBLISH.find((p) => p.label === 'Internal Only')!.value);
let results: StoryResult[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  results = await playStories(sandbox, null, () => {});
}, 180_000);

afterAll(async () => {
  await sandbox?.close();
});

describe('the stories of the product page', () => {
  it('plays every story', () => {
    expect(results.map((r) => r.name)).toEqual(STORIES.map((s) => s.name));
  });

  const expectedFinal: Record<string, [string, string]> = {
    approval: ['replied', 'executed'],
    shared_mailbox: ['replied', 'executed'],
    auto: ['replied', 'executed'],
    dual_approval: ['replied', 'executed'],
    denied: ['replied', 'denied'],
    expired: ['replied', 'expired'],
    plan_mode: ['planned', 'planned'],
    replay: ['replied', 'executed'],
    no_manager: ['escalated', 'escalated'],
    no_action: ['replied', 'no_action'],
    approval_halopsa: ['replied', 'executed'],
    approval_autotask: ['replied', 'executed'],
  };

  for (const story of STORIES) {
    it(`${story.name}: ${story.title}`, () => {
      const result = results.find((r) => r.name === story.name);
      expect(result, 'story result').toBeDefined();
      const failed = result!.checks.filter((c) => !c.ok);
      expect(failed, JSON.stringify(failed)).toEqual([]);
      expect(result!.checks.length).toBeGreaterThan(2);
      expect([result!.final_state, result!.outcome]).toEqual(expectedFinal[story.name]);
      expect(result!.ok).toBe(true);
    });
  }

  it('every internal note comes before the first customer-visible reply on its ticket', () => {
    for (const ticket of sandbox.emulators.connectwise.tickets()) {
      const agent = ticket.notes.filter((n) => (n['member'] as { identifier?: string } | undefined)?.identifier === 'deskhand');
      const firstReply = agent.findIndex((n) => n['detailDescriptionFlag'] === true);
      if (firstReply >= 0) expect(agent.slice(0, firstReply).some((n) => n['internalAnalysisFlag'] === true)).toBe(true);
    }
  });

  it('posts every internal note before anything changes for its request, by the order the emulators applied them', () => {
    // Each effect carries its place on one monotonic clock shared by both emulators: this proves the
    // order, where ConnectWise's dates (whole seconds) could only show that both fell in one second.
    const cwEffects = sandbox.emulators.connectwise.effects();
    const graphEffects = sandbox.emulators.graph.effects();
    let compared = 0;
    for (const result of results.filter((r) => r.psa === 'connectwise')) {
      const changes = graphEffects.filter(
        (e) => (e.op !== 'mail_sent' && e.targetName === result.requester) || (e.op === 'mail_sent' && !!result.request && (e.objectName ?? '').includes(mailMarker(`${result.request}:manager-mail`))),
      );
      if (changes.length === 0) continue;
      const note =
        result.psa === 'autotask'
          ? sandbox.emulators.autotask!.effects().find((e) => e.op === 'note_added' && e.ticketId === result.ticket && e.creatorResourceID === AUTOTASK_API_RESOURCE && e.publish === AUTOTASK_INTERNAL)
          : cwEffects.find((e) => e.op === 'note_added' && e.ticketId === result.ticket && e.member === 'deskhand' && e.flags?.internalAnalysis === true);
      expect(note, `${result.name}: no internal note on ticket ${result.ticket}`).toBeDefined();
      for (const change of changes) {
        expect(BigInt(note!.order) < BigInt(change.order), `${result.name}: ${change.op} (${change.order}) came before the internal note (${note!.order})`).toBe(true);
        compared++;
      }
    }
    // approval, auto, dual_approval (its manager mail and the reset), replay.
    expect(compared).toBeGreaterThanOrEqual(5);
  });

  it('leaves every audit chain intact', async () => {
    for (const msp of sandbox.world.msps) {
      const chain = await verifyAuditChain(sandbox.service.ctx.db, msp.id);
      expect(chain.ok, JSON.stringify(chain)).toBe(true);
    }
    const northwind = await verifyAuditChain(sandbox.service.ctx.db, 'northwind');
    expect(northwind.rows).toBeGreaterThan(50);
  });
});
