import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDb } from '../src/store/db.ts';
import { issueApiToken } from '../src/store/users.ts';
import { FaultInjector } from './support/chaos-faults.ts';
import { http, isAlive, type Proc, Processes, processActivity, prng, processesIn, startDeskhand, startEmulatorsProcess } from './support/chaos-processes.ts';
import {
  allSettled,
  Approver,
  CHAOS_TICKETS,
  checkTemporaryPasswords,
  describeUnfinished,
  FINAL_STATES,
  forensics,
  linkRequests,
  openTicket,
  type Placed,
  PSA_TECHNICIANS,
  SECOND_TECHNICIAN,
  TAILSPIN_ADMIN,
  TECHNICIAN,
  type TicketSpec,
  verifyChaos,
  waitForRequests,
} from './support/chaos-world.ts';
import { createTestDatabase } from './support/db.ts';
import { cpuTicks, StallError, waitForProgress } from './support/progress.ts';

/**
 * Chaos: the real `deskhand start` and `deskhand worker` processes, SIGKILLed at random moments
 * (most aimed at a process whose write is in flight) and restarted, while the emulators (in a
 * process of their own that is never killed) answer with 429s, 500s, lost answers after the write
 * took effect, dropped connections and slow answers, and people decide through an API that comes
 * and goes (some decisions sent twice at once). Whatever happens, every request must end as its kind
 * says, every change must happen exactly once, every note and manager mail must be sent exactly
 * once, no approval may be decided twice, every temporary password must still be shown once to its
 * technician, and every audit chain must verify. Then the embedded default (first pass only): start
 * SIGKILLed alone and with its process group while calls are in flight, recovering each time.
 *
 * The randomness is seeded (`CHAOS_SEED=<n>` replays a schedule; the seed is printed either way).
 *
 * Its deadlines come from progress, not from the wall clock (CI shares its cores, and a busy machine
 * only makes everything slower): a wait fails when no request has moved (state, step, message,
 * decision) for `TEST_STALL_MS` (45 s by default) while nothing was scheduled to happen, and says
 * which request stood still where. The test's own time limit is only a backstop.
 */
const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');
const LEASE_MS = 1_500;
/** The longest slow answer injected: stray calls of killed processes have landed once this has passed. */
const MAX_DELAY_MS = 3_000;
const seed = Number(process.env['CHAOS_SEED']) || Math.floor(Math.random() * 2 ** 31);
const onServer = !!process.env['DATABASE_URL'];
/** A backstop only: every wait inside fails sooner, with its reason, when nothing moves. */
const BACKSTOP_MS = 30 * 60_000;

const procs = new Processes();
const roots: string[] = [];
const handles: DbHandle[] = [];

function makeRoot(name: string): string {
  // PostgreSQL runs as the `postgres` user when the tests run as root: the folder must be enterable by it.
  const root = mkdtempSync(path.join(tmpdir(), `deskhand-chaos-${name}-`));
  chmodSync(root, 0o755);
  roots.push(root);
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  return dataDir;
}

function baseEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DESKHAND_DATA_DIR: dataDir,
    PORT: '0',
    DESKHAND_SECRET_KEY: SECRET_KEY,
    DESKHAND_LEASE_MS: String(LEASE_MS),
    DESKHAND_LOG_LEVEL: 'info',
  };
  delete env['DATABASE_URL'];
  delete env['DESKHAND_PUBLIC_URL'];
  delete env['HOST'];
  return env;
}

function track(handle: DbHandle): DbHandle {
  handles.push(handle);
  return handle;
}

afterAll(async () => {
  for (const handle of handles) await handle.close().catch(() => {});
  await procs.killAll(roots);
  for (const root of roots) rmSync(root, { recursive: true, force: true });
}, 60_000);

function procLogs(): { name: string; lines: string[] }[] {
  return procs.all.map((p) => ({ name: p.name, lines: p.stderr }));
}

/** Everything known about a failed run, for the error message. */
async function report(what: string, db: DbHandle['db'] | null, placed: Placed[], approver: Approver | null, extra: string[] = []): Promise<string> {
  const unfinished = db ? await describeUnfinished(db, placed).catch((error: Error) => `(could not read the database: ${error.message})`) : '(no database)';
  return [
    `${what} (CHAOS_SEED=${seed})`,
    ...extra,
    'unfinished or wrong requests:',
    unfinished || '  (none)',
    'approver:',
    ...(approver?.log.slice(-15) ?? []),
    'processes (last lines of standard error):',
    procs.tails(),
  ].join('\n');
}

