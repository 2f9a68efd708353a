import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { createLogger, silentLogger } from '../src/logger.ts';
import { generateWorld } from '../src/world/generate.ts';
import type { World } from '../src/world/fixture.ts';
import { AskBook } from './asks.ts';
import { startBaseline } from './baseline.ts';
import { type BenchDatabase, machinePostgresUrl, openEmbeddedDatabase, openMachineDatabase } from './databases.ts';
import { emulatorCalls, fullStories, intakeBurst, intakeSteady } from './drive.ts';
import { CONNECTWISE_LATENCY, GRAPH_LATENCY, startBenchEmulators } from './emulators.ts';
import { engineTarget } from './engine.ts';
import { measureExpiry } from './expiry.ts';
import { CpuMeter, MemorySampler } from './memory.ts';
import { CpuProfiler } from './profile.ts';
import { type BenchOptions, Cleanup, type DatabaseKind, parseOptions, percentile, round, sleep, step } from './support.ts';
import { startWorkers } from './workers.ts';

/**
 * `npm run bench [-- --json] [--latency] [--only pg|embedded] [sizes]`: what deskhand does per
 * second and what it costs, on the machine's PostgreSQL and on the embedded one. See
 * bench/README.md for what each figure means and how it is measured.
 */
type Figures = Record<string, number | null>;

