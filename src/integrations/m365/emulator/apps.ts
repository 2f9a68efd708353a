import { constants, timingSafeEqual, verify } from 'node:crypto';
import type { World } from '../../../world/fixture.ts';
import { tenantIdOf } from '../../../world/ids.ts';
import { createSelfSignedCertificate, type SelfSignedCertificate } from './certificate.ts';
import { emulatorAppCredentials, emulatorMspAppCredentials, type MspAppCredentials } from './credentials.ts';
import { AadError } from './replies.ts';

/**
 * The app registrations Entra knows in the emulated world, and how the token endpoint authenticates
 * them:
 * - one per fixture client, registered in that client's tenant only, with a client secret: the
 *   per-client credential override;
 * - one multi-tenant app per MSP (how MSPs connect Microsoft 365), with a client secret and a
 *   certificate, consented (a service principal exists) in the tenant of every client of that MSP.
 *   An admin can withdraw or give consent (`setConsent`); `reset()` goes back to the fixture's.
 *
 * A certificate credential is a client assertion (RFC 7523): a JWT signed RS256 or PS256 with the
 * certificate's private key, naming the certificate by `x5t` (SHA-1 thumbprint) or `x5t#S256`, with
 * `aud` = the token endpoint, `iss` = `sub` = the app id, `exp`, `nbf`, `jti`. Refusals carry Entra's
 * AADSTS codes and first lines (Microsoft's error reference and what Entra answers in the field).
 */

export interface AppRegistration {
  appId: string;
  kind: 'client' | 'msp';
  /** The fixture client id (kind `client`) or MSP id (kind `msp`). */
  owner: string;
  secret: string;
}

/** Allowed difference between the caller's clock and the emulator's. */
const CLOCK_SKEW_SECONDS = 300;
/**
 * The longest an assertion may be valid. Entra documents no limit (its docs advise 5 to 10 minutes);
 * the emulator keeps every redeemed `jti` until its assertion expires, so it bounds the lifetime.
 */
const MAX_ASSERTION_LIFETIME_SECONDS = 3600;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CERTIFICATE_DOCS = 'Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .';
const REPLAY_PRUNE_AT = 10_000;

export class AppDirectory {
  private readonly apps = new Map<string, AppRegistration>();
  /** App id → tenant ids where the app has a service principal (was consented). */
  private consents = new Map<string, Set<string>>();
  /** Made on first use (RSA key generation takes a few hundred ms), then kept for the emulator's life. */
  private readonly certificates = new Map<string, Promise<SelfSignedCertificate>>();
  private readonly ready = new Map<string, SelfSignedCertificate>();
  /** `appId/jti` → when the assertion expires (ms): a redeemed assertion is not accepted again. */
  private readonly redeemed = new Map<string, number>();

  constructor(private readonly world: World) {
    for (const client of world.clients) {
      const app = emulatorAppCredentials(client.id);
      this.apps.set(app.clientId, { appId: app.clientId, kind: 'client', owner: client.id, secret: app.clientSecret });
    }
    for (const msp of world.msps) {
      const app = emulatorMspAppCredentials(msp.id);
      this.apps.set(app.clientId, { appId: app.clientId, kind: 'msp', owner: msp.id, secret: app.clientSecret });
    }
    this.resetConsents();
  }

  /** The fixture's consents: each client's own app in its tenant, each MSP's app in its clients' tenants. */
  resetConsents(): void {
    this.consents = new Map();
    for (const app of this.apps.values()) this.consents.set(app.appId, new Set(this.fixtureTenants(app)));
  }

  private fixtureTenants(app: AppRegistration): string[] {
    if (app.kind === 'client') return [tenantIdOf(app.owner)];
    const msp = this.world.msps.find((m) => m.id === app.owner);
    return this.world.clients.filter((c) => c.msp === app.owner || msp?.clients.includes(c.id)).map((c) => tenantIdOf(c.id));
  }

  app(appId: string): AppRegistration | undefined {
    return this.apps.get(appId.toLowerCase());
  }

  mspApp(mspId: string): AppRegistration | undefined {
    return [...this.apps.values()].find((a) => a.kind === 'msp' && a.owner === mspId);
  }

  mspIds(): string[] {
    return [...this.apps.values()].filter((a) => a.kind === 'msp').map((a) => a.owner);
  }

  isConsented(app: AppRegistration, tenantId: string): boolean {
    return this.consents.get(app.appId)?.has(tenantId) ?? false;
  }

