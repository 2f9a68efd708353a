import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { callbackUrl, oldFormCallbackUrl } from '../src/integrations/connectwise/callback-url.ts';
import { ConnectWiseClient } from '../src/integrations/connectwise/client.ts';
import { emulatorPortalCredentials } from '../src/integrations/connectwise/emulator/data.ts';
import { connectWiseOf } from '../src/integrations/connectwise/intake.ts';
import { createLogger, silentLogger } from '../src/logger.ts';
import { connectIntegrations } from '../src/service.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * ConnectWise appends the record id to the registered callback URL (the emulator does it as
 * ConnectWise is reported to: plain concatenation). deskhand registers a URL whose secret survives
 * that, updates a registration of the old form, and still takes in the callbacks of an old-form
 * registration (`/<secret><id>`) until then — through the webhook, not the poll. A secret followed
 * by digits that are not the callback's record id is still an unknown URL.
 */

let sb: Sandbox;
let base: string;
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: createLogger({ level: 'info', destination: capture }) });
  base = `http://127.0.0.1:${new URL(sb.service.url).port}`;
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

async function integration() {
  const row = await sb.service.ctx.db
    .selectFrom('integrations')
    .selectAll()
    .where('kind', '=', 'connectwise')
    .where('msp_id', '=', 'northwind')
    .executeTakeFirstOrThrow();
  const secret = sb.service.ctx.integrations.secretsOf(row)['webhookSecret']!;
  return { row, secret, cw: connectWiseOf(sb.service.ctx.integrations.connected(row)).client };
}

async function openTicket(summary: string, email: string): Promise<number> {
  const portal = new ConnectWiseClient({ siteUrl: sb.emulators.endpoints.connectwise, ...emulatorPortalCredentials('northwind') });
  const ticket = await portal.createTicket({ summary, company: { identifier: 'contoso' }, contactEmailAddress: email, initialDescription: `${summary}, please.` });
  return ticket.id;
}

function addedDeliveries(ticket: number) {
  return sb.emulators.connectwise.deliveries().filter((d) => d.recordId === ticket && d.action === 'added');
}

/** How the request for this ticket came in, from the audit log (`webhook:connectwise` or `poll:connectwise`). */
async function receivedVia(ticket: number): Promise<string> {
  const request = await sb.requestForTicket(ticket);
  const event = await sb.service.ctx.db
    .selectFrom('audit_log')
    .select('actor')
    .where('request_id', '=', request.id)
    .where('event', '=', 'request.received')
    .executeTakeFirstOrThrow();
  return event.actor;
}

