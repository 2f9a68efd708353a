import { constants, createHash, createPrivateKey, type KeyObject, randomUUID, sign } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { AuthMethod, DirectoryGroup, DirectoryUser, GroupKind, ServicePlan, SubscribedSku } from '../../core/directory.ts';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { baseUrlProblem, HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from '../http.ts';

/**
 * A Microsoft Graph v1.0 client for one client tenant, app-only (OAuth2 client credentials). It
 * speaks the product's directory types (src/core/directory.ts) so nothing above it knows Graph's
 * shapes, and it is the same code against graph.microsoft.com and against the emulator.
 */

export const GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';
export const LOGIN_BASE_URL = 'https://login.microsoftonline.com';
/** `.default` = every application permission consented for the app; Graph has no per-call scopes. */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** The fixed id of the password method in every tenant (Graph docs, resetPassword). */
export const PASSWORD_METHOD_ID = '28c10230-6103-485e-b985-444c60001490';

/**
 * A base URL the token and the client secret are sent to: https, or http to loopback (the emulator).
 * Whether configuration may name loopback is the registry's rule (src/integrations/registry.ts).
 */
const baseUrl = z.string().superRefine((value, ctx) => {
  const problem = baseUrlProblem(value, { developmentLoopback: true });
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * The app's private key, PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), read once. Entra
 * signs app credentials with RSA. Neither the key nor the reason OpenSSL gives is ever repeated.
 */
const privateKeyPem = z.string().transform((pem, ctx): KeyObject => {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a PEM private key (PKCS#8 or PKCS#1)' });
    return z.NEVER;
  }
  if (key.asymmetricKeyType !== 'rsa') {
    ctx.addIssue({ code: 'custom', message: 'must be an RSA private key (the key of the certificate registered on the app)' });
    return z.NEVER;
  }
  return key;
});

/** The certificate's thumbprint in hex as the Entra admin center shows it: SHA-1 (40) or SHA-256 (64); colons and spaces are ignored. */
const thumbprint = z
  .string()
  .transform((value) => value.replace(/[\s:]/g, '').toUpperCase())
  .pipe(z.string().regex(/^(?:[0-9A-F]{40}|[0-9A-F]{64})$/, "must be the certificate's SHA-1 or SHA-256 thumbprint in hex (40 or 64 characters)"));

const configSchema = z
  .object({
    tenantId: z.string().trim().min(1, 'tenantId is required'),
    clientId: z.string().trim().min(1, 'clientId is required'),
    /** The app's client secret, or: */
    clientSecret: z.string().min(1, 'clientSecret is empty').optional(),
    /** the certificate registered on the app (some Microsoft APIs accept only certificates for app-only sign-in). */
    certificate: z.strictObject({ privateKeyPem, thumbprint }).optional(),
    graphBaseUrl: baseUrl.default(GRAPH_BASE_URL),
    loginBaseUrl: baseUrl.default(LOGIN_BASE_URL),
    /** `$top` on collections; Graph allows up to 999 directory objects a page. */
    pageSize: z.number().int().min(1).max(999).default(999),
  })
  .superRefine((config, ctx) => {
    if ((config.clientSecret === undefined) === (config.certificate === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['credentials'], message: 'give exactly one of clientSecret or certificate' });
    }
  });

/** The certificate credential as the MSP stores it: the private key and the certificate's thumbprint. */
export interface GraphCertificate {
  privateKeyPem: string;
  thumbprint: string;
}

/**
 * One client tenant and the app that signs in to it: the MSP's multi-tenant app (consented by the
 * client's admin) or a per-client app, with a client secret or a certificate (exactly one).
 */
export type GraphClientConfig = z.input<typeof configSchema> & {
  /** Transport knobs passed to the shared HttpClient (tests shorten waits; production keeps defaults). */
  http?: Pick<HttpClientOptions, 'timeoutMs' | 'maxAttempts' | 'maxInlineWaitMs' | 'fetchImpl' | 'maxResponseBytes'>;
};

export interface SkuAssignment {
  skuId: string;
  skuPartNumber: string;
}

export interface MailMessage {
  to: string | string[];
  subject: string;
  text: string;
  /**
   * An idempotency marker, written at the end of the subject as `[ref MARKER]` (Graph's sendMail
   * returns no message id, so the subject is the only handle a later lookup in Sent Items has).
   * Letters, digits and `._:-`, at most 100 characters; see `mailMarker`.
   */
  marker?: string;
}

/** A message in the sender's Sent Items, as `findSentMail` returns it. */
export interface SentMailItem {
  id: string;
  subject: string;
  sentDateTime: string | null;
}

/** The user properties that show whether a write already happened (reconciliation after a crash). */
export interface UserState {
  accountEnabled: boolean | null;
  /** When the password was last set, by anyone (Graph's clock, whole seconds). */
  lastPasswordChangeDateTime: string | null;
  /** Tokens issued before this time are refused; a session revocation moves it to "now" (Graph's clock). */
  signInSessionsValidFromDateTime: string | null;
}

const USER_SELECT = 'id,userPrincipalName,displayName,givenName,surname,mail,jobTitle,department,accountEnabled,usageLocation';
const GROUP_SELECT = 'id,displayName,description,mail,groupTypes,mailEnabled,securityEnabled,isAssignableToRole';
const SKU_SELECT = 'skuId,skuPartNumber,prepaidUnits,consumedUnits,servicePlans';
const USER_STATE_SELECT = 'id,accountEnabled,lastPasswordChangeDateTime,signInSessionsValidFromDateTime';
const SENT_MAIL_SELECT = 'id,subject,sentDateTime';
/** Matches of one marked subject: one is the answer, more means it was already sent twice. */
const SENT_MAIL_TOP = 10;
const MARKER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
/** A guard against a server that never stops paging; far beyond any client tenant's size. */
const MAX_PAGES = 500;

// ---------------------------------------------------------------------------------------------
// Graph's response shapes, parsed at the edge
// ---------------------------------------------------------------------------------------------

const graphUser = z.object({
  id: z.string(),
  userPrincipalName: z.string().nullish(),
  displayName: z.string().nullish(),
  givenName: z.string().nullish(),
  surname: z.string().nullish(),
  mail: z.string().nullish(),
  jobTitle: z.string().nullish(),
  department: z.string().nullish(),
  accountEnabled: z.boolean().nullish(),
  usageLocation: z.string().nullish(),
});

const graphGroup = z.object({
  id: z.string(),
  displayName: z.string().nullish(),
  description: z.string().nullish(),
  mail: z.string().nullish(),
  groupTypes: z.array(z.string()).nullish(),
  mailEnabled: z.boolean().nullish(),
  securityEnabled: z.boolean().nullish(),
  isAssignableToRole: z.boolean().nullish(),
});

const graphGroupFacts = graphGroup.extend({ onPremisesSyncEnabled: z.boolean().nullish() });

/** A group's kind as Graph tells it: what decides which system may change its members. */
export interface GroupFacts {
  id: string;
  displayName: string;
  mail: string | null;
  groupTypes: string[];
  mailEnabled: boolean;
  securityEnabled: boolean;
  onPremisesSyncEnabled: boolean;
}

const graphUserState = z.object({
  id: z.string(),
  accountEnabled: z.boolean().nullish(),
  lastPasswordChangeDateTime: z.string().nullish(),
  signInSessionsValidFromDateTime: z.string().nullish(),
});

const graphMessage = z.object({
  id: z.string(),
  subject: z.string().nullish(),
  sentDateTime: z.string().nullish(),
});

/**
 * Graph's servicePlanInfo. Graph always sends all four properties; should one be missing, the plan is
 * kept (its name is what the planner matches) and read as provisioned for users, Graph's usual case.
 */
const graphServicePlan = z.object({
  servicePlanId: z.string(),
  servicePlanName: z.string(),
  provisioningStatus: z.string().nullish(),
  appliesTo: z.string().nullish(),
});

const graphSku = z.object({
  skuId: z.string(),
  skuPartNumber: z.string(),
  consumedUnits: z.number(),
  prepaidUnits: z.object({ enabled: z.number() }),
  /** Always there in a real tenant's answer; tolerated absent (a SubscribedSku then carries none). */
  servicePlans: z.array(graphServicePlan).nullish(),
});

const graphLicenseDetail = z.object({ skuId: z.string(), skuPartNumber: z.string() });

const graphAuthMethod = z.object({ id: z.string(), '@odata.type': z.string() });

const graphSignIn = z.object({
  signInActivity: z.object({ lastSignInDateTime: z.string().nullish() }).nullish(),
});

const graphServicePrincipal = z.object({ id: z.string(), appId: z.string(), displayName: z.string().nullish() });
const graphAppRoleAssignment = z.object({ appRoleId: z.string(), resourceId: z.string() });
const graphRoleAssignment = z.object({ roleDefinitionId: z.string(), directoryScopeId: z.string().default('/') });

/** An app's service principal in a tenant (the enterprise application its admin consent created). */
export type ServicePrincipal = z.infer<typeof graphServicePrincipal>;

const graphCollection = z.object({
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().optional(),
});

const graphErrorBody = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional() }),
});

