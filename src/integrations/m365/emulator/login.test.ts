import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../../../world/fixture.ts';
import { tenantIdOf } from '../../../world/ids.ts';
import { clientAssertion, GRAPH_SCOPE } from '../client.ts';
import { createSelfSignedCertificate } from './certificate.ts';
import { emulatorAppCredentials, emulatorMspAppCredentials, fetchEmulatorMspApps, type GraphEmulator, type MspAppCredentials, startGraphEmulator } from './index.ts';

/**
 * The emulated Entra token endpoint over plain HTTP: the MSPs' multi-tenant apps (client secret or
 * certificate), consent per tenant, and the ways Entra refuses a client assertion.
 */

let emulator: GraphEmulator;
let northwind: MspAppCredentials;

type TokenAnswer = { status: number; body: { error?: string; error_description?: string; error_codes?: number[]; access_token?: string } };

async function token(tenant: string, form: Record<string, string>): Promise<TokenAnswer> {
  const answer = await fetch(`${emulator.loginUrl}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: GRAPH_SCOPE, ...form }).toString(),
  });
  return { status: answer.status, body: (await answer.json()) as TokenAnswer['body'] };
}

function tokenUrl(tenantId: string): string {
  return `${emulator.loginUrl}/${tenantId}/oauth2/v2.0/token`;
}

function assertionForm(assertion: string, clientId = northwind.clientId): Record<string, string> {
  return { client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
}

/** A JWT with the given header and claims, signed RS256 with the northwind certificate's key. */
function signed(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey(northwind.certificate.privateKeyPem)).toString('base64url')}`;
}

function claimsFor(tenantId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { aud: tokenUrl(tenantId), iss: northwind.clientId, sub: northwind.clientId, jti: crypto.randomUUID(), nbf: now, exp: now + 600, ...overrides };
}

const x5t = () => Buffer.from(northwind.certificate.thumbprint, 'hex').toString('base64url');

beforeAll(async () => {
  emulator = await startGraphEmulator({ world: loadDemoWorld() });
  northwind = await emulator.mspAppCredentials('northwind');
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the MSP apps', () => {
  it('are listed with their credentials and consents at /_emulator/apps, the same the running emulator gives', async () => {
    const apps = await fetchEmulatorMspApps(emulator.loginUrl);
    expect(apps.map((a) => a.mspId).sort()).toEqual(loadDemoWorld().msps.map((m) => m.id).sort());
    expect(apps.find((a) => a.mspId === 'northwind')).toEqual(northwind);
    expect(apps.find((a) => a.mspId === 'tailspin')?.tenants).toEqual([{ client: 'adatum', tenantId: tenantIdOf('adatum') }]);
    const one = await fetch(`${emulator.loginUrl}/_emulator/apps/northwind`);
    expect(await one.json()).toEqual(northwind);
    expect((await fetch(`${emulator.loginUrl}/_emulator/apps/nobody`)).status).toBe(404);
  });

  it('carry a real self-signed certificate: its thumbprints are those of its DER, it verifies with its own key, and matches the private key', () => {
    const certificate = new X509Certificate(northwind.certificate.certificatePem);
    expect(certificate.fingerprint.replaceAll(':', '')).toBe(northwind.certificate.thumbprint);
    expect(certificate.fingerprint256.replaceAll(':', '')).toBe(northwind.certificate.thumbprintSha256);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.checkPrivateKey(createPrivateKey(northwind.certificate.privateKeyPem))).toBe(true);
    expect(certificate.subject).toBe('CN=deskhand emulator: northwind');
    expect(Date.parse(certificate.validTo)).toBeGreaterThan(Date.now());
  });

  it('keep their ids and secrets across emulators (derived from the fixture), while each emulator makes its own certificate', async () => {
    const other = await startGraphEmulator({ world: loadDemoWorld() });
    try {
      const again = await other.mspAppCredentials('northwind');
      expect({ clientId: again.clientId, clientSecret: again.clientSecret }).toEqual({ clientId: northwind.clientId, clientSecret: northwind.clientSecret });
      expect(emulatorMspAppCredentials('northwind')).toEqual({ mspId: 'northwind', clientId: northwind.clientId, clientSecret: northwind.clientSecret });
      expect(again.certificate.thumbprint).not.toBe(northwind.certificate.thumbprint);
      expect(emulatorMspAppCredentials('tailspin').clientSecret).not.toBe(northwind.clientSecret);
    } finally {
      await other.close();
    }
  });

  it('issue a token bound to the tenant it was asked for: it never reads another tenant, even one the app is consented in', async () => {
    const answer = await token(tenantIdOf('contoso'), { client_id: northwind.clientId, client_secret: northwind.clientSecret });
    expect(answer.status).toBe(200);
    const read = (upn: string) => fetch(`${emulator.url}/users/${encodeURIComponent(upn)}?$select=id`, { headers: { authorization: `Bearer ${answer.body.access_token}` } });
    expect((await read('alex.wilber@contoso.example')).status).toBe(200);
    expect((await read('alex.wilber@fabrikam.example')).status).toBe(404);
    expect(emulator.tenant('fabrikam').users.some((u) => u.userPrincipalName === 'alex.wilber@fabrikam.example')).toBe(false);
    const fabrikamUpn = emulator.tenant('fabrikam').users[0]!.userPrincipalName;
    expect((await read(fabrikamUpn)).status).toBe(404);
  });

  it("consent is per tenant: given and withdrawn over HTTP, back to the fixture's on reset", async () => {
    const adatum = () => token(tenantIdOf('adatum'), { client_id: northwind.clientId, client_secret: northwind.clientSecret });
    expect((await adatum()).body.error_codes).toEqual([700016]);
    const given = await fetch(`${emulator.loginUrl}/_emulator/apps/northwind/consents/adatum`, { method: 'PUT' });
    expect(((await given.json()) as { tenants: { client: string }[] }).tenants.map((t) => t.client).sort()).toEqual(['adatum', 'contoso', 'fabrikam']);
    expect((await adatum()).status).toBe(200);
    expect((await fetch(`${emulator.loginUrl}/_emulator/apps/northwind/consents/contoso`, { method: 'DELETE' })).status).toBe(200);
    expect((await token(tenantIdOf('contoso'), { client_id: northwind.clientId, client_secret: northwind.clientSecret })).body.error_codes).toEqual([700016]);
    emulator.reset();
    expect((await adatum()).body.error_codes).toEqual([700016]);
    expect((await token(tenantIdOf('contoso'), { client_id: northwind.clientId, client_secret: northwind.clientSecret })).status).toBe(200);
  });

  it("keep the per-client app apart: it signs in to its own tenant only, and has no certificate", async () => {
    const contosoApp = emulatorAppCredentials('contoso');
    expect((await token(tenantIdOf('contoso'), { client_id: contosoApp.clientId, client_secret: contosoApp.clientSecret })).status).toBe(200);
    expect((await token(tenantIdOf('fabrikam'), { client_id: contosoApp.clientId, client_secret: contosoApp.clientSecret })).body.error_codes).toEqual([700016]);
    const assertion = clientAssertion({ clientId: contosoApp.clientId, tokenUrl: tokenUrl(tenantIdOf('contoso')), certificate: northwind.certificate });
    const answer = await token(tenantIdOf('contoso'), assertionForm(assertion, contosoApp.clientId));
    expect(answer.status).toBe(401);
    expect(answer.body.error_description).toMatch(/^AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application/);
  });
});

