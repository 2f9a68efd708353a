import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../world/fixture.ts';
import { CONNECTWISE_ACCEPT, CONNECTWISE_API_VERSION, requestedApiVersion } from './api-version.ts';
import { basicAuthorization, ConnectWiseClient } from './client.ts';
import { type ConnectWiseEmulator, emulatorApiCredentials, emulatorPortalCredentials, startConnectWiseEmulator } from './emulator/index.ts';

/**
 * Every API call pins the version the client is written against (`Accept:
 * application/vnd.connectwise.com+json; version=…`), as ConnectWise recommends for production. The
 * emulator records the version each call asked for and refuses a malformed one.
 */

let emulator: ConnectWiseEmulator;
const keys = emulatorApiCredentials('northwind');

beforeAll(async () => {
  emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
});

afterAll(async () => {
  await emulator.close();
});

describe('requestedApiVersion', () => {
  it('reads the version parameter of the ConnectWise media type, and nothing else', () => {
    expect(requestedApiVersion(CONNECTWISE_ACCEPT)).toEqual({ version: CONNECTWISE_API_VERSION });
    expect(requestedApiVersion('application/json')).toEqual({ version: null });
    expect(requestedApiVersion(undefined)).toEqual({ version: null });
    expect(requestedApiVersion('application/vnd.connectwise.com+json')).toEqual({ version: null });
    expect(requestedApiVersion('application/json, application/vnd.connectwise.com+json; version="2019.1"')).toEqual({ version: '2019.1' });
    expect(requestedApiVersion('application/vnd.connectwise.com+json; version=latest')).toEqual({ malformed: 'latest' });
    expect(requestedApiVersion('application/vnd.connectwise.com+json; version=3.0.0')).toEqual({ malformed: '3.0.0' });
  });

  it('pins a release version in the form ConnectWise documents', () => {
    expect(CONNECTWISE_ACCEPT).toBe(`application/vnd.connectwise.com+json; version=${CONNECTWISE_API_VERSION}`);
    expect(CONNECTWISE_API_VERSION).toMatch(/^20\d{2}\.\d{1,2}$/);
  });
});

describe('the emulated ConnectWise and the Accept header', () => {
  it('sees the pinned version on every call the client makes', async () => {
    emulator.reset();
    const api = new ConnectWiseClient({ siteUrl: emulator.url, ...keys });
    const portal = new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') });
    const ticket = await portal.createTicket({ summary: 'Zendesk please', company: { identifier: 'contoso' }, initialDescription: 'Zendesk please.' });
    await api.getTicket(ticket.id);
    await api.listTickets({ pageSize: 1, limit: 3 });
    await api.findTicketByMarker('nothing-has-this');
    await api.addTicketNote(ticket.id, { text: 'internal', visibility: 'internal' });
    await api.getTicketNotes(ticket.id);
    const company = await api.findCompanyByIdentifier('contoso');
    await api.getCompany(company!.id);
    await api.getMember(keys.memberIdentifier);
    const [board] = await api.listBoards();
    const statuses = await api.listBoardStatuses(board!.id);
    await api.setTicketStatus(ticket.id, statuses[1]!.id);
    const { callback } = await api.registerCallback({ url: 'https://deskhand.example/hook?recordId=', description: 'pinned' });
    await api.updateCallbackUrl(callback.id, 'https://deskhand.example/other?recordId=');
    await api.listCallbacks();
    await api.deleteCallback(callback.id);

    const calls = emulator.requests().filter((r) => r.path.includes('/apis/3.0/'));
    expect(calls.length).toBeGreaterThan(15);
    const unpinned = calls.filter((r) => r.apiVersion !== CONNECTWISE_API_VERSION).map((r) => `${r.method} ${r.path} → ${r.apiVersion}`);
    expect(unpinned).toEqual([]);
  });

  it('records an unpinned call as such, and refuses a malformed version', async () => {
    emulator.reset();
    const headers = { authorization: basicAuthorization(keys.companyId, keys.publicKey, keys.privateKey), clientId: keys.clientId };
    const unpinned = await fetch(`${emulator.apiBaseUrl}service/boards`, { headers: { ...headers, accept: 'application/json' } });
    expect(unpinned.status).toBe(200);
    const malformed = await fetch(`${emulator.apiBaseUrl}service/boards`, { headers: { ...headers, accept: 'application/vnd.connectwise.com+json; version=latest' } });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/API version/);
    expect(emulator.requests().map((r) => [r.status, r.apiVersion])).toEqual([
      [200, null],
      [400, 'malformed:latest'],
    ]);
  });
});