/** The token endpoint's answer; `expires_in` has been seen as a string in older endpoints. */
const tokenResponse = z.object({
  token_type: z.string(),
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
});

const tokenErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });

// ---------------------------------------------------------------------------------------------
// Tokens: one per app registration and tenant, shared by every GraphClient of this process
// ---------------------------------------------------------------------------------------------

interface CachedToken {
  value: string;
  refreshAt: number;
}

/** Keyed by a hash that includes the credential, so a client with other credentials never borrows a token. */
const tokenCache = new Map<string, CachedToken>();
const tokenRequests = new Map<string, Promise<string>>();

/** Refresh before expiry: five minutes early, or a tenth of the lifetime for short-lived tokens. */
function refreshTime(now: number, expiresInSeconds: number): number {
  const lifetimeMs = expiresInSeconds * 1000;
  return now + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 10);
}

/** How the app proves who it is: a client secret, or a certificate's private key (and the certificate's thumbprint). */
type AppCredential = { clientSecret: string } | { certificate: { privateKey: KeyObject; thumbprint: string } };

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Microsoft: "keep it short: 5 to 10 minutes after nbf at most". */
const ASSERTION_LIFETIME_SECONDS = 600;
/** HttpClient's defaults, for the token requests that are retried here (see fetchWithAssertion). */
const TOKEN_ATTEMPTS = 3;
const TOKEN_MAX_INLINE_WAIT_MS = 2_000;

/**
 * A client assertion for the certificate credential (Microsoft identity platform, "certificate
 * credentials"; RFC 7523): a JWT signed with the certificate's private key. A SHA-1 thumbprint (what
 * the Entra admin center shows) is sent as `x5t` and signed RS256; a SHA-256 thumbprint as
 * `x5t#S256` and signed PS256, the newer pair Microsoft documents. Claims: `aud` = the token endpoint
 * it is sent to, `iss` = `sub` = the app's client id, `jti` random (an assertion is used once),
 * `nbf` = `iat` = now, `exp` ten minutes later. `now` (ms) is for tests.
 */