describe('client assertions Entra refuses', () => {
  const contoso = () => tenantIdOf('contoso');

  it('accepts RS256 with x5t and PS256 with x5t#S256', async () => {
    expect((await token(contoso(), assertionForm(clientAssertion({ clientId: northwind.clientId, tokenUrl: tokenUrl(contoso()), certificate: northwind.certificate })))).status).toBe(200);
    const sha256 = { privateKeyPem: northwind.certificate.privateKeyPem, thumbprint: northwind.certificate.thumbprintSha256 };
    expect((await token(contoso(), assertionForm(clientAssertion({ clientId: northwind.clientId, tokenUrl: tokenUrl(contoso()), certificate: sha256 })))).status).toBe(200);
  });

  it("refuses iss or sub other than the client id (AADSTS700021), and an audience of another host's endpoint (AADSTS700023)", async () => {
    for (const claims of [claimsFor(contoso(), { iss: 'someone-else' }), claimsFor(contoso(), { sub: 'someone-else' })]) {
      const answer = await token(contoso(), assertionForm(signed({ alg: 'RS256', typ: 'JWT', x5t: x5t() }, claims)));
      expect(answer.body.error_codes).toEqual([700021]);
    }
    const elsewhere = await token(contoso(), assertionForm(signed({ alg: 'RS256', typ: 'JWT', x5t: x5t() }, claimsFor(contoso(), { aud: `https://login.microsoftonline.com/${contoso()}/oauth2/v2.0/token` }))));
    expect(elsewhere.body.error_codes).toEqual([700023]);
  });

  it('accepts the tenant by domain and the v1 endpoint in aud, as Entra does', async () => {
    for (const aud of [`${emulator.loginUrl}/contoso.example/oauth2/v2.0/token`, `${emulator.loginUrl}/${contoso()}/oauth2/token`]) {
      expect((await token(contoso(), assertionForm(signed({ alg: 'RS256', typ: 'JWT', x5t: x5t() }, claimsFor(contoso(), { aud }))))).status, aud).toBe(200);
    }
  });

  it('refuses an assertion not yet valid, expired, or valid for longer than an hour (AADSTS700024)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const times of [{ nbf: now + 900, exp: now + 1200 }, { nbf: now - 1800, exp: now - 900 }, { nbf: now, exp: now + 7200 }]) {
      const answer = await token(contoso(), assertionForm(signed({ alg: 'RS256', typ: 'JWT', x5t: x5t() }, claimsFor(contoso(), times))));
      expect(answer.status, JSON.stringify(times)).toBe(401);
      expect(answer.body.error_codes, JSON.stringify(times)).toEqual([700024]);
    }
  });

  it('refuses an unsigned or HMAC token, one without a thumbprint, without jti, and one that is no JWT (AADSTS50027)', async () => {
    const claims = claimsFor(contoso());
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', x5t: x5t() })).toString('base64url')}.${body}.`;
    const cases = [
      unsigned,
      signed({ alg: 'HS256', typ: 'JWT', x5t: x5t() }, claims),
      signed({ alg: 'RS256', typ: 'JWT' }, claims),
      signed({ alg: 'RS256', typ: 'JWT', x5t: x5t() }, { ...claimsFor(contoso()), jti: undefined }),
      'not-a-jwt',
    ];
    for (const assertion of cases) {
      const answer = await token(contoso(), assertionForm(assertion));
      expect(answer.status, assertion.slice(0, 40)).toBe(401);
      expect(answer.body.error_codes, assertion.slice(0, 40)).toEqual([50027]);
    }
  });

  it("refuses a signature made with another key under the registered thumbprint (AADSTS700027), and a thumbprint it does not know", async () => {
    const stranger = await createSelfSignedCertificate('stranger');
    const forged = clientAssertion({ clientId: northwind.clientId, tokenUrl: tokenUrl(contoso()), certificate: { privateKeyPem: stranger.privateKeyPem, thumbprint: northwind.certificate.thumbprint } });
    const answer = await token(contoso(), assertionForm(forged));
    expect(answer.body.error_description).toMatch(/^AADSTS700027: Client assertion failed signature validation\. \[Reason - Key was found/);
    const unknown = clientAssertion({ clientId: northwind.clientId, tokenUrl: tokenUrl(contoso()), certificate: stranger });
    expect((await token(contoso(), assertionForm(unknown))).body.error_description).toContain(`Thumbprint of key used by client: '${stranger.thumbprint}'`);
  });

  it('refuses a request with both credentials, an assertion without its type, and no credential at all', async () => {
    const assertion = clientAssertion({ clientId: northwind.clientId, tokenUrl: tokenUrl(contoso()), certificate: northwind.certificate });
    const both = await token(contoso(), { ...assertionForm(assertion), client_secret: northwind.clientSecret });
    expect([both.status, both.body.error]).toEqual([400, 'invalid_request']);
    const untyped = await token(contoso(), { client_id: northwind.clientId, client_assertion: assertion });
    expect(untyped.body.error_codes).toEqual([90014]);
    const none = await token(contoso(), { client_id: northwind.clientId });
    expect([none.status, none.body.error_codes]).toEqual([401, [7000216]]);
  });
});