export async function runBench(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const say = options.json ? (s: string) => process.stderr.write(`${s}\n`) : out;
  const cleanup = new Cleanup(say);
  const started = performance.now();
  const world = generateWorld({ msps: options.msps, clientsPerMsp: options.clients, employeesPerClient: options.employees });
  say(
    `deskhand bench: ${world.msps.length} MSPs × ${options.clients} clients × ${options.employees} employees (generated world); ` +
      `intake ${options.tickets} tickets at once and ${options.steadyTickets} at ${options.rate}/s; ${options.stories} full stories (${options.inFlight} in flight); ` +
      `workers ${options.skipWorkers ? 'skipped' : options.workers.join(', ')}; ${options.approvals} expiring approvals; ` +
      (options.latency
        ? `emulator latency Graph ${GRAPH_LATENCY.min}-${GRAPH_LATENCY.max} ms, ConnectWise ${CONNECTWISE_LATENCY.min}-${CONNECTWISE_LATENCY.max} ms`
        : 'emulators on loopback without added latency'),
  );
  const figures: Figures = {};
  const kinds: DatabaseKind[] = options.only ? [options.only] : ['pg', 'embedded'];
  try {
    for (const kind of kinds) {
      const kindStart = performance.now();
      let database: BenchDatabase;
      if (kind === 'pg') {
        const serverUrl = await machinePostgresUrl();
        if (!serverUrl) {
          say('\npg: no PostgreSQL at DATABASE_URL or 127.0.0.1:5432; skipped (figures are null)');
          Object.assign(figures, nullFigures(kind));
          continue;
        }
        database = await step('pg: create the bench database', 60_000, () => openMachineDatabase(serverUrl, cleanup));
      } else {
        database = await step('embedded: start the embedded PostgreSQL', 120_000, () =>
          openEmbeddedDatabase(createLogger({ level: process.env['DESKHAND_LOG_LEVEL'] ?? 'warn', name: 'bench' }), cleanup),
        );
      }
      say(`\n${kind}: ${database.label}`);
      try {
        Object.assign(figures, await benchOn(database, world, options, cleanup, say));
      } finally {
        await database.dispose();
      }
      figures[`bench_seconds_${kind}`] = round((performance.now() - kindStart) / 1000, 0);
    }
  } catch (error) {
    say(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
    await cleanup.runAll();
    process.exitCode = 1;
    // Work abandoned at a deadline may still hold sockets or timers: do not wait for it.
    setTimeout(() => process.exit(1), 5_000).unref();
    return;
  }
  await cleanup.runAll();
  say(`\n${table(figures, kinds)}`);
  say(`\ntotal ${round((performance.now() - started) / 1000, 0)} s`);
  if (options.json) out(JSON.stringify(figures));
}

async function benchOn(database: BenchDatabase, world: World, options: BenchOptions, cleanup: Cleanup, say: (s: string) => void): Promise<Figures> {
  const kind = database.kind;
  const f: Figures = {};
  const k = (name: string) => `${name}_${kind}`;
  const slow = options.latency ? 3 : 1;
  /** Deadline of one request's wait: generous, grows with the size of the load. */
  const waitMs = (n: number) => Math.min(20 * 60_000, (60_000 + n * 1_000) * slow);
  const progress = (s: string) => say(`  ${s}`);
  const asks = new AskBook(world);
  const secretKey = randomBytes(32);

  const emulators = await step(`${kind}: start the emulators`, 60_000, () => startBenchEmulators(world, options.latency));
  const stopEmulators = cleanup.add('the emulators', () => emulators.close());
  if (options.latency) progress(`latency: Graph ${emulators.latencyMode.graph}, ConnectWise ${emulators.latencyMode.connectwise}`);
  const pool = new pg.Pool({ connectionString: database.url, max: 4, application_name: 'deskhand-bench' });
  pool.on('error', () => {});
  const endPool = cleanup.add('the bench connection pool', () => pool.end());

  // --- the engine in this process: API, webhooks and worker -------------------------------------
  let sandbox: Sandbox = await step(`${kind}: start deskhand (API, webhooks, worker) and load the world`, 180_000, () =>
    startSandbox({
      databaseUrl: database.url,
      logger: serviceLogger(),
      world,
      emulators,
      secretKey,
      worker: { concurrency: options.concurrency, pollMs: 1_000, sweepMs: 5_000 },
    }),
  );
  let closeSandbox = cleanup.add('the in-process service', () => sandbox.close());
  const engine = await step(`${kind}: sign in the technicians`, 60_000, () => engineTarget({ sandbox, emulators, world, pool }));
  const stopWatcher = cleanup.add('the watcher', () => engine.watcher.stop());
  const counters = () => ({ ...sandbox.service.store.counters });

  await step(`${kind}: warm-up`, waitMs(20), async () => {
    const since = new Date().toISOString();
    await intakeBurst(engine, asks.takeIntake(10), waitMs(10));
    await sleep(1_000); // the approval notices posted after the notes
    const intakeCalls = emulatorCalls(emulators, since);
    const storySince = new Date().toISOString();
    await fullStories(engine, asks.takeStories(3), 3, waitMs(3));
    const storyCalls = emulatorCalls(emulators, storySince);
    f[k('connectwise_calls_per_intake')] = round(intakeCalls.connectwise / 10, 1);
    f[k('graph_calls_per_intake')] = round(intakeCalls.graph / 10, 1);
    f[k('connectwise_calls_per_story')] = round(storyCalls.connectwise / 3, 1);
    f[k('graph_calls_per_story')] = round(storyCalls.graph / 3, 1);
  });

  const warn = async (since: Date) => {
    const found = await trouble(pool, since).catch(() => null);
    if (found) progress(`  (underneath: ${found})`);
  };
  const sampler = new MemorySampler(() => [], () => database.serverPids());
  sampler.start();
  let since = new Date();
  const cpu = new CpuMeter(() => [], () => database.serverPids());
  const profiler = options.profile ? new CpuProfiler() : null;
  await profiler?.start();
  await cpu.start();
  const intakeCounters = counters();
  const burst = await step(`${kind}: intake at full speed (${options.tickets} tickets at once)`, waitMs(options.tickets) + 60_000, () =>
    intakeBurst(engine, asks.takeIntake(options.tickets), waitMs(options.tickets)),
  );
  const afterIntake = counters();
  const intakeCpu = await cpu.stop();
  if (profiler) say(await profiler.stop(`${options.profile}-${kind}.cpuprofile`));
  f[k('cpu_ms_per_intake')] = round(intakeCpu.deskhandMs / options.tickets, 1);
  f[k('db_cpu_ms_per_intake')] = intakeCpu.dbMs === null ? null : round(intakeCpu.dbMs / options.tickets, 1);
  f[k('intake_rps')] = round(burst.rps);
  f[k('intake_burst_p50_ms')] = Math.round(percentile(burst.latencies, 50));
  f[k('intake_burst_p95_ms')] = Math.round(percentile(burst.latencies, 95));
  f[k('db_statements_per_intake')] = round((afterIntake.statements - intakeCounters.statements) / options.tickets, 1);
  f[k('db_transactions_per_intake')] = round((afterIntake.transactions - intakeCounters.transactions) / options.tickets, 1);
  progress(`intake at full speed: ${f[k('intake_rps')]} requests/s (${burst.count} tickets in ${round(burst.seconds)} s)`);
  await waitIdle(pool, waitMs(options.tickets));
  await warn(since);
  since = new Date();

  const steady = await step(`${kind}: intake at ${options.rate} tickets/s (${options.steadyTickets} tickets)`, waitMs(options.steadyTickets) + 60_000, () =>
    intakeSteady(engine, asks.takeIntake(options.steadyTickets), options.rate, waitMs(options.steadyTickets)),
  );
  f[k('intake_p50_ms')] = Math.round(percentile(steady.latencies, 50));
  f[k('intake_p95_ms')] = Math.round(percentile(steady.latencies, 95));
  f[k('intake_p99_ms')] = Math.round(percentile(steady.latencies, 99));
  f[k('intake_steady_offered_rps')] = round(steady.offeredRps);
  f[k('intake_steady_completed_rps')] = round(steady.rps);
  progress(`intake at ${round(steady.offeredRps)}/s offered: p50 ${f[k('intake_p50_ms')]} ms, p95 ${f[k('intake_p95_ms')]} ms, p99 ${f[k('intake_p99_ms')]} ms`);
  await waitIdle(pool, waitMs(options.steadyTickets));
  await warn(since);
  since = new Date();

  await cpu.start();
  const storyCounters = counters();
  const stories = await step(`${kind}: full stories in process (${options.stories}, ${options.inFlight} in flight)`, waitMs(options.stories) + 60_000, () =>
    fullStories(engine, asks.takeStories(options.stories), options.inFlight, waitMs(options.stories)),
  );
  const afterStories = counters();
  const storyCpu = await cpu.stop();
  const memory = await sampler.stop();
  f[k('cpu_ms_per_request')] = round(storyCpu.deskhandMs / options.stories, 1);
  f[k('db_cpu_ms_per_request')] = storyCpu.dbMs === null ? null : round(storyCpu.dbMs / options.stories, 1);
  f[k('full_story_rps')] = round(stories.rps, 2);
  f[k('full_story_p50_ms')] = Math.round(percentile(stories.latencies, 50));
  f[k('full_story_p95_ms')] = Math.round(percentile(stories.latencies, 95));
  f[k('db_statements_per_request')] = round((afterStories.statements - storyCounters.statements) / options.stories, 1);
  f[k('db_transactions_per_request')] = round((afterStories.transactions - storyCounters.transactions) / options.stories, 1);
  f[k('rss_mb')] = Math.round(memory.deskhandRssMb);
  f[k('db_rss_mb')] = memory.dbRssMb === null ? null : Math.round(memory.dbRssMb);
  f[k('db_pss_mb')] = memory.dbPssMb === null ? null : Math.round(memory.dbPssMb);
  progress(
    `full stories: ${f[k('full_story_rps')]} requests/s; ${f[k('db_statements_per_request')]} statements and ${f[k('db_transactions_per_request')]} transactions per request; CPU per request ${f[k('cpu_ms_per_request')]} ms in this process + ${f[k('db_cpu_ms_per_request')] ?? '?'} ms database`,
  );
  await warn(since);

  // --- the baseline, on the same database server, with its own emulators --------------------------
  const baseline = await step(`${kind}: start the baseline`, 60_000, () =>
    startBaseline({ world, databaseUrl: database.url, latency: options.latency, concurrency: options.concurrency }),
  );
  const stopBaseline = cleanup.add('the baseline', () => baseline.close());
  const baselineAsks = new AskBook(world);
  await step(`${kind}: baseline warm-up`, waitMs(20), async () => {
    const since = new Date().toISOString();
    await intakeBurst(baseline.target, baselineAsks.takeIntake(10), waitMs(10));
    await sleep(1_000);
    const intakeCalls = emulatorCalls(baseline.emulators, since);
    const storySince = new Date().toISOString();
    await fullStories(baseline.target, baselineAsks.takeStories(3), 3, waitMs(3));
    const storyCalls = emulatorCalls(baseline.emulators, storySince);
    f[k('baseline_connectwise_calls_per_intake')] = round(intakeCalls.connectwise / 10, 1);
    f[k('baseline_graph_calls_per_intake')] = round(intakeCalls.graph / 10, 1);
    f[k('baseline_connectwise_calls_per_story')] = round(storyCalls.connectwise / 3, 1);
    f[k('baseline_graph_calls_per_story')] = round(storyCalls.graph / 3, 1);
  });
  await cpu.start();
  const baselineBurst = await step(`${kind}: baseline intake (${options.tickets} tickets at once)`, waitMs(options.tickets) + 60_000, () =>
    intakeBurst(baseline.target, baselineAsks.takeIntake(options.tickets), waitMs(options.tickets)),
  );
  const baselineIntakeCpu = await cpu.stop();
  await sleep(500); // the approval notices of the last tickets
  const baselineBefore = { ...baseline.counters };
  await cpu.start();
  const baselineStories = await step(`${kind}: baseline full stories (${options.stories})`, waitMs(options.stories) + 60_000, () =>
    fullStories(baseline.target, baselineAsks.takeStories(options.stories), options.inFlight, waitMs(options.stories)),
  );
  const baselineStoryCpu = await cpu.stop();
  f[k('baseline_cpu_ms_per_intake')] = round(baselineIntakeCpu.deskhandMs / options.tickets, 1);
  f[k('baseline_db_cpu_ms_per_intake')] = baselineIntakeCpu.dbMs === null ? null : round(baselineIntakeCpu.dbMs / options.tickets, 1);
  f[k('baseline_cpu_ms_per_request')] = round(baselineStoryCpu.deskhandMs / options.stories, 1);
  f[k('baseline_db_cpu_ms_per_request')] = baselineStoryCpu.dbMs === null ? null : round(baselineStoryCpu.dbMs / options.stories, 1);
  f[k('baseline_db_statements_per_request')] = round((baseline.counters.statements - baselineBefore.statements) / options.stories, 1);
  f[k('baseline_db_transactions_per_request')] = round((baseline.counters.transactions - baselineBefore.transactions) / options.stories, 1);

  // More rounds, engine and baseline alternating, so that a burst of other work on the machine does
  // not decide the ratios: throughputs are the best of the rounds.
  const runs = { intake: [burst.rps], baselineIntake: [baselineBurst.rps], story: [stories.rps], baselineStory: [baselineStories.rps] };
  for (let r = 2; r <= options.rounds; r++) {
    await waitIdle(pool, waitMs(options.tickets));
    const e1 = await step(`${kind}: intake at full speed, round ${r}`, waitMs(options.tickets) + 60_000, () =>
      intakeBurst(engine, asks.takeIntake(options.tickets), waitMs(options.tickets)),
    );
    runs.intake.push(e1.rps);
    await waitIdle(pool, waitMs(options.tickets));
    const b1 = await step(`${kind}: baseline intake, round ${r}`, waitMs(options.tickets) + 60_000, () =>
      intakeBurst(baseline.target, baselineAsks.takeIntake(options.tickets), waitMs(options.tickets)),
    );
    runs.baselineIntake.push(b1.rps);
    await sleep(500);
    const e2 = await step(`${kind}: full stories in process, round ${r}`, waitMs(options.stories) + 60_000, () =>
      fullStories(engine, asks.takeStories(options.stories), options.inFlight, waitMs(options.stories)),
    );
    runs.story.push(e2.rps);
    const b2 = await step(`${kind}: baseline full stories, round ${r}`, waitMs(options.stories) + 60_000, () =>
      fullStories(baseline.target, baselineAsks.takeStories(options.stories), options.inFlight, waitMs(options.stories)),
    );
    runs.baselineStory.push(b2.rps);
  }
  const best = (values: number[]) => Math.max(...values);
  const list = (values: number[], digits: number) => values.map((v) => round(v, digits)).join(', ');
  f[k('intake_rps')] = round(best(runs.intake));
  f[k('full_story_rps')] = round(best(runs.story), 2);
  f[k('intake_baseline_rps')] = round(best(runs.baselineIntake));
  f[k('intake_engine_over_baseline')] = round(best(runs.intake) / best(runs.baselineIntake), 3);
  f[k('full_story_baseline_rps')] = round(best(runs.baselineStory), 2);
  f[k('full_story_engine_over_baseline')] = round(best(runs.story) / best(runs.baselineStory), 3);
  progress(
    `rounds (best counts): intake engine ${list(runs.intake, 1)} vs baseline ${list(runs.baselineIntake, 1)} requests/s; full stories engine ${list(runs.story, 2)} vs baseline ${list(runs.baselineStory, 2)} requests/s`,
  );
  progress(`engine/baseline: ${f[k('intake_engine_over_baseline')]} (intake), ${f[k('full_story_engine_over_baseline')]} (full story)`);
  await stopBaseline();

  // --- separate worker processes; this process runs the API and webhooks only ----------------------
  await stopWatcher();
  await closeSandbox();
  sandbox = await step(`${kind}: restart deskhand as API and webhooks only`, 120_000, () =>
    startSandbox({ databaseUrl: database.url, logger: serviceLogger(), world, emulators, secretKey, worker: false }),
  );
  closeSandbox = cleanup.add('the API-only service', () => sandbox.close());
  const api = await step(`${kind}: sign in the technicians again`, 60_000, () => engineTarget({ sandbox, emulators, world, pool }));
  const stopApiWatcher = cleanup.add('the watcher', () => api.watcher.stop());
  if (!options.skipWorkers) {
    const env = { ...database.workerEnv, DESKHAND_SECRET_KEY: secretKey.toString('hex'), DESKHAND_PUBLIC_URL: sandbox.service.url };
    for (const count of options.workers) {
      const workers = await step(`${kind}: start ${count} worker process(es)`, 120_000, () =>
        startWorkers({ count, concurrency: options.concurrency, env, cleanup }),
      );
      try {
        await step(`${kind}: warm-up of ${count} worker(s)`, waitMs(count * 2), () => fullStories(api, asks.takeStories(count * 2), count * 2, waitMs(count * 2)));
        const workerSampler = new MemorySampler(() => workers.pids(), () => database.serverPids());
        const workerCpu = new CpuMeter(() => workers.pids(), () => database.serverPids());
        workerSampler.start();
        await workerCpu.start();
        const workersSince = new Date();
        const result = await step(`${kind}: full stories with ${count} worker process(es)`, waitMs(options.stories) + 60_000, () =>
          fullStories(api, asks.takeStories(options.stories), options.inFlight, waitMs(options.stories)),
        ).catch((error: Error) => {
          throw new Error(`${error.message}\nlast log lines of the workers:\n${workers.processes.map((p) => p.tail()).join('\n')}`);
        });
        const used = await workerCpu.stop();
        const peaks = await workerSampler.stop();
        f[k(`workers_${count}_rps`)] = round(result.rps, 2);
        f[k(`workers_${count}_cpu_ms_per_request`)] = round(used.deskhandMs / options.stories, 1);
        f[k(`workers_${count}_db_cpu_ms_per_request`)] = used.dbMs === null ? null : round(used.dbMs / options.stories, 1);
        f[k(`rss_mb_workers_${count}`)] = Math.round(peaks.deskhandRssMb);
        progress(
          `${count} worker process(es): ${f[k(`workers_${count}_rps`)]} requests/s; CPU per request ${f[k(`workers_${count}_cpu_ms_per_request`)]} ms deskhand + ${f[k(`workers_${count}_db_cpu_ms_per_request`)] ?? '?'} ms database; bench + workers ${f[k(`rss_mb_workers_${count}`)]} MB resident`,
        );
        await warn(workersSince);
      } finally {
        await workers.stop();
      }
    }
  }
  const one = f[k('workers_1_rps')];
  const four = f[k('workers_4_rps')];
  f[k('workers_4_over_1')] = typeof one === 'number' && typeof four === 'number' ? round(four / one, 2) : null;

  // --- the expiry sweep, with no worker running ------------------------------------------------------
  await waitIdle(pool, 60_000).catch(() => {});
  const errored = await pool.query<{ n: string }>('SELECT count(*) AS n FROM requests WHERE last_error IS NOT NULL');
  f[k('requests_with_errors')] = Number(errored.rows[0]!.n);
  const expiry = await step(`${kind}: ${options.approvals} approvals expiring at once`, 15 * 60_000, () =>
    measureExpiry({ pool, ctx: sandbox.service.ctx, counters: sandbox.service.store.counters, count: options.approvals }),
  );
  f[k('expiry_sweep_ms')] = Math.round(expiry.sweepMs);
  f[k('expiry_sweep_10k_ms')] = options.approvals === 10_000 ? Math.round(expiry.sweepMs) : null;
  f[k('expiry_approvals_per_s')] = Math.round(expiry.approvals / (expiry.sweepMs / 1000));
  f[k('expiry_seed_ms')] = Math.round(expiry.seedMs);
  f[k('expiry_db_statements_per_approval')] = round(expiry.statements / expiry.approvals, 2);
  progress(`expiry: ${expiry.approvals} approvals expired and ${expiry.repliesQueued} replies queued in ${f[k('expiry_sweep_ms')]} ms (seeded in ${f[k('expiry_seed_ms')]} ms)`);

  await stopApiWatcher();
  await closeSandbox();
  await stopEmulators();
  await endPool();
  return f;
}

/**
 * What went wrong underneath a phase without failing it: requests that hit an error and were
 * retried, messages that needed more than one delivery attempt. Printed when not zero.
 */
async function trouble(pool: pg.Pool, since: Date): Promise<string | null> {
  const { rows } = await pool.query<{ errored: string; retried_messages: string; sample: string | null }>(
    `SELECT (SELECT count(*) FROM requests WHERE created_at >= $1 AND last_error IS NOT NULL) AS errored,
            (SELECT count(*) FROM outbox WHERE created_at >= $1 AND attempts > 1) AS retried_messages,
            (SELECT string_agg(DISTINCT left(last_error, 160), ' | ') FROM (SELECT last_error FROM requests WHERE created_at >= $1 AND last_error IS NOT NULL LIMIT 50) e) AS sample`,
    [since],
  );
  const row = rows[0]!;
  if (row.errored === '0' && row.retried_messages === '0') return null;
  return `${row.errored} requests hit an error (retried or failed), ${row.retried_messages} messages needed more than one attempt${row.sample ? `; e.g. ${row.sample}` : ''}`;
}

/** Wait until no request is still on its way to its note (earlier load must not leak into the next measurement). */
async function waitIdle(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ busy: string }>(
      `SELECT (SELECT count(*) FROM requests WHERE state IN ('received', 'diagnosing', 'noted', 'executing'))
            + (SELECT count(*) FROM outbox WHERE status = 'pending' AND request_id IS NOT NULL
                 AND request_id NOT IN (SELECT id FROM requests WHERE external_ref LIKE 'bench-expiry-%')) AS busy`,
    );
    if (Number(rows[0]!.busy) === 0) return;
    if (Date.now() > deadline) throw new Error(`the engine still had ${rows[0]!.busy} requests or messages in progress after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

const ROWS: [string, string][] = [
  ['intake_rps', 'intake at full speed, requests/s'],
  ['intake_burst_p95_ms', '  … p95 ticket → note under that burst, ms'],
  ['intake_p50_ms', 'intake at steady load: p50 ticket → note, ms'],
  ['intake_p95_ms', '  … p95, ms'],
  ['intake_p99_ms', '  … p99, ms'],
  ['intake_steady_offered_rps', '  … offered load, tickets/s'],
  ['intake_steady_completed_rps', '  … completed, requests/s'],
  ['intake_baseline_rps', 'baseline intake, requests/s'],
  ['intake_engine_over_baseline', 'intake engine / baseline'],
  ['full_story_rps', 'full stories, requests/s'],
  ['full_story_p50_ms', '  … p50 story (ticket → reply), ms'],
  ['full_story_baseline_rps', 'baseline full stories, requests/s'],
  ['full_story_engine_over_baseline', 'full story engine / baseline'],
  ['db_statements_per_request', 'statements per full story'],
  ['db_transactions_per_request', 'transactions per full story'],
  ['baseline_db_statements_per_request', '  … baseline statements'],
  ['db_statements_per_intake', 'statements per intake ticket'],
  ['graph_calls_per_story', 'Graph calls per story (engine)'],
  ['baseline_graph_calls_per_story', '  … baseline'],
  ['connectwise_calls_per_story', 'ConnectWise calls per story (engine)'],
  ['baseline_connectwise_calls_per_story', '  … baseline'],
  ['cpu_ms_per_request', 'CPU per full story: bench process, ms'],
  ['db_cpu_ms_per_request', '  … database, ms'],
  ['baseline_cpu_ms_per_request', 'CPU per baseline story: bench process, ms'],
  ['baseline_db_cpu_ms_per_request', '  … database, ms'],
  ['cpu_ms_per_intake', 'CPU per intake ticket: bench process, ms'],
  ['baseline_cpu_ms_per_intake', '  … baseline, ms'],
  ['workers_1_rps', '1 worker process, requests/s'],
  ['workers_2_rps', '2 worker processes, requests/s'],
  ['workers_4_rps', '4 worker processes, requests/s'],
  ['workers_4_over_1', 'workers 4 / 1'],
  ['workers_1_cpu_ms_per_request', 'CPU per story, bench + 1 worker, ms'],
  ['workers_4_cpu_ms_per_request', 'CPU per story, bench + 4 workers, ms'],
  ['workers_1_db_cpu_ms_per_request', 'database CPU per story, 1 worker, ms'],
  ['workers_4_db_cpu_ms_per_request', 'database CPU per story, 4 workers, ms'],
  ['expiry_sweep_10k_ms', 'expiry sweep of 10,000, ms'],
  ['expiry_sweep_ms', 'expiry sweep, ms'],
  ['expiry_approvals_per_s', '  … approvals/s'],
  ['rss_mb', 'bench process RSS (service + emulators), MB'],
  ['rss_mb_workers_4', 'bench + 4 workers RSS, MB'],
  ['db_rss_mb', 'database RSS (sum), MB'],
  ['db_pss_mb', 'database PSS (sum), MB'],
  ['bench_seconds', 'time of this part, s'],
];

function table(figures: Figures, kinds: DatabaseKind[]): string {
  const width = Math.max(...ROWS.map(([, label]) => label.length));
  const lines = [`${''.padEnd(width)}  ${kinds.map((kd) => kd.padStart(10)).join('  ')}`];
  for (const [key, label] of ROWS) {
    const values = kinds.map((kd) => figures[`${key}_${kd}`]);
    if (values.every((v) => v === undefined)) continue;
    lines.push(`${label.padEnd(width)}  ${values.map((v) => (v === null || v === undefined ? '—' : String(v)).padStart(10)).join('  ')}`);
  }
  return lines.join('\n');
}

/** The required keys as null, for a database that could not be measured. */
function nullFigures(kind: DatabaseKind): Figures {
  const keys = [
    'intake_rps',
    'intake_p50_ms',
    'intake_p95_ms',
    'intake_p99_ms',
    'full_story_rps',
    'full_story_engine_over_baseline',
    'intake_engine_over_baseline',
    'workers_4_over_1',
    'expiry_sweep_10k_ms',
    'rss_mb',
    'db_rss_mb',
    'db_statements_per_request',
    'db_transactions_per_request',
  ];
  return Object.fromEntries(keys.map((key) => [`${key}_${kind}`, null]));
}


/** The measured service logs nothing unless DESKHAND_LOG_LEVEL asks (to find why a run failed). */
function serviceLogger() {
  return process.env['DESKHAND_LOG_LEVEL'] ? createLogger({ name: 'deskhand-bench-service' }) : silentLogger;
}
