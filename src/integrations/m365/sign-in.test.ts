import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { tenantIdOf } from '../../world/ids.ts';
import { clientAssertion, GRAPH_SCOPE, GraphClient } from './client.ts';
import { createSelfSignedCertificate } from './emulator/certificate.ts';
import { emulatorMspAppCredentials, type GraphEmulator, type MspAppCredentials } from './emulator/index.ts';
import { startDemoGraphEmulator } from './testing.ts';

/**
 * GraphClient signing in the way MSPs connect Microsoft 365: one multi-tenant app per MSP (its
 * client secret, or its certificate's client assertion), used in each client's tenant after that
 * client's admin consented; against the emulator over real HTTP.
 */

let emulator: GraphEmulator;
let northwind: MspAppCredentials;

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

function tokenCalls(): { path: string; status: number }[] {
  return emulator.requests().filter((r) => r.path.endsWith('/oauth2/v2.0/token'));
}

function tokenUrl(tenantId: string): string {
  return `${emulator.loginUrl}/${tenantId}/oauth2/v2.0/token`;
}

async function postAssertion(tenantId: string, assertion: string): Promise<{ status: number; body: { error?: string; error_description?: string; access_token?: string } }> {
  const answer = await fetch(tokenUrl(tenantId), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: northwind.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      scope: GRAPH_SCOPE,
    }).toString(),
  });
  return { status: answer.status, body: (await answer.json()) as { error?: string; error_description?: string; access_token?: string } };
}

