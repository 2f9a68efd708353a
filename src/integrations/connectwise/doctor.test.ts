import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import type { ConnectedIntegration, DoctorReport } from '../module.ts';
import {
  type ConnectWiseEmulator,
  type EmulatorCredentials,
  emulatorApiCredentials,
  emulatorNoCallbacksCredentials,
  emulatorPortalCredentials,
  startConnectWiseEmulator,
} from './emulator/index.ts';
import { connectwise } from './index.ts';

/**
 * The ConnectWise doctor over real HTTP against the emulator, whose members each have a security
 * role that the emulator enforces: deskhand's API member (everything it needs: all ok), a second
 * API member whose role cannot manage callbacks (the doctor names `callbacks` and the setting to
 * grant), keys that are refused, and a member whose role hides members and roles (the write levels
 * cannot be checked: `error`, with the setting that would let the doctor see). The doctor only reads.
 */

let emulator: ConnectWiseEmulator;

beforeAll(async () => {
  emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => emulator.reset());

function integrationFor(keys: EmulatorCredentials, privateKey = keys.privateKey): ConnectedIntegration {
  const settings = {
    siteUrl: emulator.url,
    codebase: 'v4_6_release/',
    companyId: keys.companyId,
    publicKey: keys.publicKey,
    apiMemberIdentifier: keys.memberIdentifier,
    emulated: true,
    developmentLoopback: true,
    emulatorSiteAliases: [emulator.aliasUrl],
  };
  const secrets = { privateKey, clientId: keys.clientId, webhookSecret: 'w'.repeat(24) };
  const connection = connectwise.connect({ integrationId: 'cw-1', name: 'ConnectWise (test)', kind: 'connectwise', settings, secrets });
  return { id: 'cw-1', mspId: 'northwind', name: 'ConnectWise (test)', kind: 'connectwise', settings, secrets, connection };
}

async function doctor(integration: ConnectedIntegration): Promise<DoctorReport> {
  return connectwise.doctor!(integration, { logger: silentLogger, linkedClients: async () => [] });
}

function statuses(report: DoctorReport): Record<string, string> {
  return Object.fromEntries(report.tools.map((t) => [t.tool, t.status]));
}

describe('the ConnectWise doctor', () => {
  it("reports every tool ok for deskhand's API member, reading only", async () => {
    const report = await doctor(integrationFor(emulatorApiCredentials('northwind')));
    expect(statuses(report)).toEqual({ 'ticket.read': 'ok', 'ticket.note': 'ok', 'ticket.status': 'ok', 'boards.read': 'ok', callbacks: 'ok' });
    expect(report.ok).toBe(true);
    expect(report.checks.every((c) => c.ok)).toBe(true);
    expect(report.tools.every((t) => t.missing.length === 0)).toBe(true);
    const calls = emulator.requests();
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(emulator.effects()).toEqual([]);
  });

  it('names the tool an API member without callback permissions would fail, with the setting to grant', async () => {
    const report = await doctor(integrationFor(emulatorNoCallbacksCredentials('northwind')));
    expect(report.ok).toBe(false);
    expect(statuses(report)).toEqual({ 'ticket.read': 'ok', 'ticket.note': 'ok', 'ticket.status': 'ok', 'boards.read': 'ok', callbacks: 'missing' });
    const callbacks = report.tools.find((t) => t.tool === 'callbacks')!;
    expect(callbacks.missing.map((c) => c.name)).toEqual(['System › Table Setup: Add', 'System › Table Setup: Edit', 'System › Table Setup: Delete']);
    for (const check of callbacks.missing) expect(check.fix).toMatch(/System › Security Roles .* System › Table Setup: set (Add|Edit|Delete) Level to All/);
  });

  it('reports refused keys on every tool, with the fix, and never the keys', async () => {
    const keys = emulatorApiCredentials('northwind');
    const report = await doctor(integrationFor(keys, 'WRONGWRONGWRONG1'));
    expect(report.ok).toBe(false);
    expect(new Set(report.tools.map((t) => t.status))).toEqual(new Set(['missing']));
    expect(report.tools[0]!.missing[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/401/), fix: expect.stringMatching(/public and private keys/) });
    const text = JSON.stringify(report);
    expect(text).not.toContain(keys.privateKey);
    expect(text).not.toContain('WRONGWRONGWRONG1');
    expect(text).not.toContain(keys.clientId);
  });

  it('says which write levels it could not check when the role hides members and roles, and what would let it see', async () => {
    // The portal member's role reaches tickets and companies but not System.
    const report = await doctor(integrationFor(emulatorPortalCredentials('northwind')));
    expect(statuses(report)).toMatchObject({ 'ticket.read': 'ok', 'ticket.note': 'error', 'ticket.status': 'error', callbacks: 'missing' });
    const note = report.tools.find((t) => t.tool === 'ticket.note')!;
    expect(note.missing[0]).toMatchObject({ name: 'Service Desk › Service Tickets: Edit', detail: expect.stringMatching(/could not be checked without writing/) });
    expect(note.missing[0]!.fix).toMatch(/System › Member Maintenance: Inquire and System › Security Roles: Inquire/);
  });
});