export function clientAssertion(input: {
  clientId: string;
  tokenUrl: string;
  certificate: { privateKey: KeyObject; thumbprint: string } | GraphCertificate;
  now?: number;
}): string {
  const key = 'privateKey' in input.certificate ? input.certificate.privateKey : createPrivateKey(input.certificate.privateKeyPem);
  const hex = input.certificate.thumbprint.replace(/[\s:]/g, '');
  const sha256 = hex.length === 64;
  const x5t = Buffer.from(hex, 'hex').toString('base64url');
  const header = sha256 ? { alg: 'PS256', typ: 'JWT', 'x5t#S256': x5t } : { alg: 'RS256', typ: 'JWT', x5t };
  const issuedAt = Math.floor((input.now ?? Date.now()) / 1000);
  const claims = {
    aud: input.tokenUrl,
    iss: input.clientId,
    sub: input.clientId,
    jti: randomUUID(),
    nbf: issuedAt,
    iat: issuedAt,
    exp: issuedAt + ASSERTION_LIFETIME_SECONDS,
  };
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = sha256
    ? sign('sha256', Buffer.from(signingInput), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
    : sign('sha256', Buffer.from(signingInput), key);
  return `${signingInput}.${signature.toString('base64url')}`;
}

class TokenSource {
  private readonly key: string;
  private readonly tokenPath: string;
  private readonly tokenUrl: string;
  private readonly login: HttpClient;
  /** The login host without HttpClient's retries: token requests with an assertion are retried here. */
  private readonly loginOnce: HttpClient;
  private readonly retry: { attempts: number; maxInlineWaitMs: number };

  constructor(
    loginOptions: HttpClientOptions,
    private readonly app: { loginBaseUrl: string; tenantId: string; clientId: string; credential: AppCredential; scope: string },
  ) {
    const { loginBaseUrl, tenantId, clientId, credential, scope } = app;
    this.login = new HttpClient(loginOptions);
    this.loginOnce = new HttpClient({ ...loginOptions, maxAttempts: 1 });
    this.retry = { attempts: loginOptions.maxAttempts ?? TOKEN_ATTEMPTS, maxInlineWaitMs: loginOptions.maxInlineWaitMs ?? TOKEN_MAX_INLINE_WAIT_MS };
    const proof =
      'clientSecret' in credential
        ? `secret\n${credential.clientSecret}`
        : `certificate\n${credential.certificate.thumbprint}\n${createHash('sha256').update(credential.certificate.privateKey.export({ type: 'pkcs8', format: 'der' })).digest('hex')}`;
    this.key = createHash('sha256').update(`${loginBaseUrl}\n${tenantId}\n${clientId}\n${scope}\n${proof}`).digest('hex');
    this.tokenPath = `${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
    this.tokenUrl = this.login.resolveUrl(this.tokenPath);
  }

  get credentialName(): string {
    return 'clientSecret' in this.app.credential ? 'client secret' : 'certificate';
  }

  async token(): Promise<string> {
    const cached = tokenCache.get(this.key);
    if (cached && Date.now() < cached.refreshAt) return cached.value;
    let pending = tokenRequests.get(this.key);
    if (!pending) {
      pending = this.requestToken().finally(() => tokenRequests.delete(this.key));
      tokenRequests.set(this.key, pending);
    }
    return pending;
  }

  /** Graph refused the token (revoked, rotated secret, clock skew): the next call fetches a new one. */
  drop(): void {
    tokenCache.delete(this.key);
  }

  private async requestToken(): Promise<string> {
    try {
      return await this.fetchToken();
    } catch (error) {
      if (error instanceof Error) signInErrors.add(error);
      throw error;
    }
  }

  private async fetchToken(): Promise<string> {
    const { tenantId, clientId, credential } = this.app;
    let body: unknown;
    try {
      const form = { client_id: clientId, grant_type: 'client_credentials', scope: this.app.scope };
      const response =
        'clientSecret' in credential
          ? await this.login.request({ method: 'POST', url: this.tokenPath, form: { ...form, client_secret: credential.clientSecret } })
          : await this.fetchWithAssertion(form, credential.certificate);
      body = response.body;
    } catch (error) {
      throw signInError(error, tenantId, this.credentialName);
    }
    const parsed = tokenResponse.safeParse(body);
    if (!parsed.success || parsed.data.token_type.toLowerCase() !== 'bearer') {
      throw new DeskhandError('upstream', `Microsoft Entra ID sign-in for tenant ${tenantId} returned an unexpected token response`);
    }
    tokenCache.set(this.key, { value: parsed.data.access_token, refreshAt: refreshTime(Date.now(), parsed.data.expires_in) });
    return parsed.data.access_token;
  }

  /**
   * A token request with a client assertion, retried here rather than by HttpClient (whose login
   * client makes one attempt for it): each attempt carries a newly signed assertion, since the
   * server may have received (and spent) the previous one although its answer was lost.
   */
  private async fetchWithAssertion(form: Record<string, string>, certificate: { privateKey: KeyObject; thumbprint: string }): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      const assertion = clientAssertion({ clientId: this.app.clientId, tokenUrl: this.tokenUrl, certificate });
      try {
        return await this.loginOnce.request({
          method: 'POST',
          url: this.tokenPath,
          form: { ...form, client_assertion_type: JWT_BEARER, client_assertion: assertion },
        });
      } catch (error) {
        const wait = isDeskhandError(error) && error.code === 'upstream_retryable' ? error.retryAfterMs : undefined;
        if (wait === undefined || attempt >= this.retry.attempts || wait > this.retry.maxInlineWaitMs) throw error;
        await sleep(wait);
      }
    }
  }
}

/**
 * App-only tokens of the same app registration and tenant for another resource of the Microsoft
 * identity platform (Exchange Online): the same sign-in host, credential (secret or certificate),
 * cache and refusals as Graph's, another scope. `call` fetches the token before a call so that a
 * sign-in failure surfaces as itself.
 */
export interface ResourceTokens {
  token(): Promise<string>;
  /** The resource refused the token: the next call fetches a new one. */
  drop(): void;
  /** A failure of a call made with `headers`, with a sign-in error unwrapped again. */
  unwrap(error: unknown): unknown;
}

export function resourceTokens(input: {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  certificate?: GraphCertificate;
  loginBaseUrl?: string;
  scope: string;
  http?: GraphClientConfig['http'];
}): ResourceTokens {
  const loginBaseUrl = input.loginBaseUrl ?? LOGIN_BASE_URL;
  const credential: AppCredential = input.certificate
    ? { certificate: { privateKey: createPrivateKey(input.certificate.privateKeyPem), thumbprint: input.certificate.thumbprint.replace(/[\s:]/g, '').toUpperCase() } }
    : { clientSecret: input.clientSecret ?? '' };
  const source = new TokenSource(
    { ...input.http, system: 'Microsoft Entra ID', baseUrl: loginBaseUrl, describeError: describeSignInError },
    { loginBaseUrl, tenantId: input.tenantId, clientId: input.clientId, credential, scope: input.scope },
  );
  return { token: () => source.token(), drop: () => source.drop(), unwrap: unwrapSignInError };
}

/**
 * Errors of the token endpoint. HttpClient treats a failing header callback like a network error, so
 * a sign-in failure during a Graph call is unwrapped again to keep its own message and code.
 */
const signInErrors = new WeakSet<Error>();

function unwrapSignInError(error: unknown): unknown {
  if (error instanceof Error && error.cause instanceof Error && signInErrors.has(error.cause)) return error.cause;
  return error;
}

/** Refused credentials are a configuration problem for the MSP's admin, not something to retry. */
function signInError(error: unknown, tenantId: string, credentialName: string): unknown {
  if (!isDeskhandError(error) || error.code !== 'upstream') return error;
  const status = error.details?.['status'];
  if (status === 400 || status === 401) {
    return new DeskhandError('config', `${error.message} — check the tenant id, client id and ${credentialName} of the Microsoft 365 integration for tenant ${tenantId}, and that the tenant's admin consented to the app`, {
      details: error.details,
      cause: error,
    });
  }
  return error;
}

