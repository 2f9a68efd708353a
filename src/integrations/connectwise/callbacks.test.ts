import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { ConnectWiseClient } from './client.ts';
import {
  API_MEMBER_IDENTIFIER,
  type ConnectWiseEmulator,
  emulatorApiCredentials,
  emulatorPortalCredentials,
  startConnectWiseEmulator,
} from './emulator/index.ts';
import { parseCallback, SIGNATURE_HEADER, SigningKeyCache, ticketIntakeFromCallback, verifyCallbackSignature } from './webhook.ts';

/**
 * End to end over real HTTP: deskhand registers its webhook with the emulated ConnectWise, a ticket
 * arrives through the portal member, the signed callback reaches a receiver, and deskhand's own note
 * comes back as a callback that intake ignores.
 */

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny webhook receiver; `answer` decides each response (status, delay). */
async function startReceiver(answer: (n: number) => { status: number; delayMs?: number } = () => ({ status: 200 })) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const wake of waiters.splice(0)) wake();
      const { status, delayMs } = answer(received.length);
      setTimeout(() => res.writeHead(status).end(), delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Resolves once `count` requests have arrived. */
    async waitFor(count: number, timeoutMs = 5_000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} callbacks, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return received.slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let emulator: ConnectWiseEmulator;
let api: ConnectWiseClient;
let portal: ConnectWiseClient;
let receiver: Receiver | undefined;

beforeAll(async () => {
  emulator = await startConnectWiseEmulator({ world: loadDemoWorld(), delivery: { backoffMs: [50, 100] } });
  // The emulator names its key URLs on its second host name, which the client is told to trust.
  api = new ConnectWiseClient({ siteUrl: emulator.url, siteAliases: [emulator.aliasUrl!], ...emulatorApiCredentials('northwind') });
  portal = new ConnectWiseClient({ siteUrl: emulator.url, ...emulatorPortalCredentials('northwind') });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => emulator.reset());

afterEach(async () => {
  await emulator.deliveriesSettled();
  await receiver?.close();
  receiver = undefined;
});

/** What deskhand's webhook route does with one delivery: parse, verify, decide. */
async function intake(delivery: Received, cache = new SigningKeyCache()) {
  const payload = parseCallback(delivery.body);
  await verifyCallbackSignature({
    rawBody: delivery.body,
    signatureHeader: delivery.headers[SIGNATURE_HEADER],
    keyUrl: payload.keyUrl,
    configuredSiteUrl: api.siteUrl,
    trustedOrigins: api.trustedOrigins,
    companyId: api.companyId,
    fetchSigningKey: (url) => api.fetchSigningKey(url),
    cache,
  });
  return { payload, decision: ticketIntakeFromCallback(payload, { apiMemberIdentifier: API_MEMBER_IDENTIFIER }) };
}

function createPortalTicket(summary = 'Could you give me Zendesk access') {
  return portal.createTicket({
    summary,
    company: { identifier: 'contoso' },
    contactEmailAddress: 'megan.bowen@contoso.example',
    initialDescription: 'I need Zendesk for the support rota.',
  });
}

describe('ConnectWise callbacks end to end', () => {
  it('delivers a signed `added` callback that intake accepts, and ignores deskhand’s own note', async () => {
    receiver = await startReceiver();
    await api.registerCallback({ url: `${receiver.url}/webhooks/connectwise`, description: 'deskhand intake' });

    const ticket = await createPortalTicket();
    const [added] = await receiver.waitFor(1);
    // ConnectWise appends the record id to whatever URL was registered.
    expect(added!.path).toBe(`/webhooks/connectwise${ticket.id}`);
    expect(added!.headers['content-type']).toBe('application/json');
    const first = await intake(added!);
    expect(first.payload).toMatchObject({ action: 'added', type: 'ticket', id: ticket.id, memberId: 'portal', companyId: 'northwind' });
    expect(first.payload.keyUrl.startsWith(`${emulator.aliasUrl}/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=`)).toBe(true);
    expect(first.decision).toMatchObject({ create: true, ticketId: ticket.id, companyIdentifier: 'contoso' });
    // Real key URLs carry `//` after the codebase; the same key must come back either way.
    const doubled = first.payload.keyUrl.replace('/system/', '//system/');
    expect(await api.fetchSigningKey(doubled)).toBe(await api.fetchSigningKey(first.payload.keyUrl));

    await api.addTicketNote(ticket.id, { text: 'Diagnosis and plan ...', visibility: 'internal' });
    const [, updated] = await receiver.waitFor(2);
    const second = await intake(updated!);
    expect(second.payload).toMatchObject({ action: 'updated', id: ticket.id, memberId: API_MEMBER_IDENTIFIER });
    expect(second.decision).toMatchObject({ create: false, reason: 'own_change' });

    // The receiver has the request before the emulator has its answer: wait for the delivery to finish.
    await emulator.deliveriesSettled();
    const deliveries = emulator.deliveries();
    expect(deliveries.map((d) => [d.action, d.memberId, d.state])).toEqual([
      ['added', 'portal', 'delivered'],
      ['updated', 'deskhand', 'delivered'],
    ]);
  });

  it('does not make the API call wait for the callback', async () => {
    receiver = await startReceiver(() => ({ status: 200, delayMs: 1_500 }));
    await api.registerCallback({ url: `${receiver.url}/hook`, description: 'slow receiver' });
    const started = Date.now();
    await createPortalTicket();
    expect(Date.now() - started).toBeLessThan(1_000);
    await receiver.waitFor(1);
  });

  it('retries a failed delivery with backoff and records every attempt', async () => {
    receiver = await startReceiver((n) => ({ status: n < 3 ? 500 : 200 }));
    await api.registerCallback({ url: `${receiver.url}/hook`, description: 'flaky receiver' });
    await createPortalTicket();
    await emulator.deliveriesSettled();
    const [delivery] = emulator.deliveries();
    expect(delivery!.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(delivery!.state).toBe('delivered');
    // Every attempt carries the same signed bytes.
    const bodies = new Set(receiver.received.map((r) => r.body));
    expect(bodies.size).toBe(1);
    await expect(intake(receiver.received[2]!)).resolves.toMatchObject({ decision: { create: true } });
  });

  it('appends the record id to the registered URL by plain concatenation (a query parameter then takes it)', async () => {
    receiver = await startReceiver();
    await api.registerCallback({ url: `${receiver.url}/hook?recordId=`, description: 'with record id' });
    const ticket = await createPortalTicket();
    const [delivery] = await receiver.waitFor(1);
    expect(delivery!.path).toBe(`/hook?recordId=${ticket.id}`);
  });

  it('stops delivering after the registration is deleted', async () => {
    receiver = await startReceiver();
    const { callback } = await api.registerCallback({ url: `${receiver.url}/hook`, description: 'to delete' });
    await api.deleteCallback(callback.id);
    await createPortalTicket();
    await emulator.deliveriesSettled();
    expect(emulator.deliveries()).toEqual([]);
    expect(receiver.received).toEqual([]);
  });
});

describe('forged callbacks are refused', () => {
  it('refuses an unsigned or wrongly signed callback', async () => {
    receiver = await startReceiver();
    const ticket = await createPortalTicket();
    await emulator.forgeCallback({ url: `${receiver.url}/hook`, ticketId: ticket.id, signature: 'none' });
    await emulator.forgeCallback({ url: `${receiver.url}/hook`, ticketId: ticket.id, signature: 'invalid' });
    const [unsigned, wrong] = await receiver.waitFor(2);
    await expect(intake(unsigned!)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/no x-content-signature/) });
    await expect(intake(wrong!)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/does not match/) });
    // A valid forge (the emulator's own key) passes: the refusals above are about the signature.
    await emulator.forgeCallback({ url: `${receiver.url}/hook`, ticketId: ticket.id, signature: 'valid' });
    const [, , valid] = await receiver.waitFor(3);
    await expect(intake(valid!)).resolves.toMatchObject({ decision: { create: true, ticketId: ticket.id } });
  });

  it('refuses a key URL on the right host that names a key the site does not know', async () => {
    receiver = await startReceiver();
    const keyUrl = `${emulator.url}/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=made-up`;
    await emulator.forgeCallback({ url: `${receiver.url}/hook`, signature: 'valid', keyUrl, signingKey: 'guessed-key' });
    const [forged] = await receiver.waitFor(1);
    await expect(intake(forged!)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/does not know/) });
  });

  it('never fetches a signing key from a host other than the configured site', async () => {
    receiver = await startReceiver();
    const attacker = await startReceiver();
    try {
      const keyUrl = `${attacker.url}/v4_6_release/system/callbackkey/index.rails?companyName=northwind&id=x`;
      await emulator.forgeCallback({ url: `${receiver.url}/hook`, signature: 'valid', keyUrl, signingKey: 'attacker-key' });
      const [forged] = await receiver.waitFor(1);
      const error = await intake(forged!).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DeskhandError);
      expect((error as DeskhandError).code).toBe('unauthorized');
      expect(attacker.received).toEqual([]);
    } finally {
      await attacker.close();
    }
  });
});
