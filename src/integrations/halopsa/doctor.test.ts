import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { EMULATED_SETTINGS, type ConnectedIntegration, type DoctorHost } from '../module.ts';
import { DEMO_SCOPE } from './demo.ts';
import { emulatorApiCredentials, emulatorReadOnlyCredentials, type HaloEmulator, startHaloEmulator } from './emulator/index.ts';
import { halopsa } from './index.ts';
import { connectHalo } from './intake.ts';

let emulator: HaloEmulator;
const host: DoctorHost = { logger: silentLogger, linkedClients: async () => [] };
const WEBHOOK_SECRET = 'a-webhook-secret-of-24-chars';

function integration(credentials: { tenant: string; clientId: string; clientSecret: string }, scope: string): ConnectedIntegration {
  const settings = { baseUrl: emulator.url, tenant: credentials.tenant, clientId: credentials.clientId, scope, ...EMULATED_SETTINGS };
  const secrets = { clientSecret: credentials.clientSecret, webhookSecret: WEBHOOK_SECRET };
  const connection = halopsa.connect({ integrationId: 'i-halo', name: 'HaloPSA (test)', kind: 'halopsa', settings, secrets });
  return { id: 'i-halo', mspId: 'tailspin', name: 'HaloPSA (test)', kind: 'halopsa', settings, secrets, connection };
}

const statuses = (report: Awaited<ReturnType<NonNullable<typeof halopsa.doctor>>>) => Object.fromEntries(report.tools.map((t) => [t.tool, t.status]));

beforeAll(async () => {
  emulator = await startHaloEmulator({ world: loadDemoWorld() });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.reset();
});

describe('HaloPSA doctor', () => {
  it('signs in and finds every scope; the webhook is missing until it is registered', async () => {
    const halo = integration(emulatorApiCredentials('tailspin'), DEMO_SCOPE);
    const before = await halopsa.doctor!(halo, host);
    expect(statuses(before)).toEqual({ 'ticket.read': 'ok', 'ticket.note': 'ok', 'ticket.status': 'ok', 'boards.read': 'ok', companies: 'ok', webhook: 'missing' });
    expect(before.tools.find((t) => t.tool === 'webhook')!.missing[0]!.fix).toContain('/webhooks/halopsa/i-halo');
    expect(await connectHalo(halo, { logger: silentLogger, webhookBaseUrl: 'https://deskhand.example' })).toEqual({ ok: true, detail: 'webhook registered' });
    expect(await connectHalo(halo, { logger: silentLogger, webhookBaseUrl: 'https://deskhand.example' })).toEqual({ ok: true, detail: 'webhook updated' });
    const after = await halopsa.doctor!(halo, host);
    expect(after.ok).toBe(true);
    // The doctor only reads.
    expect(emulator.effects().map((e) => e.op)).toEqual(['webhook_saved', 'webhook_saved']);
  });

  it('names each scope the application lacks, with its fix', async () => {
    const report = await halopsa.doctor!(integration(emulatorReadOnlyCredentials('tailspin'), 'read:tickets'), host);
    expect(report.ok).toBe(false);
    expect(statuses(report)).toEqual({ 'ticket.read': 'ok', 'ticket.note': 'missing', 'ticket.status': 'missing', 'boards.read': 'ok', companies: 'missing', webhook: 'missing' });
    const note = report.tools.find((t) => t.tool === 'ticket.note')!.missing[0]!;
    expect(note.name).toBe('HaloPSA scope edit:tickets');
    expect(note.fix).toMatch(/Grant the application the scope edit:tickets/);
  });

  it('a refused secret fails the sign-in and every tool, and the report never carries the secret', async () => {
    const credentials = { ...emulatorApiCredentials('tailspin'), clientSecret: 'not-the-secret-at-all' };
    const report = await halopsa.doctor!(integration(credentials, DEMO_SCOPE), host);
    expect(report.checks[0]).toMatchObject({ ok: false, detail: 'the client id or secret was refused' });
    expect(report.tools.every((t) => t.status === 'missing')).toBe(true);
    expect(JSON.stringify(report)).not.toContain('not-the-secret-at-all');
  });

  it('asking for a scope not granted is named at sign-in', async () => {
    const report = await halopsa.doctor!(integration(emulatorReadOnlyCredentials('tailspin'), DEMO_SCOPE), host);
    expect(report.checks[0]).toMatchObject({ ok: false, detail: 'a requested scope is not granted to the application' });
  });
});
