import { spawn } from 'node:child_process';
import { closeSync, existsSync, promises as fs, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readConfig } from '../config.ts';
import { startEmulators } from '../integrations/emulators.ts';
import { createLogger, type Logger } from '../logger.ts';
import { loadDemoWorld } from '../world/fixture.ts';
import { EMULATOR_ENDPOINT_KEYS, type EmulatorEndpoints, openEmulatedTicket } from '../integrations/emulators.ts';

interface EmulatorState extends EmulatorEndpoints {
  pid: number;
  /**
   * The `deskhand start` that owns these emulators: it stops them when it stops. Absent when they
   * were started by hand (`deskhand emulators`), which nothing but their own Ctrl-C stops.
   */
  owner?: number;
}

/** Set by `deskhand start` on the emulators it launches: its own pid. */
const OWNER_ENV = 'DESKHAND_EMULATORS_OWNER';

/** `deskhand emulators`: runs until stopped; writes its addresses to the state file. */
export async function runEmulators(options: { stateFile?: string; host: string; latency?: boolean }): Promise<void> {
  const logger = createLogger({ name: 'emulators' });
  const running = await startEmulators({ world: loadDemoWorld(), host: options.host, realisticLatency: options.latency === true });
  const owner = Number(process.env[OWNER_ENV]);
  const state: EmulatorState = { pid: process.pid, ...running.endpoints, ...(Number.isInteger(owner) && owner > 0 ? { owner } : {}) };
  if (options.stateFile) await writeState(options.stateFile, state);
  logger.info(running.endpoints, 'emulators listening');
  process.stdout.write(`${JSON.stringify(running.endpoints)}\n`);
  const stop = async () => {
    await running.close();
    if (options.stateFile) await fs.rm(options.stateFile, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export function emulatorStateFile(dataDir: string): string {
  return path.join(dataDir, 'emulators.json');
}

/** Written whole (renamed into place), readable by deskhand's user alone like everything in the data folder. */
async function writeState(file: string, state: EmulatorState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
  await fs.rename(tmp, file);
}

function readState(file: string): EmulatorState | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as EmulatorState;
  } catch {
    return null;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

/** The emulators `deskhand start` uses; `owned` when this process stops them when it stops. */
export interface UsedEmulators {
  endpoints: EmulatorEndpoints;
  pid: number;
  owned: boolean;
}

/**
 * The emulators run in a process of their own so that the service can restart without losing their
 * state: reuse the one that is running for this data folder, or start one. Whoever starts the
 * service owns what it launched, and what a start that died had launched (it takes them over): it
 * stops them when it stops. Emulators started by hand, or owned by another running start, are left
 * to whoever runs them, and the log says so.
 */
export async function ensureEmulators(dataDir: string, logger: Logger): Promise<UsedEmulators> {
  const file = emulatorStateFile(dataDir);
  const existing = readState(file);
  if (existing && isAlive(existing.pid) && (await everyEmulatorAnswers(existing))) {
    if (existing.owner === undefined) {
      logger.info({ pid: existing.pid }, `reusing the emulators started by hand (pid ${existing.pid}): deskhand leaves them running when it stops`);
      return { endpoints: existing, pid: existing.pid, owned: false };
    }
    if (existing.owner !== process.pid && isDeskhandStart(existing.owner)) {
      logger.info({ pid: existing.pid, owner: existing.owner }, `reusing the emulators (pid ${existing.pid}) of the deskhand start that is running (pid ${existing.owner}): they stop when it stops`);
      return { endpoints: existing, pid: existing.pid, owned: false };
    }
    await writeState(file, { ...existing, owner: process.pid });
    logger.info({ pid: existing.pid }, `reusing the emulators (pid ${existing.pid}) left by a deskhand start that ended: they stop when this one stops`);
    return { endpoints: existing, pid: existing.pid, owned: true };
  }
  await fs.rm(file, { force: true });
  const bin = fileURLToPath(new URL('../../bin/deskhand.js', import.meta.url));
  const logFile = path.join(dataDir, 'emulators.log');
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [bin, 'emulators', '--state-file', file], {
    detached: true,
    stdio: ['ignore', 'ignore', log],
    env: { ...process.env, [OWNER_ENV]: String(process.pid) },
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const state = existsSync(file) ? readState(file) : null;
    if (state && state.pid === child.pid) return { endpoints: state, pid: state.pid, owned: true };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  if (child.pid && child.exitCode === null) {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {}
  }
  throw new Error(`the emulators did not start (see ${logFile})`);
}

/** A live `deskhand start` (not another process that got the pid of one that died). */
function isDeskhandStart(pid: number): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((arg) => arg.endsWith('deskhand.js') || arg.endsWith('deskhand')) && args.includes('start');
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `deskhand ticket`: an employee opens a ticket in the emulated PSA of the client's MSP (through its portal). */
export async function openTicket(clientSlug: string, email: string, text: string): Promise<void> {
  const config = readConfig();
  const state = readState(emulatorStateFile(config.dataDir));
  if (!state) throw new Error('no emulators are running for this data folder: start deskhand first (npm start)');
  const ticket = await openEmulatedTicket(loadDemoWorld(), state, { client: clientSlug, requester: email, text });
  process.stdout.write(`${JSON.stringify({ ticket, client: clientSlug, requester: email })}\n`);
}


/** Every emulator the state file names answers (each endpoint of the emulator list), and it names them all. */
async function everyEmulatorAnswers(state: EmulatorEndpoints): Promise<boolean> {
  const named = state as unknown as Record<string, unknown>;
  // Emulators started by an older deskhand may lack an endpoint of the list.
  if (EMULATOR_ENDPOINT_KEYS.some((key) => typeof named[key] !== 'string')) return false;
  const endpoints = Object.values(state as unknown as Record<string, string>).filter((url) => typeof url === 'string');
  const answered = await Promise.all(endpoints.map((url) => answers(url)));
  return answered.every(Boolean);
}

/**
 * `deskhand emulators accounts [--msp ID]`: what to type into the dashboard's *Connect a system*
 * forms to connect a new MSP to the built-in emulators (`deskhand start --no-demo`): each emulated
 * system's settings and secrets for one of the demo world's MSPs, pointing at the emulators running
 * for this data folder. These are the emulators' made-up demo accounts, printed to the terminal of
 * whoever asked; no real credential is ever printed.
 */
export async function printEmulatorAccounts(options: { msp: string; json?: boolean }): Promise<void> {
  const config = readConfig();
  const state = readState(emulatorStateFile(config.dataDir));
  if (!state) throw new Error('no emulators are running for this data folder: start deskhand first (npm start, or deskhand start --no-demo)');
  const world = loadDemoWorld();
  const msp = world.msps.find((m) => m.id === options.msp);
  if (!msp) throw new Error(`the demo world has no MSP "${options.msp}": one of ${world.msps.map((m) => m.id).join(', ')}`);
  const { emulatedSystems } = await import('../integrations/emulators.ts');
  const { internalSettingsOf } = await import('../api/integration-config-routes.ts');
  const { moduleOf } = await import('../integrations/index.ts');
  const endpoints = state as unknown as Record<string, string>;
  const accounts = emulatedSystems
    .flatMap((system) => system.demoIntegrations(world, endpoints))
    .filter((integration) => integration.msp === msp.id)
    .map((integration) => ({
      kind: integration.kind,
      name: integration.name,
      /** A client's own connection (connect it from that client's page), or null for the MSP's. */
      client: integration.client ? (world.clients.find((c) => c.id === integration.client)?.name ?? integration.client) : null,
      settings: Object.fromEntries(Object.entries(integration.settings).filter(([key]) => !internalSettingsOf(moduleOf(integration.kind)).includes(key))),
      secrets: integration.secrets,
      clientLinks: (integration.links ?? []).map((link) => ({ client: world.clients.find((c) => c.id === link.client)?.name ?? link.client, externalId: link.externalId })),
    }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ msp: msp.id, accounts })}\n`);
    return;
  }
  const lines = [`The built-in emulators' demo accounts of ${msp.name} (${msp.id}): type these into the dashboard's Connect a system forms.`, ''];
  for (const account of accounts) {
    lines.push(`${account.name} (${account.kind}${account.client ? `, ${account.client}'s own: connect it from the client's page` : ''})`);
    for (const [key, value] of Object.entries(account.settings)) lines.push(`  setting  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    for (const [key, value] of Object.entries(account.secrets)) lines.push(`  secret   ${key}: ${value}`);
    for (const link of account.clientLinks) lines.push(`  client link  ${link.client}: ${link.externalId}`);
    lines.push('');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
