import { demoSetup } from '../integrations/emulators.ts';
import { createLogger } from '../logger.ts';
import { scratchDatabase } from '../demo/database.ts';
import { startSandbox } from '../demo/sandbox.ts';
import { playStories, STORIES } from '../demo/stories.ts';

/** `deskhand demo [--json]`: every story of the product page, end to end, checked against the emulators. */
export async function demo(options: { json?: boolean; story?: string }): Promise<void> {
  const logger = createLogger({ level: process.env['DESKHAND_LOG_LEVEL'] ?? 'warn', name: 'demo' });
  const names = options.story ? options.story.split(',').map((s) => s.trim()) : null;
  if (names) {
    const unknown = names.filter((n) => !STORIES.some((s) => s.name === n));
    if (unknown.length > 0) throw new Error(`unknown stories: ${unknown.join(', ')} (known: ${STORIES.map((s) => s.name).join(', ')})`);
  }
  const say = options.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => process.stdout.write(`${line}\n`);
  const database = await scratchDatabase('demo', logger);
  say(`deskhand demo on ${database.label}`);
  let ok = false;
  try {
    const sandbox = await startSandbox({ databaseUrl: database.url, logger });
    try {
      say(`service ${sandbox.service.url}; emulators: ${demoSetup(sandbox.world, sandbox.emulators.endpoints).emulators.map((e) => `${e.name} ${e.url}`).join(', ')}`);
      const started = Date.now();
      const stories = await playStories(sandbox, names, say);
      const audit = await Promise.all(
        sandbox.world.msps.map(async (m) => (await import('../store/audit.ts')).verifyAuditChain(sandbox.service.ctx.db, m.id)),
      );
      ok = stories.length > 0 && stories.every((s) => s.ok) && audit.every((a) => a.ok);
      const summary = { ok, seconds: Math.round((Date.now() - started) / 100) / 10, audit_chains_ok: audit.every((a) => a.ok), stories };
      say(`\n${stories.filter((s) => s.ok).length}/${stories.length} stories behaved as the product page says; audit chains ${summary.audit_chains_ok ? 'verify' : 'BROKEN'}`);
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    } finally {
      await sandbox.close();
    }
  } finally {
    await database.dispose();
  }
  process.exitCode = ok ? 0 : 1;
}