  /** The apps with a service principal (consent) in the tenant. */
  appsIn(tenantId: string): AppRegistration[] {
    return [...this.apps.values()].filter((app) => this.isConsented(app, tenantId));
  }

  consentedTenants(app: AppRegistration): string[] {
    return [...(this.consents.get(app.appId) ?? [])];
  }

  /** An admin of the tenant consents to the MSP's app (true) or removes its enterprise application (false). */
  setConsent(mspId: string, tenantId: string, consented: boolean): void {
    const app = this.mspApp(mspId);
    if (!app) throw new Error(`the Graph emulator has no app of the MSP ${mspId}`);
    const tenants = this.consents.get(app.appId) ?? new Set<string>();
    if (consented) tenants.add(tenantId);
    else tenants.delete(tenantId);
    this.consents.set(app.appId, tenants);
  }

  /** The MSP app's certificate, made on first use. */
  certificate(app: AppRegistration): Promise<SelfSignedCertificate> {
    let pending = this.certificates.get(app.appId);
    if (!pending) {
      pending = createSelfSignedCertificate(`deskhand emulator: ${app.owner}`).then((certificate) => {
        this.ready.set(app.appId, certificate);
        return certificate;
      });
      this.certificates.set(app.appId, pending);
    }
    return pending;
  }

  async mspAppCredentials(mspId: string, tenantName: (tenantId: string) => string): Promise<MspAppCredentials> {
    const app = this.mspApp(mspId);
    if (!app) throw new Error(`the Graph emulator has no app of the MSP ${mspId}`);
    const certificate = await this.certificate(app);
    return {
      mspId,
      clientId: app.appId,
      clientSecret: app.secret,
      certificate: {
        privateKeyPem: certificate.privateKeyPem,
        thumbprint: certificate.thumbprint,
        thumbprintSha256: certificate.thumbprintSha256,
        certificatePem: certificate.certificatePem,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
      },
      tenants: this.consentedTenants(app).map((tenantId) => ({ client: tenantName(tenantId), tenantId })),
    };
  }

  // ----- authentication ------------------------------------------------------------------------

