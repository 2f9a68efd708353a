import pg from 'pg';
import { silentLogger } from '../src/logger.ts';
import { scratchDatabase } from '../src/demo/database.ts';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';

/**
 * `npm run bench [-- --json] [--tickets N] [--stories N]`: throughput from webhook to internal
 * note, and the time of one full approval story, on the embedded PostgreSQL and on the machine's
 * PostgreSQL (DATABASE_URL, or a fresh database on 127.0.0.1:5432 when one answers). Traffic stays
 * on loopback; sizes are bounded.
 */
interface Options {
  json: boolean;
  tickets: number;
  stories: number;
}

const ASKS: [string, string, string][] = [
  ['contoso', 'alex.wilber@contoso.example', 'I need access to Zendesk.'],
  ['contoso', 'nestor.wilke@contoso.example', 'Can I get a Power BI Pro license?'],
  ['contoso', 'isaiah.langer@contoso.example', 'I need access to the Accounts Payable shared mailbox.'],
  ['contoso', 'debra.berger@contoso.example', "Paper jam on the floor 3 printer again, it's blinking orange."],
  ['contoso', 'lidia.holloway@contoso.example', 'Could I get Zendesk please?'],
  ['fabrikam', 'alan.turing@fabrikam.example', 'Need Zendesk access for the support rota.'],
];

function parseOptions(argv: string[]): Options {
  const value = (name: string, fallback: number) => {
    const index = argv.indexOf(`--${name}`);
    const parsed = index >= 0 ? Number(argv[index + 1]) : fallback;
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > 5000) throw new Error(`--${name} must be an integer from 1 to 5000`);
    return parsed;
  };
  return { json: argv.includes('--json'), tickets: value('tickets', 60), stories: value('stories', 5) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Tickets opened at once through the ConnectWise emulator; each ends when its internal note is on the ticket. */
async function measureIntake(sb: Sandbox, count: number) {
  const started = performance.now();
  const opened = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const [client, email, text] = ASKS[i % ASKS.length]!;
      const t0 = Date.now();
      const ticket = await sb.openTicket(client, email, text);
      return { ticket, t0 };
    }),
  );
  const latencies: number[] = [];
  for (const { ticket, t0 } of opened) {
    const request = await sb.requestForTicket(ticket, 60_000);
    const noted = await sb.waitForRequest(request.id, (r) => r.state !== 'received' && r.state !== 'diagnosing', 120_000);
    const note = await sb.service.ctx.db.selectFrom('outbox').select('delivered_at').where('idempotency_key', '=', `${noted.id}:note`).executeTakeFirstOrThrow();
    latencies.push(note.delivered_at!.getTime() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: count / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
}

/** One full approval story, start to reply: ticket → awaiting approval → approved through the API → executed → replied. */
async function measureStory(sb: Sandbox, index: number): Promise<number> {
  const asks = approvalAsks(sb);
  const ask = asks[index % asks.length]!;
  const t0 = performance.now();
  const ticket = await sb.openTicket('contoso', ask.upn, `Could you give me access to ${ask.app}?`);
  const request = await sb.requestForTicket(ticket, 60_000);
  await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 60_000);
  const token = await sb.tokenFor('tom.rivera@northwind-it.example');
  const approval = await sb.service.ctx.db.selectFrom('approvals').select(['id', 'plan_hash']).where('request_id', '=', request.id).executeTakeFirstOrThrow();
  const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token, body: { decision: 'approve', planHash: approval.plan_hash } });
  if (decided.status !== 200) throw new Error(`approval answered ${decided.status}`);
  const final = await sb.waitForRequest(request.id, FINAL, 60_000);
  if (final.state !== 'replied') throw new Error(`story ended ${final.state}`);
  return performance.now() - t0;
}

/** Employees asking for an app they do not have yet (each pair used once, so every story needs an approval). */
function approvalAsks(sb: Sandbox): { upn: string; app: string }[] {
  const contoso = sb.world.clients.find((c) => c.id === 'contoso')!;
  const apps: [string, string][] = [
    ['SG-App-Tableau', 'Tableau'],
    ['SG-App-DocuSign', 'DocuSign'],
    ['SG-App-Zendesk', 'Zendesk'],
    ['SG-App-Salesforce', 'Salesforce'],
  ];
  return apps.flatMap(([group, app]) =>
    contoso.employees.filter((e) => e.accountEnabled !== false && !e.groups.includes(group)).map((e) => ({ upn: e.upn, app })),
  );
}

async function benchOn(kind: 'embedded' | 'pg', options: Options, env: NodeJS.ProcessEnv, say: (s: string) => void): Promise<Record<string, number>> {
  const database = await scratchDatabase(`bench_${kind}`, silentLogger, env);
  try {
    const sb = await startSandbox({ databaseUrl: database.url, logger: silentLogger, workerConcurrency: 4 });
    try {
      say(`\n${kind}: ${database.label}`);
      const available = approvalAsks(sb).length;
      if (options.stories + 1 > available) throw new Error(`--stories can be at most ${available - 1} (distinct approval asks in the demo world)`);
      await measureStory(sb, available - 1); // warm-up: connections, tokens, JIT
      const stories: number[] = [];
      for (let i = 0; i < options.stories; i++) stories.push(await measureStory(sb, i));
      stories.sort((a, b) => a - b);
      const intake = await measureIntake(sb, options.tickets);
      const figures = {
        [`intake_rps_${kind}`]: round(intake.rps),
        [`intake_p50_ms_${kind}`]: Math.round(intake.p50),
        [`intake_p95_ms_${kind}`]: Math.round(intake.p95),
        [`intake_p99_ms_${kind}`]: Math.round(intake.p99),
        [`full_story_ms_${kind}`]: Math.round(percentile(stories, 50)),
        [`full_story_rps_${kind}`]: round(1000 / percentile(stories, 50), 2),
      };
      say(`  intake (${options.tickets} tickets at once, webhook → internal note): ${figures[`intake_rps_${kind}`]} requests/s, p50 ${figures[`intake_p50_ms_${kind}`]} ms, p95 ${figures[`intake_p95_ms_${kind}`]} ms, p99 ${figures[`intake_p99_ms_${kind}`]} ms`);
      say(`  one full approval story (ticket → approval → executed → reply), median of ${options.stories}: ${figures[`full_story_ms_${kind}`]} ms`);
      return figures;
    } finally {
      await sb.close();
    }
  } finally {
    await database.dispose();
  }
}

async function machinePostgres(): Promise<string | null> {
  if (process.env['DATABASE_URL']) return process.env['DATABASE_URL'];
  const url = 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    await client.end();
    return url;
  } catch {
    return null;
  }
}

export async function runBench(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  const say = options.json ? (s: string) => process.stderr.write(`${s}\n`) : (s: string) => process.stdout.write(`${s}\n`);
  say(`deskhand bench: ${options.tickets} tickets for intake, ${options.stories} approval stories; emulators on loopback without added latency`);
  const figures: Record<string, number> = {};
  Object.assign(figures, await benchOn('embedded', options, { ...process.env, DATABASE_URL: '' }, say));
  const pgUrl = await machinePostgres();
  if (pgUrl) Object.assign(figures, await benchOn('pg', options, { ...process.env, DATABASE_URL: pgUrl }, say));
  else say('\npg: no PostgreSQL at DATABASE_URL or 127.0.0.1:5432; skipped');
  if (options.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
}
