import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import {
  basicAuthorization,
  ConnectWiseClient,
  type ConnectWiseConfig,
  contactEmail,
  describeConnectWiseError,
  fetchCompanyInfo,
  linkRelation,
} from './client.ts';
import { allOf, condition } from './conditions.ts';
import { type ConnectWiseEmulator, emulatorApiCredentials, emulatorPortalCredentials, startConnectWiseEmulator } from './emulator/index.ts';

let emulator: ConnectWiseEmulator;
let api: ConnectWiseClient;
let portal: ConnectWiseClient;
const apiKeys = emulatorApiCredentials('northwind');

/** A client of the emulator, which serves its Link headers on its second host name (declared as an alias). */
function clientFor(credentials: Omit<ConnectWiseConfig, 'siteUrl'>, options = {}): ConnectWiseClient {
  return new ConnectWiseClient({ siteUrl: emulator.url, siteAliases: emulator.aliasUrl ? [emulator.aliasUrl] : [], ...credentials }, options);
}

async function caught(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

function expectNoSecrets(error: DeskhandError): void {
  const text = `${error.message} ${JSON.stringify(error.details ?? {})}`;
  expect(text).not.toContain(apiKeys.privateKey);
  expect(text).not.toContain(apiKeys.clientId);
  expect(text).not.toContain(basicAuthorization(apiKeys.companyId, apiKeys.publicKey, apiKeys.privateKey).slice(6));
}

/** A raw API call, for what the client deliberately cannot send. */
async function rawApi(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${emulator.apiBaseUrl}${path}`, {
    method,
    headers: {
      authorization: basicAuthorization(apiKeys.companyId, apiKeys.publicKey, apiKeys.privateKey),
      clientId: apiKeys.clientId,
      'content-type': 'application/json',
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function newTicket(summary = 'Could you give me Zendesk access', company = 'contoso') {
  return portal.createTicket({
    summary,
    company: { identifier: company },
    contactEmailAddress: 'megan.bowen@contoso.example',
    initialDescription: 'Hi, I need Zendesk for the support rota starting Monday.',
  });
}

beforeAll(async () => {
  emulator = await startConnectWiseEmulator({ world: loadDemoWorld() });
  api = clientFor(apiKeys);
  portal = clientFor(emulatorPortalCredentials('northwind'));
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('authentication', () => {
  it('sends Basic companyId+publicKey:privateKey and the clientId header', async () => {
    const fetchImpl = vi.fn(globalThis.fetch);
    const client = clientFor(apiKeys, { fetchImpl });
    await client.getMember('deskhand');
    const headers = fetchImpl.mock.calls[0]![1]!.headers as Record<string, string>;
    expect(headers['authorization']).toBe(`Basic ${Buffer.from(`northwind+${apiKeys.publicKey}:${apiKeys.privateKey}`).toString('base64')}`);
    expect(headers['clientId']).toBe(apiKeys.clientId);
    expect(String(fetchImpl.mock.calls[0]![0])).toMatch(/\/v4_6_release\/apis\/3\.0\/system\/members\?/);
  });

  it('maps wrong keys to a clear 401 message without the keys in it', async () => {
    const wrong = clientFor({ ...apiKeys, privateKey: 'WRONGWRONGWRONG1' });
    const error = await caught(wrong.getTicket(TICKET_ANY));
    expect(error.code).toBe('upstream');
    expect(error.details?.['status']).toBe(401);
    expect(error.message).toMatch(/API keys were rejected/);
    expect(error.message).not.toContain('WRONGWRONGWRONG1');
    expectNoSecrets(error);
  });

  it('refuses a call without a registered clientId, like ConnectWise (400 naming the clientId)', async () => {
    const missing = await rawApi('GET', 'system/members', undefined, { clientId: '' });
    expect(missing.status).toBe(400);
    expect(String(missing.body['message'])).toMatch(/clientId/);
    const unknown = clientFor({ ...apiKeys, clientId: '00000000-0000-4000-8000-000000000000' });
    const error = await caught(unknown.getMember('deskhand'));
    expect(error.message).toMatch(/clientId was refused/);
    expect(error.message).not.toContain('00000000-0000-4000-8000-000000000000');
  });

  it('refuses a configuration with a missing key, naming the field but not the values', () => {
    expect(() => new ConnectWiseClient({ siteUrl: 'https://na.myconnectwise.net', ...apiKeys, privateKey: '' })).toThrow(/privateKey is required/);
    expect(() => new ConnectWiseClient({ ...apiKeys, siteUrl: 'ftp://x' })).toThrow(DeskhandError);
  });

  it('discovers the codebase from login/companyinfo', async () => {
    const info = await fetchCompanyInfo(emulator.url, 'northwind');
    expect(info.Codebase).toBe('v4_6_release/');
  });
});

const TICKET_ANY = 50_001;

describe('tickets', () => {
  it('creates a ticket (201) and reads it back by id, with references in read form', async () => {
    const created = await newTicket();
    expect(created.id).toBe(50_001);
    const ticket = await api.getTicket(created.id);
    expect(ticket).toMatchObject({
      id: created.id,
      summary: 'Could you give me Zendesk access',
      recordType: 'ServiceTicket',
      closedFlag: false,
      company: { identifier: 'contoso', name: 'Contoso Ltd' },
      board: { name: 'Help Desk' },
      status: { name: 'New' },
      contactEmailAddress: 'megan.bowen@contoso.example',
    });
    expect(ticket.contact?.id).toBeGreaterThan(0);
    expect(ticket._info?.['enteredBy']).toBe('portal');
  });

  it('cuts summaries to ConnectWise’s 100 characters before sending', async () => {
    const created = await newTicket('x'.repeat(140));
    expect(created.summary).toHaveLength(100);
  });

  it('filters with conditions: summary contains, company identifier, closed flag, id', async () => {
    const a = await newTicket('VPN drops every hour');
    await newTicket('Printer offline');
    const c = await newTicket('VPN cannot connect', 'fabrikam');
    const vpn = await api.listTickets({ conditions: condition('summary', 'contains', 'vpn') });
    expect(vpn.map((t) => t.id)).toEqual([a.id, c.id]);
    const contosoVpn = await api.listTickets({
      conditions: allOf(condition('summary', 'contains', 'vpn'), condition('company/identifier', '=', 'contoso'), condition('closedFlag', '=', false)),
    });
    expect(contosoVpn.map((t) => t.id)).toEqual([a.id]);
    expect((await api.listTickets({ conditions: condition('id', '=', c.id) }))[0]?.company?.identifier).toBe('fabrikam');
  });

  it('follows Link rel="next" across pages until there is none', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) ids.push((await newTicket(`Ticket ${i}`)).id);
    const all = await api.listTickets({ pageSize: 3 });
    expect(all.map((t) => t.id)).toEqual(ids);
    const pages = emulator
      .requests()
      .filter((r) => r.method === 'GET' && r.path.endsWith('/service/tickets'))
      .map((r) => new URLSearchParams(r.query).get('page'));
    expect(pages).toEqual(['1', '2', '3']);
  });

  it('moves a ticket to a closed status with JSON-Patch', async () => {
    const created = await newTicket();
    const boards = await api.listBoards();
    const statuses = await api.listBoardStatuses(boards[0]!.id);
    // The Help Desk's Resolved stays open (a technician may still reopen it); Closed closes.
    const closed = statuses.find((s) => s.name === 'Closed')!;
    const updated = await api.setTicketStatus(created.id, closed.id);
    expect(updated).toMatchObject({ status: { id: closed.id, name: 'Closed' }, closedFlag: true });
  });

  it('maps a missing ticket to not_found and a validation failure to ConnectWise’s field messages', async () => {
    const missing = await caught(api.getTicket(99_999));
    expect(missing.code).toBe('not_found');
    expect(missing.message).toMatch(/Ticket 99999 was not found/);
    const invalid = await caught(portal.createTicket({ summary: 'x', company: { identifier: 'nosuchco' } }));
    expect(invalid.code).toBe('upstream');
    expect(invalid.message).toMatch(/HTTP 400 InvalidObject: serviceTicket object is invalid \(company: The company was not found\.\)/);
  });
});

describe('notes', () => {
  it('posts internal notes with internalAnalysisFlag and replies with detailDescriptionFlag', async () => {
    const ticket = await newTicket();
    const internal = await api.addTicketNote(ticket.id, { text: 'Diagnosis: not in the Zendesk group.', visibility: 'internal' });
    const reply = await api.addTicketNote(ticket.id, { text: 'Done: you now have Zendesk.', visibility: 'discussion' });
    expect(internal).toMatchObject({ internalAnalysisFlag: true, detailDescriptionFlag: false, internalFlag: true });
    expect(reply).toMatchObject({ internalAnalysisFlag: false, detailDescriptionFlag: true, externalFlag: true });

    const notes = await api.getTicketNotes(ticket.id);
    expect(notes.map((n) => n.text)).toEqual([
      'Hi, I need Zendesk for the support rota starting Monday.',
      'Diagnosis: not in the Zendesk group.',
      'Done: you now have Zendesk.',
    ]);
    const [view] = emulator.tickets();
    expect(view!.notes.map((n) => [n['internalAnalysisFlag'], n['detailDescriptionFlag'], (n['member'] as { identifier: string }).identifier])).toEqual([
      [false, true, 'portal'],
      [true, false, 'deskhand'],
      [false, true, 'deskhand'],
    ]);
  });

  it('reads every page of notes', async () => {
    const ticket = await newTicket();
    for (let i = 0; i < 4; i++) await api.addTicketNote(ticket.id, { text: `note ${i}`, visibility: 'internal' });
    const notes = await api.getTicketNotes(ticket.id, { pageSize: 2 });
    expect(notes.map((n) => n.text)).toEqual([expect.stringContaining('Zendesk'), 'note 0', 'note 1', 'note 2', 'note 3']);
    const pages = emulator.requests().filter((r) => r.method === 'GET' && r.path.endsWith('/notes'));
    expect(pages).toHaveLength(3);
  });

  it('gets the real 400 InvalidObject when no flag is set (the client never sends that)', async () => {
    const ticket = await newTicket();
    const response = await rawApi('POST', `service/tickets/${ticket.id}/notes`, { text: 'hello' });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'InvalidObject', message: 'serviceNote object is invalid' });
    expect(describeConnectWiseError(400, response.body)).toMatch(/Please choose where to display the notes/);
  });

  it('refuses an empty note or an internal resolution before calling ConnectWise', async () => {
    await expect(api.addTicketNote(1, { text: '  ', visibility: 'internal' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(api.addTicketNote(1, { text: 'x', visibility: 'internal', resolution: true })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('maps a note on a missing ticket to not_found', async () => {
    const error = await caught(api.addTicketNote(99_999, { text: 'x', visibility: 'internal' }));
    expect(error.code).toBe('not_found');
  });
});

describe('companies, contacts and members', () => {
  it('finds a company by identifier and reads it by id', async () => {
    const company = await api.findCompanyByIdentifier('contoso');
    expect(company).toMatchObject({ identifier: 'contoso', name: 'Contoso Ltd' });
    expect(await api.getCompany(company!.id)).toMatchObject({ identifier: 'contoso' });
    expect(await api.findCompanyByIdentifier('adatum')).toBeNull();
  });

  it("lists the site's companies (the MSP's clients only: another MSP's are not on this site)", async () => {
    const companies = await api.listCompanies();
    expect(companies.map((c) => [c.identifier, c.name])).toEqual([
      ['contoso', 'Contoso Ltd'],
      ['fabrikam', 'Fabrikam Inc'],
    ]);
  });

  it('reads a contact and its default email from communicationItems', async () => {
    const ticket = await newTicket();
    const contact = await api.getContact(ticket.contact!.id);
    expect(contactEmail(contact)).toBe('megan.bowen@contoso.example');
  });

  it('finds the API member and the MSP staff as members', async () => {
    expect(await api.getMember('deskhand')).toMatchObject({ identifier: 'deskhand' });
    expect(await api.getMember('achen')).toMatchObject({ firstName: 'Ava', lastName: 'Chen', officeEmail: 'ava.chen@northwind-it.example' });
    expect(await api.getMember('nobody')).toBeNull();
  });

  it('explains a 403 from the member’s security role', async () => {
    const error = await caught(portal.listCallbacks());
    expect(error.details?.['status']).toBe(403);
    expect(error.message).toMatch(/security role does not allow this/);
  });
});

describe('rate limits and server errors', () => {
  it('retries a 429 after its Retry-After', async () => {
    const ticket = await newTicket();
    emulator.addFault({ status: 429, count: 1, retryAfterSeconds: 1, pathContains: `/service/tickets/${ticket.id}` });
    const started = Date.now();
    expect((await api.getTicket(ticket.id)).id).toBe(ticket.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const statuses = emulator
      .requests()
      .filter((r) => r.path.endsWith(`/service/tickets/${ticket.id}`))
      .map((r) => r.status);
    expect(statuses).toEqual([429, 200]);
  });

  it('hands a long Retry-After back to the caller (a durable retry) instead of sleeping', async () => {
    emulator.addFault({ status: 429, count: 5, retryAfterSeconds: 120, pathContains: '/service/tickets' });
    const error = await caught(api.listTickets());
    expect(error.code).toBe('upstream_retryable');
    expect(error.retryAfterMs).toBe(120_000);
    expect(error.message).toMatch(/rate limited \(HTTP 429/);
    expect(emulator.requests().filter((r) => r.status === 429)).toHaveLength(1);
  });

  it('retries 5xx with backoff', async () => {
    const ticket = await newTicket();
    emulator.addFault({ status: 503, count: 2, pathContains: '/notes' });
    const note = await api.addTicketNote(ticket.id, { text: 'after two 503s', visibility: 'internal' });
    expect(note.text).toBe('after two 503s');
  });
});

describe('callback registrations', () => {
  const url = 'https://deskhand.example/webhooks/connectwise/northwind';

  it('registers once and reuses the registration with the same URL', async () => {
    const first = await api.registerCallback({ url, description: 'deskhand intake' });
    expect(first.created).toBe(true);
    expect(first.callback).toMatchObject({ url, type: 'ticket', level: 'owner', objectId: 1, inactiveFlag: false, payloadVersion: '3.0.0' });
    const second = await api.registerCallback({ url, description: 'deskhand intake' });
    expect(second).toEqual({ callback: first.callback, created: false });
    expect(await api.listCallbacks()).toHaveLength(1);
  });

  it('mirrors ConnectWise: a duplicate POST is 400 ObjectExists, a bad URL 400 Invalid URL', async () => {
    await api.registerCallback({ url, description: 'deskhand intake' });
    const duplicate = await rawApi('POST', 'system/callbacks', { url, objectId: 1, type: 'ticket', level: 'owner', description: 'again' });
    expect(duplicate.status).toBe(400);
    expect(duplicate.body['errors']).toEqual([expect.objectContaining({ code: 'ObjectExists' })]);
    const badUrl = await rawApi('POST', 'system/callbacks', { url: 'not a url', objectId: 1, type: 'ticket', level: 'owner' });
    expect(badUrl.body).toEqual({
      code: 'InvalidObject',
      message: 'callbackEntry object is invalid',
      errors: [{ code: 'InvalidField', message: 'Invalid URL', resource: 'callbackEntry', field: 'url' }],
    });
    const badLevel = await rawApi('POST', 'system/callbacks', { url: `${url}/x`, objectId: 1, type: 'ticket', level: 'galaxy' });
    expect(JSON.stringify(badLevel.body)).toContain('Unrecognized level for type');
  });

  it('switches an inactive registration back on instead of creating a second one', async () => {
    const { callback } = await api.registerCallback({ url, description: 'deskhand intake' });
    await rawApi('PATCH', `system/callbacks/${callback.id}`, [{ op: 'replace', path: 'inactiveFlag', value: true }]);
    const again = await api.registerCallback({ url, description: 'deskhand intake' });
    expect(again).toMatchObject({ created: false, callback: { id: callback.id, inactiveFlag: false } });
  });

  it('deletes a registration, and says so when it was already gone', async () => {
    const { callback } = await api.registerCallback({ url, description: 'deskhand intake' });
    expect(await api.deleteCallback(callback.id)).toBe(true);
    expect(await api.deleteCallback(callback.id)).toBe(false);
    expect(await api.listCallbacks()).toEqual([]);
  });

  it('fetches a signing key only from the configured site', async () => {
    const fetchImpl = vi.fn(globalThis.fetch);
    const client = clientFor(apiKeys, { fetchImpl });
    const error = await caught(client.fetchSigningKey('http://127.0.0.1:1/v4_6_release/system/callbackkey/index.rails?id=x'));
    expect(error.code).toBe('unauthorized');
    expect(fetchImpl).not.toHaveBeenCalled();
  });
});

describe('pagination safety (fake server)', () => {
  function fakeFetch(pages: { body: unknown[]; link?: string }[]) {
    let call = 0;
    return vi.fn(async (_url: string | URL | Request) => {
      const page = pages[Math.min(call++, pages.length - 1)]!;
      return new Response(JSON.stringify(page.body), {
        status: 200,
        headers: { 'content-type': 'application/json', ...(page.link ? { link: page.link } : {}) },
      });
    });
  }
  const site = 'https://na.myconnectwise.net';
  const ticket = (id: number) => ({ id, summary: `t${id}` });

  it('never follows a next link to another host (it would carry the API keys)', async () => {
    const fetchImpl = fakeFetch([{ body: [ticket(1)], link: '<https://evil.example/apis/3.0/service/tickets?page=2>; rel="next"' }]);
    const client = new ConnectWiseClient({ siteUrl: site, ...apiKeys }, { fetchImpl });
    const error = await caught(client.listTickets());
    expect(error.message).toMatch(/evil\.example, which is not a ConnectWise host of the configured site/);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it('without any Link header, asks for the next page while pages come back full', async () => {
    const fetchImpl = fakeFetch([{ body: [ticket(1), ticket(2)] }, { body: [ticket(3)] }]);
    const client = new ConnectWiseClient({ siteUrl: site, ...apiKeys }, { fetchImpl });
    expect((await client.listTickets({ pageSize: 2 })).map((t) => t.id)).toEqual([1, 2, 3]);
    expect(String(fetchImpl.mock.calls[1]![0])).toMatch(/page=2/);
  });

  it('stops a next link that loops', async () => {
    const self = `${site}/v4_6_release/apis/3.0/service/tickets?conditions=x&page=1&pageSize=1000`;
    const fetchImpl = fakeFetch([{ body: [ticket(1)], link: `<${self}>; rel="next"` }]);
    const client = new ConnectWiseClient({ siteUrl: site, ...apiKeys }, { fetchImpl });
    await expect(client.listTickets({ conditions: 'x' })).rejects.toThrow(/did not end/);
  });

  it('refuses a response that is not the documented shape, without echoing values', async () => {
    const fetchImpl = fakeFetch([{ body: [{ id: 'secret-looking-value' }] }]);
    const client = new ConnectWiseClient({ siteUrl: site, ...apiKeys }, { fetchImpl });
    const error = await caught(client.listTickets());
    expect(error.message).toMatch(/cannot read/);
    expect(error.message).not.toContain('secret-looking-value');
  });
});

describe('small pieces', () => {
  it('parses Link headers', () => {
    const header = '<https://x/a?page=2>; rel="next", <https://x/a?page=9>; rel="last"';
    expect(linkRelation(header, 'next')).toBe('https://x/a?page=2');
    expect(linkRelation(header, 'last')).toBe('https://x/a?page=9');
    expect(linkRelation(header, 'prev')).toBeUndefined();
  });

  it('picks the default Email among phones, else the first email, else null', () => {
    const phone = { value: '+1 555', communicationType: 'Phone', defaultFlag: true };
    expect(
      contactEmail({
        communicationItems: [phone, { value: 'old@x.example', communicationType: 'Email' }, { value: 'main@x.example', communicationType: 'Email', defaultFlag: true }],
      }),
    ).toBe('main@x.example');
    expect(contactEmail({ communicationItems: [phone, { value: 'only@x.example', type: { id: 1, name: 'Email' } }] })).toBe('only@x.example');
    expect(contactEmail({ communicationItems: [phone] })).toBeNull();
    expect(contactEmail({})).toBeNull();
  });
});