  /**
   * Checks the credential of a client-credentials request for `app` in the tenant: a client secret,
   * or a client assertion whose audience is one of `audiences` (this tenant's token endpoint). Throws
   * Entra's refusal.
   */
  authenticate(app: AppRegistration, form: { client_secret?: string | undefined; client_assertion?: string | undefined; client_assertion_type?: string | undefined }, audiences: readonly string[]): void {
    if (form.client_secret !== undefined && form.client_assertion !== undefined) {
      throw new AadError(400, 'invalid_request', 'AADSTS9002313: Invalid request. Request is malformed or invalid.');
    }
    if (form.client_secret !== undefined) {
      if (!sameSecret(form.client_secret, app.secret)) {
        throw new AadError(
          401,
          'invalid_client',
          `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
        );
      }
      return;
    }
    if (form.client_assertion !== undefined) {
      if (form.client_assertion_type === undefined) {
        throw new AadError(400, 'invalid_request', "AADSTS90014: The required field 'client_assertion_type' is missing from the credential. Ensure that you have all the necessary parameters for the login request.");
      }
      if (form.client_assertion_type !== JWT_BEARER) {
        throw new AadError(400, 'invalid_request', 'AADSTS9002313: Invalid request. Request is malformed or invalid.');
      }
      this.checkAssertion(app, form.client_assertion, audiences);
      return;
    }
    throw new AadError(401, 'invalid_client', "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
  }

  private checkAssertion(app: AppRegistration, assertion: string, audiences: readonly string[]): void {
    const jwt = decodeJwt(assertion);
    if (!jwt) throw new AadError(401, 'invalid_client', 'AADSTS50027: JWT token is invalid or malformed.');
    const { header, claims, signingInput, signature } = jwt;
    if (header['alg'] !== 'RS256' && header['alg'] !== 'PS256') {
      throw new AadError(401, 'invalid_client', `AADSTS50027: Invalid JWT token. The signing algorithm '${String(header['alg']).slice(0, 20)}' is not supported (RS256 or PS256).`);
    }
    const sha256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
    const sha1 = typeof header['x5t'] === 'string' ? header['x5t'] : undefined;
    if (sha256 === undefined && sha1 === undefined) {
      throw new AadError(401, 'invalid_client', 'AADSTS50027: Invalid JWT token. No certificate thumbprint specified in token header.');
    }
    const named = thumbprintHex(sha256 ?? sha1!);
    const certificate = this.ready.get(app.appId);
    const registered = certificate && (sha256 !== undefined ? sha256 === base64url(certificate.thumbprintSha256) : sha1 === base64url(certificate.thumbprint));
    if (!certificate || !registered) {
      throw new AadError(
        401,
        'invalid_client',
        `AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${named}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.]`,
      );
    }
    const key =
      header['alg'] === 'PS256' ? { key: certificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : certificate.publicKey;
    if (!verify('sha256', Buffer.from(signingInput), key, signature)) {
      throw new AadError(
        401,
        'invalid_client',
        `AADSTS700027: Client assertion failed signature validation. [Reason - Key was found, but use of the key to verify the signature failed., Thumbprint of key used by client: '${named}', Found key 'Start=${keyDate(certificate.notBefore)}, End=${keyDate(certificate.notAfter)}']`,
      );
    }
    const aud = claims['aud'];
    const audienceList = Array.isArray(aud) ? aud : [aud];
    if (!audienceList.some((a) => typeof a === 'string' && audiences.includes(a.toLowerCase()))) {
      throw new AadError(401, 'invalid_client', `AADSTS700023: Client assertion audience claim does not match Realm issuer. ${CERTIFICATE_DOCS}`);
    }
    if (claims['iss'] !== app.appId || claims['sub'] !== app.appId) {
      throw new AadError(401, 'invalid_client', `AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter. ${CERTIFICATE_DOCS}`);
    }
    const now = Date.now() / 1000;
    const exp = claims['exp'];
    const nbf = claims['nbf'] ?? claims['iat'] ?? 0;
    if (typeof exp !== 'number' || typeof nbf !== 'number') throw new AadError(401, 'invalid_client', 'AADSTS50027: JWT token is invalid or malformed.');
    if (now > exp + CLOCK_SKEW_SECONDS || now < nbf - CLOCK_SKEW_SECONDS || exp - Math.max(now, nbf) > MAX_ASSERTION_LIFETIME_SECONDS) {
      throw new AadError(
        401,
        'invalid_client',
        `AADSTS700024: Client assertion is not within its valid time range. Current time: ${entraTime(now)}, assertion valid from ${entraTime(nbf)}, expiry time of assertion ${entraTime(exp)}. ${CERTIFICATE_DOCS}`,
      );
    }
    const jti = claims['jti'];
    if (typeof jti !== 'string' || jti === '') throw new AadError(401, 'invalid_client', "AADSTS50027: Invalid JWT token. The assertion has no 'jti' claim.");
    // Entra does not document refusing a replayed assertion; the emulator does (RFC 7523 3: a server
    // may keep used jti values), so that a client which resends one assertion fails here first.
    const replayKey = `${app.appId}/${jti}`;
    if (this.redeemed.has(replayKey)) {
      throw new AadError(401, 'invalid_client', `AADSTS50013: Assertion is invalid: an assertion with this 'jti' was already redeemed. ${CERTIFICATE_DOCS}`);
    }
    this.remember(replayKey, (exp + CLOCK_SKEW_SECONDS) * 1000);
  }

  private remember(key: string, until: number): void {
    if (this.redeemed.size >= REPLAY_PRUNE_AT) {
      const now = Date.now();
      for (const [k, expires] of this.redeemed) if (expires < now) this.redeemed.delete(k);
    }
    this.redeemed.set(key, until);
  }
}

// ---------------------------------------------------------------------------------------------
// Small pure pieces
// ---------------------------------------------------------------------------------------------

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function decodeJwt(
  token: string,
): { header: Record<string, unknown>; claims: Record<string, unknown>; signingInput: string; signature: Buffer } | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    if (!isObject(header) || !isObject(claims)) return null;
    return { header, claims, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Hex thumbprint → the base64url form a JWT header carries. */
function base64url(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64url');
}

/** The header's thumbprint as Entra quotes it back: upper-case hex (at most 64 characters). */
function thumbprintHex(value: string): string {
  return Buffer.from(value, 'base64url').subarray(0, 32).toString('hex').toUpperCase();
}

/** Entra's `2024-10-02T22:05:03.6755165Z` (seven fractional digits). */
function entraTime(seconds: number): string {
  const at = new Date(Math.round(seconds * 1000));
  return Number.isNaN(at.getTime()) ? String(seconds) : at.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** `MM/DD/YYYY HH:MM:SS`, as Entra describes the key it found. */
function keyDate(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)} ${iso.slice(11, 19)}`;
}