describe('the ConnectWise callback URL', () => {
  it('is registered so that the secret survives the appended record id, and the callback reaches intake', async () => {
    const { row, secret } = await integration();
    const callbacks = (await (await fetch(`${sb.emulators.endpoints.connectwise}/_emulator/callbacks`)).json()) as { callbacks: { url: string }[] };
    expect(callbacks.callbacks.map((c) => c.url)).toEqual([callbackUrl(base, 'connectwise', row.id, secret)]);

    const ticket = await openTicket('Could I get Zendesk?', 'megan.bowen@contoso.example');
    await sb.emulators.connectwise.deliveriesSettled();
    const [delivery] = addedDeliveries(ticket);
    expect(delivery!.url).toBe(`${callbackUrl(base, 'connectwise', row.id, secret)}${ticket}`);
    expect(delivery!.attempts.map((a) => a.status)).toEqual([202]);
    expect(await receivedVia(ticket)).toBe('webhook:connectwise');
    // Its signing key is named on the emulator's second host name, which the demo integration trusts.
    const keyUrl = (JSON.parse(delivery!.body) as { Metadata: { key_url: string } }).Metadata.key_url;
    expect(new URL(keyUrl).host).toBe(`localhost:${new URL(sb.emulators.endpoints.connectwise).port}`);
  });

  it('takes in the callbacks of an old-form registration (id appended to the secret), and onConnect updates it in place', async () => {
    const { row, secret, cw } = await integration();
    const [current] = await cw.listCallbacks();
    await cw.updateCallbackUrl(current!.id, oldFormCallbackUrl(base, 'connectwise', row.id, secret));

    const ticket = await openTicket('Could I get DocuSign?', 'lee.gu@contoso.example');
    await sb.emulators.connectwise.deliveriesSettled();
    const [delivery] = addedDeliveries(ticket);
    expect(delivery!.url).toBe(`${oldFormCallbackUrl(base, 'connectwise', row.id, secret)}${ticket}`);
    expect(delivery!.attempts.map((a) => a.status)).toEqual([202]);
    expect(await receivedVia(ticket)).toBe('webhook:connectwise');

    await connectIntegrations(sb.service.ctx, base, silentLogger);
    const after = await cw.listCallbacks();
    expect(after.map((c) => [c.id, c.url])).toEqual([[current!.id, callbackUrl(base, 'connectwise', row.id, secret)]]);
  });

  it('refuses a forged secret followed by digits, and the right secret followed by another record id', async () => {
    const { row, secret } = await integration();
    const ticket = await openTicket('Could I get Zendesk too?', 'lidia.holloway@contoso.example');
    await sb.emulators.connectwise.deliveriesSettled();
    const forge = (url: string) =>
      sb.emulators.connectwise.forgeCallback({ url, signature: 'valid', ticketId: ticket, action: 'added', companyId: 'northwind', memberId: 'portal' });

    const forged = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const wrongSecret = await forge(`${base}/webhooks/connectwise/${row.id}/${forged}${ticket}`);
    expect(wrongSecret.status).toBe(401);
    // The secret's own length followed by digits: digits never stand in for the secret's characters.
    const truncated = await forge(`${base}/webhooks/connectwise/${row.id}/${secret.slice(0, -2)}${ticket}`);
    expect(truncated.status).toBe(401);
    const otherRecord = await forge(`${oldFormCallbackUrl(base, 'connectwise', row.id, secret)}${ticket + 1}`);
    expect(otherRecord.status).toBe(401);
    const notDigits = await forge(`${oldFormCallbackUrl(base, 'connectwise', row.id, secret)}x${ticket}`);
    expect(notDigits.status).toBe(401);

    // The same signed callback at the URL forms deskhand gave out is accepted (a re-delivery: nothing new).
    const appended = await forge(`${oldFormCallbackUrl(base, 'connectwise', row.id, secret)}${ticket}`);
    expect(appended.status).toBe(202);
    const current = await forge(`${callbackUrl(base, 'connectwise', row.id, secret)}${ticket}`);
    expect(current.status).toBe(202);
    expect(JSON.parse(current.responseBody)).toMatchObject({ accepted: true, duplicate: true });
  });

  it('refuses a callback whose signing-key URL is on an unknown host, fetching nothing, and logs the host (never the URL or the secret)', async () => {
    const { row, secret } = await integration();
    const ticket = await openTicket('Could I get Zendesk as well?', 'miriam.graham@contoso.example');
    await sb.emulators.connectwise.deliveriesSettled();
    const before = lines.length;
    const keyUrl = 'https://na.myconnectwise.net.evil.example/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=x';
    const forged = await sb.emulators.connectwise.forgeCallback({
      url: `${callbackUrl(base, 'connectwise', row.id, secret)}${ticket}`,
      signature: 'valid',
      signingKey: 'attacker-key',
      keyUrl,
      ticketId: ticket,
      companyId: 'northwind',
    });
    expect(forged.status).toBe(401);
    const logged = lines.slice(before).filter((line) => line.includes('signing-key URL is not on a ConnectWise host'));
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0]!)).toMatchObject({ keyHost: 'na.myconnectwise.net.evil.example', integrationId: row.id });
    expect(lines.join('\n')).not.toContain(secret);
    expect(lines.join('\n')).not.toContain('companyName=northwind&id=x');
  });
});