// The two scenarios share nothing (their own emulators, folders and databases) and mostly wait on
// timers: side by side they take the time of the longer one.
describe.concurrent('chaos', () => {
  it('workers, the API and the emulators misbehave; every request still ends right, every effect once', async () => {
    const started = Date.now();
    const rng = prng(seed);
    const dataDir = makeRoot('workers');
    const databaseUrl = await createTestDatabase();
    // Webhooks that arrive while start is down are lost: the workers' poll for missed tickets takes them in.
    const env = { ...baseEnv(dataDir), DATABASE_URL: databaseUrl, DESKHAND_INTAKE_POLL_MS: '2000' };
    const emulators = await startEmulatorsProcess(procs, path.join(dataDir, 'emulators.json'), baseEnv(dataDir));
    let start: Proc;
    let base: string | null;
    ({ proc: start, base } = await startDeskhand(procs, env));
    const handle = track(openDb({ url: databaseUrl, maxConnections: 4 }));
    const db = handle.db;
    const tokens = {
      technician: (await issueApiToken(db, { email: TECHNICIAN, name: 'chaos', at: new Date() })).token,
      second: (await issueApiToken(db, { email: SECOND_TECHNICIAN, name: 'chaos', at: new Date() })).token,
      psa: {
        halopsa: (await issueApiToken(db, { email: PSA_TECHNICIANS.halopsa, name: 'chaos', at: new Date() })).token,
        autotask: (await issueApiToken(db, { email: PSA_TECHNICIANS.autotask, name: 'chaos', at: new Date() })).token,
      },
    };
    // Adatum (Tailspin's client, on HaloPSA) runs in Plan Mode in the demo world: its admin switches it
    // to Execute Mode through the API, as an admin would, so that its request is carried out.
    const adatum = await db.selectFrom('clients').select('id').where('slug', '=', 'adatum').executeTakeFirstOrThrow();
    const adminToken = (await issueApiToken(db, { email: TAILSPIN_ADMIN, name: 'chaos', at: new Date() })).token;
    const switched = await http('PATCH', `${base}/api/clients/${adatum.id}`, { token: adminToken, body: { operatingMode: 'execute' } });
    expect(switched.status, `switching Adatum to Execute Mode: ${switched.text}`).toBe(200);
    const workers: Record<string, Proc | null> = { 'worker-a': procs.spawn('worker-a', ['worker'], env), 'worker-b': procs.spawn('worker-b', ['worker'], env) };
    // The poll for missed tickets starts from the newest ticket it first sees: let it look, on every
    // PSA, before any ticket is opened.
    const psaIntegrations = await db.selectFrom('integrations').select('id').where('kind', 'in', ['connectwise', 'halopsa', 'autotask']).execute();
    expect(psaIntegrations.length).toBe(3);
    await waitForProgress({
      what: 'the first poll for missed tickets on every PSA',
      done: async () =>
        (await db.selectFrom('settings').select('key').where('key', 'in', psaIntegrations.map((i) => `intake-cursor:${i.id}`)).execute()).length === psaIntegrations.length,
      snapshot: () => processActivity(Object.values(workers).filter((w): w is Proc => !!w)),
      explain: () => procs.tails(10),
    });
    const tenants = Object.fromEntries(
      await Promise.all(['contoso', 'adatum', 'litware'].map(async (client) => [client, await FaultInjector.tenantIds(emulators.graphControl, client)] as const)),
    );
    const faults = new FaultInjector({
      rng,
      connectwise: emulators.connectwise,
      halopsa: emulators.halopsa,
      autotask: emulators.autotask,
      graphControl: emulators.graphControl,
      tenants,
      maxDelayMs: MAX_DELAY_MS,
    });
    // A caller killed while its call waits in the emulator must not take the emulators down.
    await abortSlowCall(emulators.graphControl, '/v1.0/chaos-abort', '/_emulator/health');
    await abortSlowCall(emulators.connectwise, '/v4_6_release/apis/3.0/chaos-abort', '/_emulator/info');
    const emulatorsAlive = () => {
      if (!emulators.proc.alive()) throw new Error(`the emulators process died:\n${emulators.proc.stderr.slice(-20).join('\n')}`);
      return true;
    };
    const placed: Placed[] = [];
    const managerFirst = new Map<number, boolean>();
    const approver = new Approver({
      db: () => db,
      base: () => base,
      tokens,
      graphControl: emulators.graphControl,
      placed,
      managerFirst: (p) => p.spec.kind === 'dual_deny' || managerFirst.get(p.ticketId) === true,
      doubleClick: () => rng.chance(0.3),
    });
    const kills = { workers: 0, start: 0, aimed: 0 };
    const restarts = new Set<Promise<void>>();
    const restartErrors: Error[] = [];
    let chaosEnded = 0;
    let stopApprover = false;

    try {
      // Tickets are opened through the ConnectWise API while the chaos has begun.
      const order = [...CHAOS_TICKETS];
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const creating = (async () => {
        for (const spec of order) {
          const ticketId = await openTicket(emulators, spec);
          managerFirst.set(ticketId, rng.chance(0.5));
          const p: Placed = { spec, ticketId, requestId: null, technicianDone: false, managerDone: false, tries: 0 };
          placed.push(p);
          // The few requests of HaloPSA and Autotask each get a fault on their PSA's notes from the start.
          if (spec.psa) await faults.injectOne([p], true);
          await sleep(rng.int(20, 120));
        }
      })();
      // Awaited below; until then a failure must not count as unhandled.
      creating.catch(() => {});
      const approving = (async () => {
        while (!stopApprover) {
          await linkRequests(db, placed).catch(() => {});
          await approver.pass().catch((error: Error) => approver.log.push(`pass failed: ${error.message}`));
          await sleep(200);
        }
      })();

      // The chaos: kills and restarts, faults; at least 15 s of it (with a kill of start), at most 25 s.
      const chaosStart = Date.now();
      let nextKill = Date.now() + rng.int(800, 2_000);
      let lastKill = 0;
      let createdAll = false;
      while (Date.now() - chaosStart < 25_000) {
        emulatorsAlive();
        createdAll ||= placed.length === CHAOS_TICKETS.length;
        if (createdAll && Date.now() - chaosStart > 15_000 && kills.start > 0) break;
        await linkRequests(db, placed);
        const linked = placed.map((p) => p.requestId).filter((id): id is string => !!id);
        const states = linked.length ? await db.selectFrom('requests').select(['id', 'state']).where('id', 'in', linked).execute() : [];
        const open = placed.filter((p) => !p.requestId || !FINAL_STATES.includes(states.find((s) => s.id === p.requestId)?.state ?? 'received'));
        if (rng.chance(0.8)) await faults.injectOne(open);
        // Most kills aim at a process in the middle of a write (a step recorded as running).
        const busy = await processesRunningSteps(db, placed);
        const aimNow = busy.length > 0 && Date.now() - lastKill > 1_000 && rng.chance(0.6);
        if (Date.now() >= nextKill || aimNow) {
          nextKill = Date.now() + rng.int(1_000, 2_500);
          lastKill = Date.now();
          const alive = Object.entries(workers).filter(([, w]) => w?.alive());
          const startBusy = busy.includes(start.pid);
          const busyWorkers = alive.filter(([, w]) => busy.includes(w!.pid));
          // Start receives the webhooks: those it misses while down come in through the poll.
          const mayKillStart = start.alive() && restarts.size === 0;
          const aimed = (aimNow || rng.chance(0.7)) && (busyWorkers.length > 0 || (startBusy && mayKillStart));
          if (aimed) kills.aimed++;
          const startDue = kills.start === 0 && Date.now() - chaosStart > 8_000;
          if (mayKillStart && (startDue || (aimed ? startBusy && (busyWorkers.length === 0 || rng.chance(0.4)) : rng.chance(0.25)))) {
            const victim = start;
            base = null;
            await procs.kill(victim);
            kills.start++;
            const restart = (async () => {
              await sleep(rng.int(200, 1_000));
              ({ proc: start, base } = await startDeskhand(procs, env));
            })();
            restarts.add(restart);
            restart.catch((error: Error) => restartErrors.push(error)).finally(() => restarts.delete(restart));
          } else if (alive.length > 0) {
            const [role, victim] = rng.pick(aimed && busyWorkers.length > 0 ? busyWorkers : alive);
            workers[role] = null;
            await procs.kill(victim!);
            kills.workers++;
            const restart = (async () => {
              await sleep(rng.int(100, 1_000));
              workers[role] = procs.spawn(role, ['worker'], env);
            })();
            restarts.add(restart);
            restart.catch((error: Error) => restartErrors.push(error)).finally(() => restarts.delete(restart));
          }
        }
        await sleep(rng.int(250, 700));
      }
      await creating;

      // Calm: no more faults (but those HaloPSA's and Autotask's requests have not met yet), the API
      // and one worker stay (the other one stops gracefully).
      await faults.clear({ keepPsas: true });
      await Promise.allSettled([...restarts]);
      if (restartErrors.length > 0) throw restartErrors[0];
      if (!start.alive()) ({ proc: start, base } = await startDeskhand(procs, env));
      if (!workers['worker-a']?.alive()) workers['worker-a'] = procs.spawn('worker-a', ['worker'], env);
      if (workers['worker-b']?.alive()) {
        await procs.kill(workers['worker-b'], { signal: 'SIGTERM' });
        workers['worker-b'] = null;
      }
      chaosEnded = Date.now();
      await waitForRequests('every approval to be decided', { db: () => db, placed, approver }, () => emulatorsAlive() && approver.done());
      stopApprover = true;
      await approving;
      await waitForRequests('every request to be final with its messages delivered', { db: () => db, placed, approver }, () => emulatorsAlive() && allSettled(db, placed), 250);
      // A killed process's slow call may still land: give it the time to, so that a duplicate shows.
      await sleep(MAX_DELAY_MS + 500);

      const problems = await verifyChaos({ db, placed, connectwise: emulators.connectwise, halopsa: emulators.halopsa, autotask: emulators.autotask, graphControl: emulators.graphControl });
      problems.push(...approver.violations);
      problems.push(...(await checkTemporaryPasswords({ db, placed, base: base!, technicianToken: tokens.technician })));
      const health = await http<{ status: string }>('GET', `${base}/healthz`);
      if (health.status !== 200 || health.body.status !== 'ok') problems.push(`/healthz answered ${health.status} ${health.text}`);
      emulatorsAlive();
      const survived = await whatTheChaosDid(db, placed);
      // Each of HaloPSA and Autotask had a failing fault armed on its request's notes: it struck.
      const { errors: psaErrors, writes } = await faults.psaErrors();
      for (const psa of ['halopsa', 'autotask'] as const) {
        if (psaErrors[psa] === 0) problems.push(`no write to the ${psa} emulator was answered with an error: the faults did not reach its request (its writes: ${writes[psa].join('; ')})`);
      }
      const summary =
        `chaos (${onServer ? 'PostgreSQL server' : 'embedded PostgreSQL'}, seed ${seed}): ${placed.length} requests, ` +
        `${kills.workers + kills.start} kills (${kills.workers} workers, ${kills.start} start; ${kills.aimed} aimed at a running step), ${faults.injected} faults injected (${faults.summary()}), ` +
        `PSA writes answered with an error: ${Object.entries(psaErrors).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
        `${approver.decisions} decisions (${approver.doubleClicks} sent twice at once, ${approver.retries} retried; manager links to ${[...approver.linkOrigins].join(' ')}), ${survived}, ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `(chaos ${((chaosEnded - chaosStart) / 1000).toFixed(1)} s, settling ${((Date.now() - chaosEnded) / 1000).toFixed(1)} s)`;
      console.log(summary);
      if (problems.length > 0) {
        const details = await forensics({
          db,
          placed,
          problems,
          connectwise: emulators.connectwise,
          halopsa: emulators.halopsa,
          autotask: emulators.autotask,
          graphControl: emulators.graphControl,
          logs: procLogs(),
        });
        throw new Error(await report(`the chaos broke something:\n  ${problems.join('\n  ')}\n${summary}`, db, placed, approver, [details]));
      }
      expect(problems).toEqual([]);
      expect(kills.workers + kills.start).toBeGreaterThan(3);
    } catch (error) {
      if ((error as Error).message.includes('CHAOS_SEED=')) throw error;
      // A stall already says which request stood still where: its message leads the report.
      const what = error instanceof StallError ? `chaos run stalled: ${error.message}` : `chaos run failed: ${(error as Error).stack ?? error}`;
      throw new Error(await report(what, db, placed, approver, [`kills ${JSON.stringify(kills)}, faults ${faults.summary()}`]));
    } finally {
      stopApprover = true;
      await faults.clear().catch(() => {});
    }
  }, BACKSTOP_MS);

  it.skipIf(onServer)('the embedded PostgreSQL default survives SIGKILL of start, then of its whole process group', async () => {
    const started = Date.now();
    const rng = prng(seed + 1);
    const dataDir = makeRoot('embedded');
    const env = baseEnv(dataDir);
    const emulators = await startEmulatorsProcess(procs, path.join(dataDir, 'emulators.json'), env);
    let start: Proc;
    let base: string | null;
    ({ proc: start, base } = await startDeskhand(procs, env));
    expect(start.stdout.join('\n')).toContain(`database: embedded PostgreSQL in ${dataDir}/pg`);
    let handle = track(openEmbeddedDb(dataDir));
    const tokens = {
      technician: (await issueApiToken(handle.db, { email: TECHNICIAN, name: 'chaos', at: new Date() })).token,
      second: (await issueApiToken(handle.db, { email: SECOND_TECHNICIAN, name: 'chaos', at: new Date() })).token,
    };
    const tenant = await FaultInjector.tenantIds(emulators.graphControl, 'contoso');
    const faults = new FaultInjector({ rng, connectwise: emulators.connectwise, graphControl: emulators.graphControl, tenants: { contoso: tenant } });
    const pick = (kind: string, requester: string): TicketSpec => CHAOS_TICKETS.find((t) => t.kind === kind && t.requester.startsWith(requester))!;
    const specs = {
      approveNow: pick('approve', 'alex.wilber'),
      approveLater: pick('approve', 'megan.bowen'),
      revokeA: pick('auto', 'patti.fernandez'),
      revokeB: pick('auto', 'miriam.graham'),
      dual: pick('dual', 'joni.sherman'),
      deny: pick('deny', 'debra.berger'),
    };
    const placed: Placed[] = [];
    const byKey = new Map<string, Placed>();
    const approver = (subset: Placed[]) =>
      new Approver({ db: () => handle.db, base: () => base, tokens, graphControl: emulators.graphControl, placed: subset, managerFirst: () => true });
    const slowWrite = async (spec: TicketSpec, delayMs: number) => {
      const write = faults.graphWrite({ spec, ticketId: 0, requestId: null, technicianDone: false, managerDone: false, tries: 0 })!;
      const answer = await http('POST', `${emulators.graphControl}/_emulator/faults`, { body: { ...write, count: 1, delayMs } });
      expect(answer.status).toBe(201);
    };
    const stepsRunning = async (keys: string[]) => {
      const ids = keys.map((k) => byKey.get(k)?.requestId).filter((id): id is string => !!id);
      if (ids.length < keys.length) return false;
      const rows = await handle.db.selectFrom('step_executions').select(['request_id', 'status']).where('request_id', 'in', ids).execute();
      return ids.every((id) => rows.some((r) => r.request_id === id && r.status === 'running'));
    };

    try {
      const open = async (...keys: (keyof typeof specs)[]) => {
        for (const key of keys) {
          const spec = specs[key];
          const ticketId = await openTicket(emulators, spec);
          const p: Placed = { spec, ticketId, requestId: null, technicianDone: false, managerDone: false, tries: 0 };
          placed.push(p);
          byKey.set(key, p);
        }
      };
      const decide = async (...keys: (keyof typeof specs)[]) => {
        const some = approver(keys.map((k) => byKey.get(k)!));
        await waitForRequests(`${keys.join(', ')} to be decided`, { db: () => handle.db, placed, approver: some }, async () => {
          await linkRequests(handle.db, placed);
          await some.pass();
          return some.done();
        });
      };

      // 1. Two sign-outs whose revocations answer slowly, a reply that answers slowly, approvals
      //    waiting; SIGKILL the start process alone: its PostgreSQL is orphaned, the calls in flight land.
      const outboxRow = async (key: string, purpose: string) => {
        const id = byKey.get(key)?.requestId;
        return id ? handle.db.selectFrom('outbox').select(['lease_until', 'status']).where('idempotency_key', '=', `${id}:${purpose}`).executeTakeFirst() : undefined;
      };
      await open('deny', 'approveNow', 'approveLater', 'dual');
      await waitForRequests('the denial to be asked for', { db: () => handle.db, placed }, async () => {
        await linkRequests(handle.db, placed);
        return (await outboxRow('deny', 'approval-notice'))?.status === 'delivered';
      }, 50);
      const denyTicket = byKey.get('deny')!.ticketId;
      // The denial posts two notes on its ticket at once, the decision note (internal) and the reply: both answer slowly.
      expect((await http('POST', `${emulators.connectwise}/_emulator/faults`, { body: { delayMs: 12_000, count: 2, method: 'POST', pathContains: `/service/tickets/${denyTicket}/notes` } })).status).toBe(201);
      await slowWrite(specs.revokeA, 10_000);
      await slowWrite(specs.revokeB, 10_000);
      await open('revokeA', 'revokeB');
      await decide('deny');
      await waitForRequests('the revocations and the reply to be on their way', { db: () => handle.db, placed }, async () => {
        await linkRequests(handle.db, placed);
        const reply = await outboxRow('deny', 'reply');
        return reply?.status === 'pending' && reply.lease_until !== null && (await stepsRunning(['revokeA', 'revokeB']));
      }, 50);
      await sleep(300);
      const orphan = postmasterPid(dataDir);
      await procs.kill(start);
      expect(isAlive(orphan)).toBe(true);
      base = null;
      await handle.close().catch(() => {});
      ({ proc: start, base } = await startDeskhand(procs, env));
      expect(isAlive(orphan)).toBe(false);
      handle = track(openEmbeddedDb(dataDir));

      // 2. A password reset and a member add approved and answering slowly; SIGKILL the whole process
      //    group (start and its PostgreSQL) in the middle of them.
      await slowWrite(specs.approveNow, 8_000);
      await slowWrite(specs.dual, 8_000);
      await decide('approveNow', 'dual');
      await waitForRequests('the approved steps to be running', { db: () => handle.db, placed }, () => stepsRunning(['approveNow', 'dual']), 50);
      // The intent is recorded just before the call: give the calls the moment they need to reach Graph.
      await sleep(500);
      const postmaster = postmasterPid(dataDir);
      await procs.kill(start, { group: true });
      await waitForProgress({ what: 'the killed group to be gone', done: () => !isAlive(postmaster), snapshot: () => folderProcesses(dataDir), intervalMs: 50 });
      base = null;
      await handle.close().catch(() => {});
      ({ proc: start, base } = await startDeskhand(procs, env));
      handle = track(openEmbeddedDb(dataDir));

      // 3. The remaining decision, then everything settles.
      await decide('approveLater');
      await waitForRequests('every request to be final with its messages delivered', { db: () => handle.db, placed }, () => allSettled(handle.db, placed), 250);
      // The slowest call of a killed process lands 12 s after it was sent: by now it has.
      await sleep(1_000);
      const problems = await verifyChaos({ db: handle.db, placed, connectwise: emulators.connectwise, graphControl: emulators.graphControl });
      problems.push(...(await checkTemporaryPasswords({ db: handle.db, placed, base: base!, technicianToken: tokens.technician })));
      const health = await http<{ status: string }>('GET', `${base}/healthz`);
      if (health.status !== 200 || health.body.status !== 'ok') problems.push(`/healthz answered ${health.status} ${health.text}`);
      // The calls in flight when start was killed landed; the engine found them instead of repeating them.
      for (const key of ['revokeA', 'revokeB', 'approveNow', 'dual'] as const) {
        const id = byKey.get(key)!.requestId!;
        const reconciled = await handle.db.selectFrom('audit_log').select('seq').where('request_id', '=', id).where('event', '=', 'step.reconciled').execute();
        if (reconciled.length !== 1) problems.push(`${key}: the interrupted step was reconciled ${reconciled.length} times, expected once (request ${id})`);
      }
      const slowReply = await handle.db.selectFrom('outbox').select('result').where('idempotency_key', '=', `${byKey.get('deny')!.requestId}:reply`).executeTakeFirst();
      if ((slowReply?.result as { reconciled?: boolean } | null)?.reconciled !== true) problems.push(`the reply in flight when start was killed was not found on the ticket: ${JSON.stringify(slowReply)}`);
      console.log(
        `chaos (embedded default, seed ${seed}): ${placed.length} requests, start SIGKILLed alone then with its process group, ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      if (problems.length > 0) {
        const details = await forensics({ db: handle.db, placed, problems, connectwise: emulators.connectwise, graphControl: emulators.graphControl, logs: procLogs() });
        throw new Error(await report(`the restarts broke something:\n  ${problems.join('\n  ')}`, handle.db, placed, null, [details]));
      }
      expect(problems).toEqual([]);
      // A clean stop leaves nothing running in the folder.
      await procs.kill(start, { signal: 'SIGTERM' });
      await waitForProgress({
        what: 'the embedded PostgreSQL to stop with start',
        done: () => processesIn(dataDir).length === 0,
        snapshot: () => folderProcesses(dataDir),
        explain: () => `still running in ${dataDir}: ${JSON.stringify(processesIn(dataDir))}`,
      });
    } catch (error) {
      if ((error as Error).message.includes('CHAOS_SEED=')) throw error;
      const what = error instanceof StallError ? `embedded run stalled: ${error.message}` : `embedded run failed: ${(error as Error).stack ?? error}`;
      throw new Error(await report(what, handle.db, placed, null));
    }
  }, BACKSTOP_MS);
});

/** The pids of the processes holding a request whose step is running (the lease owner is `worker-<pid>-…`). */
async function processesRunningSteps(db: DbHandle['db'], placed: Placed[]): Promise<number[]> {
  const ids = placed.map((p) => p.requestId).filter((id): id is string => !!id);
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('step_executions')
    .innerJoin('requests', 'requests.id', 'step_executions.request_id')
    .select('requests.lease_owner')
    .where('step_executions.status', '=', 'running')
    .where('requests.id', 'in', ids)
    .where('requests.lease_owner', 'is not', null)
    .execute();
  return rows.map((r) => Number(/^worker-(\d+)-/.exec(r.lease_owner ?? '')?.[1] ?? 0)).filter((pid) => pid > 0);
}

/** What the engine had to recover from: repeated steps and messages, reconciled effects, deadlocks in the logs. */
async function whatTheChaosDid(db: DbHandle['db'], placed: Placed[]): Promise<string> {
  const ids = placed.map((p) => p.requestId).filter((id): id is string => !!id);
  const steps = await db.selectFrom('step_executions').select(['attempts']).where('request_id', 'in', ids).execute();
  const messages = await db.selectFrom('outbox').select(['attempts', 'result']).where('request_id', 'in', ids).execute();
  const reconciled = await db.selectFrom('audit_log').select('seq').where('request_id', 'in', ids).where('event', '=', 'step.reconciled').execute();
  const deadlocks = procs.all.reduce((n, p) => n + p.stderr.filter((l) => l.includes('deadlock detected')).length, 0);
  const polled = await db.selectFrom('audit_log').select('seq').where('request_id', 'in', ids).where('event', '=', 'request.received').where('actor', 'like', 'poll:%').execute();
  return (
    `${polled.length} tickets taken in by the poll (webhook missed), ` +
    `${steps.filter((s) => s.attempts > 1).length}/${steps.length} steps retried (${reconciled.length} reconciled), ` +
    `${messages.filter((m) => m.attempts > 1).length}/${messages.length} messages retried ` +
    `(${messages.filter((m) => (m.result as { reconciled?: boolean } | null)?.reconciled).length} found already sent), ${deadlocks} deadlocks logged`
  );
}

/** Send half a call to an emulator (into a slow-answer fault), hang up, and check it still answers. */
async function abortSlowCall(emulatorBase: string, callPath: string, healthPath: string): Promise<void> {
  const added = await http('POST', `${emulatorBase}/_emulator/faults`, { body: { delayMs: 200, count: 1, pathContains: '/chaos-abort' } });
  expect(added.status).toBe(201);
  const url = new URL(emulatorBase);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`POST ${callPath} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"half":`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 50);
    });
    socket.on('error', reject);
  });
  await sleep(400);
  await http('DELETE', `${emulatorBase}/_emulator/faults`);
  const health = await http('GET', `${emulatorBase}${healthPath}`);
  expect(health.status, `the emulator at ${emulatorBase} stopped answering after a caller hung up`).toBe(200);
}

/** The processes still running in a folder, with their CPU time: a stop that is getting on moves. */
function folderProcesses(dataDir: string) {
  return { marks: new Map(processesIn(dataDir).map((p) => [String(p.pid), String(cpuTicks(p.pid))])) };
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** The embedded server that `deskhand start` supervises, by its lock file and password file. */
function openEmbeddedDb(dataDir: string): DbHandle {
  const lock = JSON.parse(readFileSync(path.join(dataDir, 'supervisor.lock'), 'utf8')) as { port: number };
  const password = readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
  const handle = openDb({ url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${lock.port}/deskhand`, maxConnections: 3 });
  return handle;
}
