import { spawn } from 'node:child_process';
import { existsSync, promises as fs, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readConfig } from '../config.ts';
import { ConnectWiseClient } from '../integrations/connectwise/client.ts';
import { emulatorPortalCredentials } from '../integrations/connectwise/emulator-data.ts';
import { startEmulators } from '../integrations/emulators.ts';
import { createLogger, type Logger } from '../logger.ts';
import { loadDemoWorld } from '../world/fixture.ts';
import type { EmulatorEndpoints } from '../world/seed.ts';

interface EmulatorState extends EmulatorEndpoints {
  pid: number;
}

/** `deskhand emulators`: runs until stopped; writes its addresses to the state file. */
export async function runEmulators(options: { stateFile?: string; host: string; latency?: boolean }): Promise<void> {
  const logger = createLogger({ name: 'emulators' });
  const running = await startEmulators({ world: loadDemoWorld(), host: options.host, realisticLatency: options.latency === true });
  const state: EmulatorState = { pid: process.pid, ...running.endpoints };
  if (options.stateFile) {
    const tmp = `${options.stateFile}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(state));
    await fs.rename(tmp, options.stateFile);
  }
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

/**
 * The emulators run in a process of their own so that the service can restart without losing their
 * state: reuse the one that is running for this data folder, or start one.
 */
export async function ensureEmulators(dataDir: string, logger: Logger): Promise<{ endpoints: EmulatorEndpoints; pid: number; started: boolean }> {
  const file = emulatorStateFile(dataDir);
  const existing = readState(file);
  if (existing && isAlive(existing.pid) && (await answers(existing.connectwise)) && (await answers(existing.graph))) {
    logger.info({ pid: existing.pid }, 'reusing the running emulators');
    return { endpoints: existing, pid: existing.pid, started: false };
  }
  await fs.rm(file, { force: true });
  const bin = fileURLToPath(new URL('../../bin/deskhand.js', import.meta.url));
  const log = openSync(path.join(dataDir, 'emulators.log'), 'a');
  const child = spawn(process.execPath, [bin, 'emulators', '--state-file', file], { detached: true, stdio: ['ignore', 'ignore', log] });
  child.unref();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const state = existsSync(file) ? readState(file) : null;
    if (state && state.pid === child.pid) return { endpoints: state, pid: state.pid, started: true };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`the emulators did not start (see ${path.join(dataDir, 'emulators.log')})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `deskhand ticket`: an employee opens a ticket in the emulated ConnectWise (through its portal member). */
export async function openTicket(clientSlug: string, email: string, text: string): Promise<void> {
  const config = readConfig();
  const state = readState(emulatorStateFile(config.dataDir));
  if (!state) throw new Error('no emulators are running for this data folder: start deskhand first (npm start)');
  const world = loadDemoWorld();
  const client = world.clients.find((c) => c.id === clientSlug);
  if (!client) throw new Error(`no client ${clientSlug} in the demo world (try ${world.clients.map((c) => c.id).join(', ')})`);
  const { companyId, publicKey, privateKey, clientId } = emulatorPortalCredentials(client.msp);
  const cw = new ConnectWiseClient({ siteUrl: state.connectwise, companyId, publicKey, privateKey, clientId });
  const ticket = await cw.createTicket({
    summary: text.length > 100 ? `${text.slice(0, 97)}...` : text,
    company: { identifier: clientSlug },
    contactEmailAddress: email,
    initialDescription: text,
  });
  process.stdout.write(`${JSON.stringify({ ticket: ticket.id, client: clientSlug, requester: email })}\n`);
}