function decodePart(jwt: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[index]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A GraphClient for a client's tenant through the northwind MSP app. */
function mspClient(clientId: string, credential: { clientSecret: string } | { certificate: { privateKeyPem: string; thumbprint: string } }, http?: ConstructorParameters<typeof GraphClient>[0]['http']): GraphClient {
  return new GraphClient({
    tenantId: tenantIdOf(clientId),
    clientId: northwind.clientId,
    ...credential,
    graphBaseUrl: emulator.url,
    loginBaseUrl: emulator.loginUrl,
    ...(http ? { http } : {}),
  });
}

const certificate = () => ({ certificate: { privateKeyPem: northwind.certificate.privateKeyPem, thumbprint: northwind.certificate.thumbprint } });

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
  northwind = await emulator.mspAppCredentials('northwind');
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the MSP app', () => {
  it('is one app of the MSP, consented in the tenant of each of its clients, with the id and secret its seeding derives', async () => {
    expect(northwind).toMatchObject(emulatorMspAppCredentials('northwind'));
    expect(northwind.tenants.map((t) => t.client).sort()).toEqual(['contoso', 'fabrikam']);
    const certificateOnFile = new X509Certificate(northwind.certificate.certificatePem);
    expect(certificateOnFile.fingerprint.replaceAll(':', '')).toBe(northwind.certificate.thumbprint);
    expect(certificateOnFile.checkPrivateKey(createPrivateKey(northwind.certificate.privateKeyPem))).toBe(true);
  });

  it('signs in with the client secret in each consented tenant, one token per tenant, each seeing its own tenant only', async () => {
    const contoso = mspClient('contoso', { clientSecret: northwind.clientSecret });
    const fabrikam = mspClient('fabrikam', { clientSecret: northwind.clientSecret });
    expect((await contoso.getUser('alex.wilber@contoso.example'))?.displayName).toBe('Alex Wilber');
    expect(await fabrikam.getUser('alex.wilber@contoso.example')).toBeNull();
    expect((await fabrikam.listSubscribedSkus()).map((s) => s.skuPartNumber)).toEqual(['O365_BUSINESS_PREMIUM']);
    expect(tokenCalls().map((r) => [r.path, r.status])).toEqual([
      [`/${tenantIdOf('contoso')}/oauth2/v2.0/token`, 200],
      [`/${tenantIdOf('fabrikam')}/oauth2/v2.0/token`, 200],
    ]);
  });

  it('signs in with the certificate: an RS256 client assertion naming the certificate, for this token endpoint, fresh each time', async () => {
    const forms: URLSearchParams[] = [];
    const client = mspClient('contoso', certificate(), {
      fetchImpl: (input, init) => {
        if (String(input).endsWith('/oauth2/v2.0/token')) forms.push(new URLSearchParams(String(init?.body)));
        return fetch(input, init);
      },
    });
    expect((await client.listSubscribedSkus()).length).toBe(4);
    expect(forms).toHaveLength(1);
    const form = forms[0]!;
    expect(form.get('client_secret')).toBeNull();
    expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const assertion = form.get('client_assertion')!;
    expect(decodePart(assertion, 0)).toEqual({ alg: 'RS256', typ: 'JWT', x5t: Buffer.from(northwind.certificate.thumbprint, 'hex').toString('base64url') });
    const claims = decodePart(assertion, 1);
    expect(claims).toMatchObject({ aud: tokenUrl(tenantIdOf('contoso')), iss: northwind.clientId, sub: northwind.clientId });
    expect(claims['exp']).toBe((claims['nbf'] as number) + 600);
    expect(Math.abs((claims['nbf'] as number) - Date.now() / 1000)).toBeLessThan(60);
    expect(claims['jti']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('signs with PS256 and x5t#S256 when given the SHA-256 thumbprint', async () => {
    const forms: string[] = [];
    const client = mspClient(
      'fabrikam',
      { certificate: { privateKeyPem: northwind.certificate.privateKeyPem, thumbprint: northwind.certificate.thumbprintSha256 } },
      {
        fetchImpl: (input, init) => {
          if (String(input).endsWith('/token')) forms.push(new URLSearchParams(String(init?.body)).get('client_assertion') ?? '');
          return fetch(input, init);
        },
      },
    );
    expect((await client.listSubscribedSkus()).length).toBe(1);
    expect(decodePart(forms[0]!, 0)).toEqual({ alg: 'PS256', typ: 'JWT', 'x5t#S256': Buffer.from(northwind.certificate.thumbprintSha256, 'hex').toString('base64url') });
  });

  it('signs a retried token request anew: the attempt whose answer was lost already spent its assertion', async () => {
    // Tokens are cached per process: revoked, the cached one is refused and the client signs in again.
    emulator.revokeTokens();
    emulator.injectFault({ status: 503, afterEffect: true, pathContains: '/oauth2/' });
    const client = mspClient('contoso', certificate());
    expect((await client.listSubscribedSkus()).length).toBe(4);
    expect(tokenCalls().map((r) => r.status)).toEqual([503, 200]);
  });
});

describe('refused sign-ins', () => {
  it('refuses a wrong client secret (AADSTS7000215) as a config error that names neither secret', async () => {
    const error = await rejection(mspClient('contoso', { clientSecret: 'wrong-secret-value' }).listSubscribedSkus());
    expect(error.code).toBe('config');
    expect(error.message).toContain('AADSTS7000215');
    expect(error.message).toContain('client secret');
    const everything = `${error.message} ${JSON.stringify(error.details)}`;
    expect(everything).not.toContain('wrong-secret-value');
    expect(everything).not.toContain(northwind.clientSecret);
  });

  it('refuses a certificate that is not registered on the app (AADSTS700027), naming its thumbprint and not its key', async () => {
    const stranger = await createSelfSignedCertificate('not registered');
    const error = await rejection(mspClient('contoso', { certificate: { privateKeyPem: stranger.privateKeyPem, thumbprint: stranger.thumbprint } }).listSubscribedSkus());
    expect(error.code).toBe('config');
    expect(error.message).toContain('AADSTS700027');
    expect(error.message).toContain(stranger.thumbprint);
    expect(error.message).toContain('certificate');
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain('PRIVATE KEY');
  });

  it("refuses the registered thumbprint with another key's signature (AADSTS700027)", async () => {
    const stranger = await createSelfSignedCertificate('not registered');
    const error = await rejection(mspClient('contoso', { certificate: { privateKeyPem: stranger.privateKeyPem, thumbprint: northwind.certificate.thumbprint } }).listSubscribedSkus());
    expect(error.message).toContain('AADSTS700027');
    expect(error.message).toContain('signature');
  });

  it('refuses an assertion presented a second time', async () => {
    const assertion = clientAssertion({
      clientId: northwind.clientId,
      tokenUrl: tokenUrl(tenantIdOf('contoso')),
      certificate: certificate().certificate,
    });
    const first = await postAssertion(tenantIdOf('contoso'), assertion);
    expect(first.status).toBe(200);
    const again = await postAssertion(tenantIdOf('contoso'), assertion);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
    expect(again.body.error_description).toMatch(/^AADSTS50013: .*already redeemed/);
  });

  it('refuses an expired assertion (AADSTS700024)', async () => {
    const assertion = clientAssertion({
      clientId: northwind.clientId,
      tokenUrl: tokenUrl(tenantIdOf('contoso')),
      certificate: certificate().certificate,
      now: Date.now() - 20 * 60_000,
    });
    const answer = await postAssertion(tenantIdOf('contoso'), assertion);
    expect(answer.status).toBe(401);
    expect(answer.body.error_description).toMatch(/^AADSTS700024: Client assertion is not within its valid time range/);
  });

  it('refuses an assertion made for another tenant (AADSTS700023): a credential for one tenant never signs in to another', async () => {
    const forContoso = clientAssertion({ clientId: northwind.clientId, tokenUrl: tokenUrl(tenantIdOf('contoso')), certificate: certificate().certificate });
    const answer = await postAssertion(tenantIdOf('fabrikam'), forContoso);
    expect(answer.status).toBe(401);
    expect(answer.body.error_description).toMatch(/^AADSTS700023: /);
  });

  it("refuses a tenant whose admin never consented to the MSP's app (AADSTS700016), by secret and by certificate", async () => {
    for (const credential of [{ clientSecret: northwind.clientSecret }, certificate()]) {
      const error = await rejection(mspClient('adatum', credential).listSubscribedSkus());
      expect(error.code).toBe('config');
      expect(error.message).toContain('AADSTS700016');
      expect(error.message).toContain('consented');
    }
  });

  it('stops signing in once the client withdraws its consent, and again after it consents', async () => {
    emulator.setConsent('northwind', 'fabrikam', false);
    // A token issued before stays valid until it expires (as in Entra): revoked here, so that the client signs in again.
    emulator.revokeTokens();
    expect((await rejection(mspClient('fabrikam', { clientSecret: northwind.clientSecret }).listSubscribedSkus())).message).toContain('AADSTS700016');
    emulator.setConsent('northwind', 'fabrikam', true);
    expect((await mspClient('fabrikam', { clientSecret: northwind.clientSecret }).listSubscribedSkus()).length).toBe(1);
  });
});

describe('configuration', () => {
  it('takes exactly one credential, a PEM private key and a hex thumbprint, and never repeats them', () => {
    const base = { tenantId: tenantIdOf('contoso'), clientId: northwind.clientId };
    const secret = 's3cr3t-value';
    const pem = northwind.certificate.privateKeyPem;
    const cases: [string, unknown][] = [
      ['no credential', base],
      ['both', { ...base, clientSecret: secret, certificate: { privateKeyPem: pem, thumbprint: northwind.certificate.thumbprint } }],
      ['not a key', { ...base, certificate: { privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----`, thumbprint: northwind.certificate.thumbprint } }],
      ['a public key', { ...base, certificate: { privateKeyPem: createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString(), thumbprint: northwind.certificate.thumbprint } }],
      ['a short thumbprint', { ...base, certificate: { privateKeyPem: pem, thumbprint: `${secret}ABCDEF` } }],
    ];
    for (const [name, config] of cases) {
      let thrown: unknown;
      try {
        new GraphClient(config as ConstructorParameters<typeof GraphClient>[0]);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(DeskhandError);
      const error = thrown as DeskhandError;
      expect(error.code, name).toBe('config');
      expect(error.message, name).toContain('misconfigured');
      expect(error.message, name).not.toContain(secret);
      expect(error.message, name).not.toContain('PRIVATE KEY');
      expect(error.message, name).not.toContain(pem.slice(40, 80));
    }
  });

  it('accepts a thumbprint as the admin center shows it, or with colons and in lower case', async () => {
    const spaced = northwind.certificate.thumbprint.toLowerCase().match(/../g)!.join(':');
    const client = mspClient('contoso', { certificate: { privateKeyPem: northwind.certificate.privateKeyPem, thumbprint: spaced } });
    expect((await client.listSubscribedSkus()).length).toBe(4);
  });
});