/** AAD error descriptions carry trace and correlation ids on further lines; the first line is the reason. */
function describeSignInError(status: number, body: unknown): string {
  const parsed = tokenErrorBody.safeParse(body);
  if (!parsed.success) return `sign-in failed with HTTP ${status}`;
  const reason = parsed.data.error_description?.split(/\r?\n/)[0]?.trim();
  return `sign-in refused (${parsed.data.error})${reason ? `: ${reason}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export interface GraphErrorInfo {
  status: number;
  code: string;
  message: string;
}

/** The status, code and message of a Graph error answer, or null for anything else. */
export function graphErrorOf(error: unknown): GraphErrorInfo | null {
  if (!isDeskhandError(error)) return null;
  const status = error.details?.['status'];
  if (typeof status !== 'number') return null;
  const parsed = graphErrorBody.safeParse(error.details?.['body']);
  return {
    status,
    code: parsed.success ? (parsed.data.error.code ?? '') : '',
    message: parsed.success ? (parsed.data.error.message ?? '') : '',
  };
}

const errorHints: Record<string, string> = {
  Authorization_RequestDenied:
    'the app registration lacks the Graph permission or the Entra directory role this operation needs (password resets need User Administrator or higher)',
  InvalidAuthenticationToken: 'Graph refused the access token',
  Request_ResourceNotFound: 'the object does not exist in this tenant',
};

/** Graph's `{error:{code,message}}` as one line a technician can act on. */
export function describeGraphError(status: number, body: unknown): string {
  const parsed = graphErrorBody.safeParse(body);
  if (!parsed.success) return `HTTP ${status}`;
  const { code, message } = parsed.data.error;
  const hint = code ? errorHints[code] : undefined;
  return `HTTP ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}${hint ? ` (${hint})` : ''}`;
}

function unexpectedShape(what: string, issues: z.ZodError): DeskhandError {
  return new DeskhandError('upstream', `Microsoft Graph returned an unexpected ${what}`, {
    details: { issues: issues.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`) },
  });
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw unexpectedShape(what, parsed.error);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Mapping Graph objects to the product's directory types
// ---------------------------------------------------------------------------------------------

function toDirectoryUser(user: z.infer<typeof graphUser>): DirectoryUser {
  const upn = user.userPrincipalName ?? user.mail ?? '';
  return {
    id: user.id,
    userPrincipalName: upn,
    displayName: user.displayName ?? upn,
    givenName: user.givenName ?? null,
    surname: user.surname ?? null,
    mail: user.mail ?? null,
    jobTitle: user.jobTitle ?? null,
    department: user.department ?? null,
    accountEnabled: user.accountEnabled ?? null,
    usageLocation: user.usageLocation ?? null,
  };
}

/**
 * Graph has no "shared mailbox group": mailbox permissions live in Exchange Online, and Exchange can
 * only grant them to principals it sees, i.e. mail-enabled security groups. So a mail-enabled
 * security group is read as a shared-mailbox access group; the emulator marks such groups that way
 * (and puts the mailbox address in `mail`). Unified groups are Microsoft 365 groups whatever their
 * flags; mail-enabled non-security groups are distribution lists; the rest are security groups.
 */
export function groupKindOf(group: {
  groupTypes?: readonly string[] | null;
  mailEnabled?: boolean | null;
  securityEnabled?: boolean | null;
}): GroupKind {
  if (group.groupTypes?.includes('Unified')) return 'microsoft365';
  if (group.mailEnabled && group.securityEnabled) return 'shared_mailbox';
  if (group.mailEnabled) return 'distribution';
  return 'security';
}

function toDirectoryGroup(group: z.infer<typeof graphGroup>): DirectoryGroup {
  return {
    id: group.id,
    displayName: group.displayName ?? group.id,
    kind: groupKindOf(group),
    description: group.description ?? null,
    mail: group.mail ?? null,
    privileged: group.isAssignableToRole === true,
  };
}

function toSubscribedSku(sku: z.infer<typeof graphSku>): SubscribedSku {
  const base = { skuId: sku.skuId, skuPartNumber: sku.skuPartNumber, total: sku.prepaidUnits.enabled, consumed: sku.consumedUnits };
  return sku.servicePlans ? { ...base, servicePlans: sku.servicePlans.map(toServicePlan) } : base;
}

function toServicePlan(plan: z.infer<typeof graphServicePlan>): ServicePlan {
  return {
    servicePlanId: plan.servicePlanId,
    servicePlanName: plan.servicePlanName,
    provisioningStatus: plan.provisioningStatus ?? 'Success',
    appliesTo: plan.appliesTo ?? 'User',
  };
}

const ODATA_TYPE_PREFIX = '#microsoft.graph.';

function toAuthMethod(method: z.infer<typeof graphAuthMethod>): AuthMethod {
  const type = method['@odata.type'];
  return { id: method.id, type: type.startsWith(ODATA_TYPE_PREFIX) ? type.slice(ODATA_TYPE_PREFIX.length) : type };
}

/** Per-type collections under `/users/{id}/authentication/` that accept DELETE (Graph v1.0). */
const methodCollections: Record<string, string> = {
  phoneAuthenticationMethod: 'phoneMethods',
  microsoftAuthenticatorAuthenticationMethod: 'microsoftAuthenticatorMethods',
  softwareOathAuthenticationMethod: 'softwareOathMethods',
  fido2AuthenticationMethod: 'fido2Methods',
  emailAuthenticationMethod: 'emailMethods',
  temporaryAccessPassAuthenticationMethod: 'temporaryAccessPassMethods',
  windowsHelloForBusinessAuthenticationMethod: 'windowsHelloForBusinessMethods',
  platformCredentialAuthenticationMethod: 'platformCredentialMethods',
};

// ---------------------------------------------------------------------------------------------
// Mail markers
// ---------------------------------------------------------------------------------------------

/**
 * A short marker for an idempotency key (12 hex characters of its SHA-256): unique enough for one
 * mailbox's Sent Items, and shorter in a manager's inbox than the key itself.
 */
export function mailMarker(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 12);
}

/** The subject as sent: with the marker, `Subject [ref MARKER]`; without, unchanged. */
export function markedSubject(subject: string, marker?: string): string {
  if (marker === undefined) return subject;
  if (!MARKER_PATTERN.test(marker)) {
    throw new DeskhandError('bad_request', 'a mail marker is 1 to 100 letters, digits or . _ : - (it becomes part of the subject)');
  }
  return `${subject} [ref ${marker}]`;
}

export function isPasswordMethod(method: AuthMethod): boolean {
  return method.type === 'passwordAuthenticationMethod' || method.id === PASSWORD_METHOD_ID;
}

// ---------------------------------------------------------------------------------------------
// Paths and OData literals
// ---------------------------------------------------------------------------------------------

/** `users/{id|upn}`; UPNs are URL-encoded (`#` in guest UPNs), and a leading `$` needs the key syntax. */
export function userPath(idOrUpn: string): string {
  if (idOrUpn.startsWith('$')) return `users('${encodeURIComponent(idOrUpn.replaceAll("'", "''"))}')`;
  return `users/${encodeURIComponent(idOrUpn)}`;
}

function groupPath(groupId: string): string {
  return `groups/${encodeURIComponent(groupId)}`;
}

/** An OData string literal: single quotes doubled. */
function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A `$search` clause: the text is quoted, with `"` and `\` escaped by a backslash (Graph docs). */
function searchClause(property: string, text: string): string {
  return `"${property}:${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

export class GraphClient {
  readonly tenantId: string;
  private readonly graph: HttpClient;
  /**
   * Graph without in-process retries, for writes that are not safe to repeat blindly (a second
   * revocation, password reset or mail is a second effect). After an ambiguous failure (a timeout,
   * a lost answer, a 5xx) the caller reconciles first and retries only what did not happen.
   */
  private readonly graphOnce: HttpClient;
  private readonly tokens: TokenSource;
  private readonly graphBaseUrl: string;
  private readonly graphOrigin: string;
  private readonly pageSize: number;
  /** Set once Graph refuses `signInActivity` (no AuditLog.Read.All or no Entra ID P1): stop asking. */
  private signInActivityUnavailable = false;

  constructor(config: GraphClientConfig) {
    const parsed = configSchema.safeParse(config);
    if (!parsed.success) {
      throw new DeskhandError('config', `Microsoft 365 integration is misconfigured: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const { tenantId, clientId, clientSecret, certificate, graphBaseUrl, loginBaseUrl, pageSize } = parsed.data;
    this.tenantId = tenantId;
    this.graphBaseUrl = graphBaseUrl.replace(/\/+$/, '');
    this.graphOrigin = new URL(this.graphBaseUrl).origin;
    this.pageSize = pageSize;
    const credential: AppCredential = certificate ? { certificate: { privateKey: certificate.privateKeyPem, thumbprint: certificate.thumbprint } } : { clientSecret: clientSecret! };
    this.tokens = new TokenSource(
      { ...config.http, system: 'Microsoft Entra ID', baseUrl: loginBaseUrl, describeError: describeSignInError },
      { loginBaseUrl, tenantId, clientId, credential, scope: GRAPH_SCOPE },
    );
    const graphOptions: HttpClientOptions = {
      ...config.http,
      system: 'Microsoft Graph',
      baseUrl: this.graphBaseUrl,
      headers: async () => ({ authorization: `Bearer ${await this.tokens.token()}` }),
      // A 401 is retried once with a new token even here: Graph refused the call before acting on it.
      onUnauthorized: () => this.tokens.drop(),
      describeError: describeGraphError,
    };
    this.graph = new HttpClient(graphOptions);
    this.graphOnce = new HttpClient({ ...graphOptions, maxAttempts: 1 });
  }

  /**
   * Every Graph call goes through here: the token is fetched first so that a sign-in failure surfaces
   * as itself (a config error) rather than as a retried transport failure.
   */
  private async call<T = unknown>(request: HttpRequest, options: { once?: boolean } = {}): Promise<HttpResponse<T>> {
    await this.tokens.token();
    try {
      return await (options.once ? this.graphOnce : this.graph).request<T>(request);
    } catch (error) {
      throw unwrapSignInError(error);
    }
  }

  // ----- users ---------------------------------------------------------------------------------

  /** A user by object id or UPN, with the last interactive sign-in when the tenant allows reading it. */
  async getUser(idOrUpn: string): Promise<DirectoryUser | null> {
    const response = await this.call({
      method: 'GET',
      url: userPath(idOrUpn),
      query: { $select: USER_SELECT },
      acceptStatuses: [404],
    });
    if (response.status === 404) return null;
    const user = toDirectoryUser(parseWith(graphUser, response.body, 'user'));
    return { ...user, lastSignInDateTime: await this.lastSignIn(user.id) };
  }

  /**
   * `signInActivity` needs AuditLog.Read.All and Entra ID P1, and Graph only serves it by object id
   * (by UPN it answers 400). Without it the user is still worth returning, so a refusal means null.
   */
  private async lastSignIn(userId: string): Promise<string | null> {
    if (this.signInActivityUnavailable || !OBJECT_ID.test(userId)) return null;
    const response = await this.call({
      method: 'GET',
      url: userPath(userId),
      query: { $select: 'id,signInActivity' },
      acceptStatuses: [403, 404],
    });
    if (response.status === 403) this.signInActivityUnavailable = true;
    if (response.status !== 200) return null;
    return parseWith(graphSignIn, response.body, 'signInActivity').signInActivity?.lastSignInDateTime ?? null;
  }

  /**
   * What reconciliation needs to know about a user: whether the account is enabled, and when the
   * password and the sessions were last reset. Null when the user does not exist.
   */
  async getUserState(idOrUpn: string): Promise<UserState | null> {
    const response = await this.call({
      method: 'GET',
      url: userPath(idOrUpn),
      query: { $select: USER_STATE_SELECT },
      acceptStatuses: [404],
    });
    if (response.status === 404) return null;
    const state = parseWith(graphUserState, response.body, 'user');
    return {
      accountEnabled: state.accountEnabled ?? null,
      lastPasswordChangeDateTime: state.lastPasswordChangeDateTime ?? null,
      signInSessionsValidFromDateTime: state.signInSessionsValidFromDateTime ?? null,
    };
  }

  /**
   * A requester by UPN, or by mail when the address is an alias of a different UPN (people write
   * from their mail address, which need not be their UPN). Null when neither finds exactly one user.
   */
  async getUserByUpnOrMail(upnOrMail: string): Promise<DirectoryUser | null> {
    const byUpn = await this.getUser(upnOrMail);
    if (byUpn || !upnOrMail.includes('@')) return byUpn;
    const byMail = await this.findUsersByMail(upnOrMail);
    if (byMail.length !== 1) return null;
    return this.getUser(byMail[0]!.id);
  }

  /** Users whose display name, given name, surname or UPN starts with the query. */
  async findUsers(query: string): Promise<DirectoryUser[]> {
    const literal = odataString(query.trim());
    const filter = ['displayName', 'givenName', 'surname', 'userPrincipalName']
      .map((property) => `startsWith(${property},${literal})`)
      .join(' or ');
    const users = await this.listAll('users', { $filter: filter, $select: USER_SELECT }, { paged: true });
    return users.map((u) => toDirectoryUser(parseWith(graphUser, u, 'user')));
  }

  /** Users whose primary SMTP address is `mail` (requesters often write from an alias of their UPN). */
  async findUsersByMail(mail: string): Promise<DirectoryUser[]> {
    const users = await this.listAll('users', { $filter: `mail eq ${odataString(mail.trim())}`, $select: USER_SELECT }, { paged: true });
    return users.map((u) => toDirectoryUser(parseWith(graphUser, u, 'user')));
  }

  /** The direct manager; null when none is set (Graph answers 404). */
  async getManager(userId: string): Promise<DirectoryUser | null> {
    const response = await this.call({
      method: 'GET',
      url: `${userPath(userId)}/manager`,
      query: { $select: USER_SELECT },
      acceptStatuses: [404],
    });
    if (response.status === 404) return null;
    return toDirectoryUser(parseWith(graphUser, response.body, 'manager'));
  }

  // ----- groups --------------------------------------------------------------------------------

  /** Groups the user is a direct member of (memberOf also lists directory roles and units: dropped). */
  async listUserGroups(userId: string): Promise<DirectoryGroup[]> {
    const objects = await this.listAll(`${userPath(userId)}/memberOf`, { $select: GROUP_SELECT }, { paged: true });
    return objects.filter(isGraphGroup).map((g) => toDirectoryGroup(parseWith(graphGroup, g, 'group')));
  }

  /**
   * Groups matching the query in display name or description (Graph's tokenized search: words are
   * matched by prefix, in any order) or whose mail starts with it. Needs `ConsistencyLevel: eventual`.
   */
  async findGroups(query: string): Promise<DirectoryGroup[]> {
    const text = query.trim();
    const search = [searchClause('displayName', text), searchClause('description', text), searchClause('mail', text)].join(' OR ');
    const groups = await this.listAll(
      'groups',
      { $search: search, $select: GROUP_SELECT },
      { paged: true, headers: { ConsistencyLevel: 'eventual' } },
    );
    return groups.map((g) => toDirectoryGroup(parseWith(graphGroup, g, 'group')));
  }

  /** Groups whose display name equals `name` (Entra compares case-insensitively). */
  async findGroupsByName(name: string): Promise<DirectoryGroup[]> {
    const groups = await this.listAll(
      'groups',
      { $filter: `displayName eq ${odataString(name)}`, $select: GROUP_SELECT },
      { paged: true },
    );
    return groups.map((g) => toDirectoryGroup(parseWith(graphGroup, g, 'group')));
  }

  async listGroups(): Promise<DirectoryGroup[]> {
    const groups = await this.listAll('groups', { $select: GROUP_SELECT }, { paged: true });
    return groups.map((g) => toDirectoryGroup(parseWith(graphGroup, g, 'group')));
  }

  /**
   * What decides which system changes a group's members (Graph or Exchange Online, or neither): its
   * mail and security flags, `groupTypes` (Unified, DynamicMembership) and whether it is synced from
   * an on-premises directory. Null when the group does not exist.
   */
  async getGroupFacts(groupId: string): Promise<GroupFacts | null> {
    const response = await this.call({
      method: 'GET',
      url: groupPath(groupId),
      query: { $select: 'id,displayName,mail,groupTypes,mailEnabled,securityEnabled,onPremisesSyncEnabled' },
      acceptStatuses: [404],
    });
    if (response.status === 404) return null;
    const group = parseWith(graphGroupFacts, response.body, 'group');
    return {
      id: group.id,
      displayName: group.displayName ?? group.id,
      mail: group.mail ?? null,
      groupTypes: group.groupTypes ?? [],
      mailEnabled: group.mailEnabled === true,
      securityEnabled: group.securityEnabled === true,
      onPremisesSyncEnabled: group.onPremisesSyncEnabled === true,
    };
  }

  /** Adds a member; an existing membership is success (Graph answers 400 "... already exist ..."). */
  async addMember(groupId: string, userId: string): Promise<{ alreadyMember: boolean }> {
    try {
      await this.call({
        method: 'POST',
        url: `${groupPath(groupId)}/members/$ref`,
        json: { '@odata.id': `${this.graphBaseUrl}/directoryObjects/${encodeURIComponent(userId)}` },
      });
      return { alreadyMember: false };
    } catch (error) {
      const graphError = graphErrorOf(error);
      if (graphError?.status === 400 && /added object references already exist/i.test(graphError.message)) {
        return { alreadyMember: true };
      }
      throw error;
    }
  }

  /**
   * Removes a member; a missing membership is success. Graph answers 400 "... do not exist ..." or
   * 404 for a non-member, but 404 also means the group is gone, which must not pass as success.
   */
  async removeMember(groupId: string, userId: string): Promise<{ notMember: boolean }> {
    try {
      await this.call({
        method: 'DELETE',
        url: `${groupPath(groupId)}/members/${encodeURIComponent(userId)}/$ref`,
      });
      return { notMember: false };
    } catch (error) {
      const graphError = graphErrorOf(error);
      if (graphError?.status === 400 && /removed object references do not exist/i.test(graphError.message)) {
        return { notMember: true };
      }
      if (graphError?.status === 404 && (await this.groupExists(groupId))) return { notMember: true };
      throw error;
    }
  }

  private async groupExists(groupId: string): Promise<boolean> {
    const response = await this.call({
      method: 'GET',
      url: groupPath(groupId),
      query: { $select: 'id' },
      acceptStatuses: [404],
    });
    return response.status !== 404;
  }

  // ----- licenses ------------------------------------------------------------------------------

  async listUserLicenseDetails(userId: string): Promise<SkuAssignment[]> {
    // licenseDetails pages like any collection but does not document $top: follow nextLink only.
    const details = await this.listAll(`${userPath(userId)}/licenseDetails`, { $select: 'skuId,skuPartNumber' }, { paged: false });
    return details.map((d) => parseWith(graphLicenseDetail, d, 'licenseDetails'));
  }

  /** SKU part numbers of the user's licenses. */
  async listUserLicenses(userId: string): Promise<string[]> {
    return (await this.listUserLicenseDetails(userId)).map((d) => d.skuPartNumber);
  }

  async listSubscribedSkus(): Promise<SubscribedSku[]> {
    const skus = await this.listAll('subscribedSkus', { $select: SKU_SELECT }, { paged: false });
    return skus.map((s) => toSubscribedSku(parseWith(graphSku, s, 'subscribedSku')));
  }

  /**
   * Assigns a license. Graph treats an already-assigned SKU as an update, so a repeat is harmless.
   * No free seat is an answer a technician must act on (buy or free a seat), not a retry.
   */
  async assignLicense(userId: string, skuId: string): Promise<void> {
    try {
      await this.postAssignLicense(userId, { addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] });
    } catch (error) {
      const graphError = graphErrorOf(error);
      if (graphError && isNoFreeSeat(graphError)) {
        throw new DeskhandError('upstream', `no free seat of ${await this.skuLabel(skuId)}: every purchased seat is in use`, {
          details: { status: graphError.status, code: graphError.code },
          cause: error,
        });
      }
      if (graphError && /usage location/i.test(graphError.message)) {
        throw new DeskhandError('upstream', `cannot assign ${await this.skuLabel(skuId)}: the user has no usage location set`, {
          details: { status: graphError.status, code: graphError.code },
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Removes a license; a license the user does not hold is success (Graph: "does not have a corresponding license"). */
  async removeLicense(userId: string, skuId: string): Promise<{ notAssigned: boolean }> {
    try {
      await this.postAssignLicense(userId, { addLicenses: [], removeLicenses: [skuId] });
      return { notAssigned: false };
    } catch (error) {
      const graphError = graphErrorOf(error);
      if (graphError?.status === 400 && /does not have a corresponding license/i.test(graphError.message)) {
        return { notAssigned: true };
      }
      throw error;
    }
  }

  /** Graph requires both arrays on every call, `[]` when empty. */
  private async postAssignLicense(
    userId: string,
    body: { addLicenses: { skuId: string; disabledPlans: string[] }[]; removeLicenses: string[] },
  ): Promise<void> {
    await this.call({ method: 'POST', url: `${userPath(userId)}/assignLicense`, json: body });
  }

  /** The SKU's part number for messages; the id when the lookup itself fails. */
  private async skuLabel(skuId: string): Promise<string> {
    try {
      return (await this.listSubscribedSkus()).find((s) => s.skuId === skuId)?.skuPartNumber ?? skuId;
    } catch {
      return skuId;
    }
  }

  // ----- account and credentials ---------------------------------------------------------------

  /** Sets a temporary password that must be changed at next sign-in. The password is never logged or kept. */
  async setTemporaryPassword(userId: string, password: string): Promise<void> {
    await this.call(
      {
        method: 'PATCH',
        url: userPath(userId),
        json: { passwordProfile: { password, forceChangePasswordNextSignIn: true } },
      },
      { once: true },
    );
  }

  /** Invalidates refresh tokens and session cookies (Graph: takes a few minutes to reach every app). */
  async revokeSessions(userId: string): Promise<void> {
    await this.call({ method: 'POST', url: `${userPath(userId)}/revokeSignInSessions` }, { once: true });
  }

  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    await this.call({ method: 'PATCH', url: userPath(userId), json: { accountEnabled: enabled } });
  }

  async listAuthMethods(userId: string): Promise<AuthMethod[]> {
    const methods = await this.listAll(`${userPath(userId)}/authentication/methods`, {}, { paged: false });
    return methods.map((m) => toAuthMethod(parseWith(graphAuthMethod, m, 'authentication method')));
  }

  /** Deletes one method through its per-type path; a method already gone is success. */
  async deleteAuthMethod(userId: string, method: AuthMethod): Promise<{ alreadyRemoved: boolean }> {
    if (isPasswordMethod(method)) {
      throw new DeskhandError('bad_request', 'the password method cannot be deleted; reset the password instead');
    }
    const collection = methodCollections[method.type];
    if (!collection) {
      throw new DeskhandError('bad_request', `authentication methods of type ${method.type} cannot be deleted through Microsoft Graph v1.0`);
    }
    const response = await this.call({
      method: 'DELETE',
      url: `${userPath(userId)}/authentication/${collection}/${encodeURIComponent(method.id)}`,
      acceptStatuses: [404],
    });
    return { alreadyRemoved: response.status === 404 };
  }

  // ----- mail ----------------------------------------------------------------------------------

  /**
   * Sends a plain-text mail from a mailbox of the tenant and keeps a copy in its Sent Items. Graph
   * answers 202 (accepted, not delivered) and no message id; the subject as sent (with the marker,
   * if any) is returned for `findSentMail`. Sent once: after a failure, look before sending again.
   */
  async sendMail(fromUpn: string, message: MailMessage): Promise<{ subject: string }> {
    const subject = markedSubject(message.subject, message.marker);
    const recipients = (Array.isArray(message.to) ? message.to : [message.to]).map((address) => ({ emailAddress: { address } }));
    await this.call(
      {
        method: 'POST',
        url: `${userPath(fromUpn)}/sendMail`,
        json: {
          message: { subject, body: { contentType: 'Text', content: message.text }, toRecipients: recipients },
          saveToSentItems: true,
        },
      },
      { once: true },
    );
    return { subject };
  }

  /**
   * Messages in the sender's Sent Items whose subject is exactly `subject` (build it with
   * `markedSubject`). Needs the Mail.ReadBasic.All application permission. Exchange files a sent
   * message into Sent Items shortly after accepting it, so an empty answer right after a send proves
   * little; ask again after a short wait before sending again.
   */
  async findSentMail(fromUpn: string, subject: string): Promise<SentMailItem[]> {
    let response: HttpResponse;
    try {
      response = await this.call({
        method: 'GET',
        url: `${userPath(fromUpn)}/mailFolders/sentitems/messages`,
        query: { $filter: `subject eq ${odataString(subject)}`, $select: SENT_MAIL_SELECT, $top: SENT_MAIL_TOP },
      });
    } catch (error) {
      throw sentItemsError(error, fromUpn);
    }
    const page = parseWith(graphCollection, response.body, 'Sent Items page');
    return page.value.map((item) => {
      const message = parseWith(graphMessage, item, 'message');
      return { id: message.id, subject: message.subject ?? '', sentDateTime: message.sentDateTime ?? null };
    });
  }

  // ----- the app itself (what `deskhand doctor` reads) -----------------------------------------

  /**
   * The app's service principal in this tenant, or null when there is none. Needs Application.Read.All
   * (or Directory.Read.All); the appId filter is served without `ConsistencyLevel`.
   */
  async getServicePrincipal(appId: string): Promise<ServicePrincipal | null> {
    const found = await this.listAll('servicePrincipals', { $filter: `appId eq ${odataString(appId)}`, $select: 'id,appId,displayName' }, { paged: false });
    const first = found[0];
    return first === undefined ? null : parseWith(graphServicePrincipal, first, 'servicePrincipal');
  }

  /** The application permissions granted to a service principal (app role assignments). Needs Application.Read.All. */
  async listAppRoleAssignments(servicePrincipalId: string): Promise<{ appRoleId: string; resourceId: string }[]> {
    const items = await this.listAll(`servicePrincipals/${encodeURIComponent(servicePrincipalId)}/appRoleAssignments`, {}, { paged: false });
    return items.map((item) => parseWith(graphAppRoleAssignment, item, 'appRoleAssignment'));
  }

  /** The Entra directory roles assigned to a principal, with their scope (`/` = the whole tenant). Needs RoleManagement.Read.Directory. */
  async listDirectoryRoleAssignments(principalId: string): Promise<{ roleDefinitionId: string; directoryScopeId: string }[]> {
    const items = await this.listAll('roleManagement/directory/roleAssignments', { $filter: `principalId eq ${odataString(principalId)}` }, { paged: false });
    return items.map((item) => parseWith(graphRoleAssignment, item, 'roleAssignment'));
  }

  // ----- paging --------------------------------------------------------------------------------

  /**
   * Every item of a collection: the first page with our query, then `@odata.nextLink` exactly as
   * given (it carries Graph's own skip token). A next link to another origin is refused so that the
   * bearer token is never sent anywhere but Graph.
   */
  private async listAll(
    path: string,
    query: Record<string, string>,
    options: { paged: boolean; headers?: Record<string, string> },
  ): Promise<unknown[]> {
    const items: unknown[] = [];
    let request: HttpRequest = {
      method: 'GET',
      url: path,
      query: options.paged ? { ...query, $top: this.pageSize } : query,
      ...(options.headers ? { headers: options.headers } : {}),
    };
    for (let page = 1; page <= MAX_PAGES; page++) {
      const response = await this.call(request);
      const collection = parseWith(graphCollection, response.body, `collection from ${path}`);
      items.push(...collection.value);
      const nextLink = collection['@odata.nextLink'];
      if (!nextLink) return items;
      this.assertGraphOrigin(nextLink);
      request = { method: 'GET', url: nextLink, ...(options.headers ? { headers: options.headers } : {}) };
    }
    throw new DeskhandError('upstream', `Microsoft Graph kept paging ${path} beyond ${MAX_PAGES} pages`);
  }

  private assertGraphOrigin(link: string): void {
    let origin: string;
    try {
      origin = new URL(link).origin;
    } catch {
      throw new DeskhandError('upstream', 'Microsoft Graph returned a next page link that is not a URL');
    }
    if (origin !== this.graphOrigin) {
      throw new DeskhandError('upstream', `Microsoft Graph returned a next page link to another host (${origin}); not followed`);
    }
  }
}

/** A refusal to read Sent Items is a missing permission an admin must grant, not a transient failure. */
function sentItemsError(error: unknown, mailbox: string): unknown {
  const graphError = graphErrorOf(error);
  if (graphError?.status !== 403) return error;
  return new DeskhandError(
    'upstream',
    `Microsoft Graph refused to read the Sent Items of ${mailbox} (${graphError.code || 'HTTP 403'}): the app registration needs the Mail.ReadBasic.All application permission`,
    { details: { status: 403, code: graphError.code }, cause: error },
  );
}

function isGraphGroup(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)['@odata.type'] === '#microsoft.graph.group';
}

/** Graph words a full SKU as "Subscription with SKU ... does not have any available licenses" or a CountViolation. */
function isNoFreeSeat(error: GraphErrorInfo): boolean {
  return /does not have any available licenses|CountViolation/i.test(`${error.code} ${error.message}`);
}
