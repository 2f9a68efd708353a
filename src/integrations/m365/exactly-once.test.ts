import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { type GraphClient, mailMarker, markedSubject } from './client.ts';
import { type GraphEmulator, startGraphEmulator } from './emulator/index.ts';
import { M365ToolRunner } from './runner.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotSkuId, snapshotUser } from './testing.ts';

/**
 * What exactly-once execution stands on, against the Graph emulator over HTTP: faults that strike
 * after the change (the answer is lost), the effects log that proves a change happened once, writes
 * that are not repeated blindly, Sent Items to look for a mail before sending it again, latency.
 */

let emulator: GraphEmulator;
let client: GraphClient;

const ALEX = 'alex.wilber@contoso.example';
const HELPDESK = 'it-helpdesk@contoso.example';

function userId(upn: string): string {
  return snapshotUser(emulator, 'contoso', upn).id;
}

async function rejection(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

async function control(path: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(`${emulator.loginUrl}/_emulator${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
}

function calls(method: string, pathPart: string) {
  return emulator.requests().filter((r) => r.method === method && r.path.includes(pathPart));
}

beforeAll(async () => {
  emulator = await startGraphEmulator({ world: loadDemoWorld() });
  client = emulatedGraphClient(emulator, 'contoso');
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the effects log', () => {
  it('records each change the tools make, once, with ids and names and never a secret', async () => {
    const runner = new M365ToolRunner(client);
    const alex = userId(ALEX);
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    const powerBi = snapshotSkuId(emulator, 'contoso', 'POWER_BI_PRO');
    await runner.run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' }, { user: alex, group: zendesk });
    await runner.run('m365.add_user_to_group', { user: ALEX, group: 'SG-App-Zendesk' }, { user: alex, group: zendesk });
    await runner.run('m365.assign_license', { user: ALEX, sku: 'POWER_BI_PRO' }, { user: alex, sku: powerBi });
    await runner.run('m365.disable_account', { user: ALEX }, { user: alex });
    await runner.run('m365.disable_account', { user: ALEX }, { user: alex });
    const reset = await runner.run('m365.reset_password', { user: ALEX }, { user: alex });
    await runner.run('m365.revoke_sessions', { user: ALEX }, { user: alex });
    await runner.run('m365.reset_mfa', { user: ALEX }, { user: alex });
    await runner.run('m365.remove_user_from_group', { user: ALEX, group: 'SG-App-Zendesk' }, { user: alex, group: zendesk });
    await runner.run('m365.remove_license', { user: ALEX, sku: 'POWER_BI_PRO' }, { user: alex, sku: powerBi });
    await runner.run('m365.enable_account', { user: ALEX }, { user: alex });
    await client.sendMail(HELPDESK, { to: ALEX, subject: 'Your access', text: 'Done.' });

    const effects = emulator.effects('contoso');
    // The repeated add (Graph refused it with 400) and the repeated disable changed nothing: no effect.
    expect(effects.map((e) => [e.op, e.objectName])).toEqual([
      ['member_added', 'SG-App-Zendesk'],
      ['license_assigned', 'POWER_BI_PRO'],
      ['account_disabled', null],
      ['password_reset', null],
      ['sessions_revoked', null],
      ['auth_method_deleted', 'microsoftAuthenticatorAuthenticationMethod'],
      ['member_removed', 'SG-App-Zendesk'],
      ['license_removed', 'POWER_BI_PRO'],
      ['account_enabled', null],
      ['mail_sent', 'Your access'],
    ]);
    expect(effects.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(effects[0]).toMatchObject({
      tenant: emulator.tenant('contoso').tenantId,
      clientId: 'contoso',
      target: alex,
      targetName: ALEX,
      object: zendesk,
      requestPath: `/v1.0/groups/${zendesk}/members/$ref`,
    });
    expect(effects[9]).toMatchObject({ target: HELPDESK, targetName: HELPDESK });
    expect(emulator.effects('fabrikam')).toEqual([]);

    const viaHttp = (await (await control('/effects?tenant=contoso')).json()) as { effects: unknown[] };
    expect(viaHttp.effects).toEqual(effects);
    expect(JSON.stringify(viaHttp)).not.toContain(reset.secret!);
    expect(JSON.stringify(viaHttp)).not.toContain('Done.');
    emulator.reset();
    expect(emulator.effects()).toEqual([]);
  });
});

describe('faults after the effect', () => {
  it('a lost answer to POST members/$ref: the client sees an error, the member was added once, reconcile says done', async () => {
    // More faults than the client's quick retries, so that every attempt loses its answer.
    emulator.injectFault({ status: 503, count: 5, method: 'POST', pathContains: '/members/$ref', afterEffect: true });
    const alex = userId(ALEX);
    const zendesk = snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk');
    const error = await rejection(client.addMember(zendesk, alex));
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ status: 503 });
    expect(calls('POST', '/members/$ref').length).toBeGreaterThan(1);

    const added = emulator.effects('contoso').filter((e) => e.op === 'member_added');
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ target: alex, object: zendesk });
    expect(snapshotUser(emulator, 'contoso', ALEX).groups).toContain('SG-App-Zendesk');

    const outcome = await new M365ToolRunner(client).reconcile(
      'm365.add_user_to_group',
      { user: ALEX, group: 'SG-App-Zendesk' },
      { user: alex, group: zendesk },
      new Date(),
    );
    expect(outcome.done).toBe(true);
    emulator.clearFaults();
  });

  it('a fault before the effect changes nothing', async () => {
    emulator.injectFault({ status: 403, count: 1, method: 'POST', pathContains: '/members/$ref' });
    await rejection(client.addMember(snapshotGroupId(emulator, 'contoso', 'SG-App-Zendesk'), userId(ALEX)));
    expect(emulator.effects()).toEqual([]);
  });

  it('a dropped connection is a retryable network error; after the effect the change is there, before it is not', async () => {
    const alex = userId(ALEX);
    emulator.injectFault({ method: 'POST', pathContains: '/revokeSignInSessions', afterEffect: true, dropConnection: true });
    const error = await rejection(client.revokeSessions(alex));
    expect(error.code).toBe('upstream_retryable');
    expect(error.message).toContain('could not be reached');
    expect(emulator.effects().map((e) => e.op)).toEqual(['sessions_revoked']);
    // The request log shows the call with no answer.
    expect(calls('POST', '/revokeSignInSessions').map((r) => r.status)).toEqual([0]);

    emulator.reset();
    emulator.injectFault({ method: 'POST', pathContains: '/revokeSignInSessions', dropConnection: true });
    expect((await rejection(client.revokeSessions(alex))).code).toBe('upstream_retryable');
    expect(emulator.effects()).toEqual([]);
  });

  it('writes that are not safe to repeat are sent once: a failure goes back to the caller to reconcile', async () => {
    const alex = userId(ALEX);
    for (const [pathContains, method, write] of [
      ['/revokeSignInSessions', 'POST', () => client.revokeSessions(alex)],
      [`/users/${alex}`, 'PATCH', () => client.setTemporaryPassword(alex, 'Xy7#kLm2Pq9$Rt4!')],
      ['/sendMail', 'POST', () => client.sendMail(HELPDESK, { to: ALEX, subject: 'Hello', text: 'Hi.' })],
    ] as const) {
      emulator.injectFault({ status: 500, count: 3, method, pathContains, afterEffect: true });
      expect((await rejection(write())).retryable).toBe(true);
      expect(calls(method, pathContains)).toHaveLength(1);
      emulator.clearFaults();
    }
    expect(emulator.effects().map((e) => e.op)).toEqual(['sessions_revoked', 'password_reset', 'mail_sent']);
    expect(emulator.mail()).toHaveLength(1);
  });

  it('the fault schema asks for something to replace the answer', async () => {
    expect((await control('/faults', 'POST', { afterEffect: true, count: 1 })).status).toBe(400);
    expect((await control('/faults', 'POST', { afterEffect: true, delayMs: 10 })).status).toBe(400);
    expect((await control('/faults', 'POST', { dropConnection: true })).status).toBe(201);
    expect((await control('/faults', 'POST', { status: 502, afterEffect: true })).status).toBe(201);
    const listed = (await (await control('/faults')).json()) as { afterEffect: boolean; dropConnection: boolean }[];
    expect(listed.map((f) => [f.afterEffect, f.dropConnection])).toEqual([
      [false, true],
      [true, false],
    ]);
    expect(() => emulator.injectFault({ afterEffect: true })).toThrow();
    await control('/faults', 'DELETE');
  });
});

describe('user state for reconciliation', () => {
  it('reads accountEnabled and the password and session times, moved by resets and revocations', async () => {
    const alex = userId(ALEX);
    const before = await client.getUserState(alex);
    expect(before).toEqual({
      accountEnabled: true,
      lastPasswordChangeDateTime: '2021-03-01T09:00:00Z',
      signInSessionsValidFromDateTime: '2021-03-01T09:00:00Z',
    });
    const started = Date.now();
    await client.setTemporaryPassword(alex, 'Xy7#kLm2Pq9$Rt4!');
    await client.revokeSessions(alex);
    await client.setAccountEnabled(alex, false);
    const after = (await client.getUserState(alex))!;
    expect(after.accountEnabled).toBe(false);
    // Graph's whole seconds: at most a second before the change.
    for (const time of [after.lastPasswordChangeDateTime!, after.signInSessionsValidFromDateTime!]) {
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(time)).toBeGreaterThanOrEqual(started - 1_000);
    }
    expect(await client.getUserState('ghost@contoso.example')).toBeNull();
    // The emulator answers these properties only when selected, as Graph does.
    expect(calls('GET', `/users/${alex}`).at(-1)!.query).toContain('lastPasswordChangeDateTime');
  });
});

describe('Sent Items', () => {
  it('finds a mail sent with a marker by its subject, and not another', async () => {
    const marker = mailMarker('request-1:manager-approval');
    expect(marker).toMatch(/^[0-9a-f]{12}$/);
    const sent = await client.sendMail(HELPDESK, { to: 'megan.bowen@contoso.example', subject: "Approve Alex's access?", text: 'Link', marker });
    expect(sent.subject).toBe(`Approve Alex's access? [ref ${marker}]`);
    await client.sendMail(HELPDESK, { to: 'megan.bowen@contoso.example', subject: "Approve Alex's access?", text: 'Link', marker: mailMarker('request-2:manager-approval') });

    const found = await client.findSentMail(HELPDESK, markedSubject("Approve Alex's access?", marker));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ subject: sent.subject });
    expect(found[0]!.sentDateTime).toMatch(/Z$/);
    expect(await client.findSentMail(HELPDESK, markedSubject("Approve Alex's access?", mailMarker('request-3:manager-approval')))).toEqual([]);
    // Another mailbox's Sent Items do not hold it.
    expect(await client.findSentMail(ALEX, sent.subject)).toEqual([]);

    const lookup = calls('GET', '/mailFolders/sentitems/messages').at(-1)!;
    expect(decodeURIComponent(lookup.query)).toContain('$select=id,subject,sentDateTime');
    expect(decodeURIComponent(lookup.query)).toContain('$top=10');
  });

  it('refuses a marker that would not survive in a subject', async () => {
    const error = await rejection(client.sendMail(HELPDESK, { to: ALEX, subject: 'x', text: 'y', marker: 'two words' }));
    expect(error.code).toBe('bad_request');
    expect(emulator.mail()).toEqual([]);
  });

  it('keeps only what was sent with saveToSentItems, selects and pages like Graph', async () => {
    const token = await fetch(`${emulator.loginUrl}/${emulator.tenant('contoso').tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...credentialsForm(), grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }).toString(),
    });
    const bearer = ((await token.json()) as { access_token: string }).access_token;
    const graph = (path: string, init: RequestInit = {}) =>
      fetch(`${emulator.url}${path}`, { ...init, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' } });
    const send = (subject: string, saveToSentItems?: boolean) =>
      graph(`/users/${HELPDESK}/sendMail`, {
        method: 'POST',
        body: JSON.stringify({
          message: { subject, body: { contentType: 'Text', content: 'x' }, toRecipients: [{ emailAddress: { address: ALEX } }] },
          ...(saveToSentItems === undefined ? {} : { saveToSentItems }),
        }),
      });
    expect((await send('kept by default')).status).toBe(202);
    expect((await send('not kept', false)).status).toBe(202);
    expect((await send('kept', true)).status).toBe(202);

    const all = (await (await graph(`/users/${HELPDESK}/mailFolders/SentItems/messages?$select=subject`)).json()) as { value: Record<string, unknown>[] };
    expect(all.value).toEqual([{ subject: 'kept' }, { subject: 'kept by default' }]);
    const page = (await (await graph(`/users/${HELPDESK}/mailFolders/sentitems/messages?$top=1&$select=id`)).json()) as Record<string, unknown>;
    expect(page['value']).toHaveLength(1);
    expect(page['@odata.nextLink']).toContain('$skiptoken=');
    const whole = (await (await graph(`/users/${HELPDESK}/mailFolders/sentitems/messages?$filter=subject eq 'kept'`)).json()) as { value: Record<string, unknown>[] };
    expect(whole.value).toHaveLength(1);
    expect(whole.value[0]).toMatchObject({ subject: 'kept', isDraft: false, from: { emailAddress: { address: HELPDESK } } });
    expect((await graph(`/users/${HELPDESK}/mailFolders/inbox/messages`)).status).toBe(200);
    expect((await graph(`/users/${HELPDESK}/mailFolders/nowhere/messages`)).status).toBe(404);
    expect((await graph(`/users/ghost@contoso.example/mailFolders/sentitems/messages`)).status).toBe(404);
  });

  it('explains a refused Sent Items read as a missing permission', async () => {
    emulator.injectFault({ status: 403, method: 'GET', pathContains: '/mailFolders/sentitems', code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' });
    const error = await rejection(client.findSentMail(HELPDESK, 'x'));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Mail.ReadBasic.All');
  });
});

describe('latency', () => {
  it('delays every Graph call by the configured range, settable at run time, and reset restores the start option', async () => {
    const slow = await startGraphEmulator({ world: loadDemoWorld(), latencyMs: { min: 150, max: 200 } });
    try {
      const slowClient = emulatedGraphClient(slow, 'contoso');
      await slowClient.listSubscribedSkus(); // the token call is delayed too; time a Graph call alone
      let started = Date.now();
      await slowClient.listSubscribedSkus();
      expect(Date.now() - started).toBeGreaterThanOrEqual(145);

      const off = await fetch(`${slow.loginUrl}/_emulator/latency`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ min: 0, max: 0 }),
      });
      expect(await off.json()).toEqual({ latencyMs: { min: 0, max: 0 } });
      started = Date.now();
      await slowClient.listSubscribedSkus();
      expect(Date.now() - started).toBeLessThan(100);

      slow.reset();
      expect(await (await fetch(`${slow.loginUrl}/_emulator/latency`)).json()).toEqual({ latencyMs: { min: 150, max: 200 } });
      slow.setLatency(null);
      expect(await (await fetch(`${slow.loginUrl}/_emulator/latency`)).json()).toEqual({ latencyMs: null });
      const refused = await fetch(`${slow.loginUrl}/_emulator/latency`, { method: 'POST', body: JSON.stringify({ min: 50, max: 10 }) });
      expect(refused.status).toBe(400);
    } finally {
      await slow.close();
    }
  });
});

function credentialsForm(): Record<string, string> {
  const { clientId, clientSecret } = emulator.credentials('contoso');
  return { client_id: clientId, client_secret: clientSecret };
}
