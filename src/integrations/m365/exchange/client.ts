import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DeskhandError, isDeskhandError } from '../../../core/errors.ts';
import { HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse, isLoopbackHost } from '../../http.ts';
import { type GraphCertificate, type GraphClientConfig, type ResourceTokens, resourceTokens } from '../client.ts';
import { EXCHANGE_BASE_URL, EXCHANGE_SCOPE, systemAnchor } from './scope.ts';

/**
 * Exchange Online for one client tenant, app-only: a second client of the same app registration and
 * tenant link as the Graph client (same sign-in host and credential, the Exchange scope). Graph only
 * reads distribution lists and mail-enabled security groups; their members are changed here.
 *
 * Two surfaces (see the m365 README for the choice and its risk):
 * - reads go to the documented Exchange Online Admin API v2.0 (`/adminapi/v2.0/{tenant}/{Endpoint}`,
 *   preview): `DistributionGroupMember` and `OrganizationConfig`;
 * - membership writes have no documented endpoint, so they go to `InvokeCommand`
 *   (`/adminapi/beta/{tenant}/InvokeCommand`, the ExchangeOnlineManagement module's own transport,
 *   unsupported) behind one adapter, `MembershipWrites`, which a documented write can replace.
 *
 * What it handles: the error envelope (the readable text is the last `|` segment of
 * `details[].message`), 401 RBAC refusals ("User is not allowed to call ..."), the 403 with an empty
 * body an unknown cmdlet gets, 429/503 with Retry-After (transient, through HttpClient), a regional
 * 302 (resent with the token only to an Exchange Online host), objects synced from on-premises.
 */

export interface ExchangeClientConfig {
  tenantId: string;
  /** The app registration (the same as Graph's). */
  clientId: string;
  clientSecret?: string;
  certificate?: GraphCertificate;
  loginBaseUrl?: string;
  /** Exchange Online's host (default https://outlook.office365.com; GCC High https://outlook.office365.us). */
  baseUrl?: string;
  http?: GraphClientConfig['http'];
}

/** A member of a distribution list or mail-enabled security group, as Exchange lists it. */
export interface ExchangeMember {
  /** The member's Entra object id (`ExternalDirectoryObjectId`); null for recipients without one (mail contacts). */
  objectId: string | null;
  address: string | null;
  displayName: string;
}

/**
 * Membership writes on distribution lists and mail-enabled security groups: the one place that knows
 * which Exchange surface makes them. Both are idempotent: an existing (missing) membership is success.
 */
export interface MembershipWrites {
  readonly surface: string;
  add(group: string, member: string): Promise<{ alreadyMember: boolean }>;
  remove(group: string, member: string): Promise<{ notMember: boolean }>;
}

const MAX_PAGES = 100;
const REDIRECTS = [301, 302, 307, 308];
/** CIPP waits this long when Exchange does not know a new user yet (it reaches Exchange after Entra). */
const NEW_RECIPIENT_WAIT_MS = 5 * 60_000;

const cmdletCollection = z.object({ value: z.array(z.record(z.string(), z.unknown())), '@odata.nextLink': z.string().optional() });

const errorEnvelope = z.object({
  error: z.object({
    code: z.string().optional(),
    message: z.string().optional(),
    details: z.array(z.object({ message: z.string().optional() })).optional(),
    innererror: z
      .object({ type: z.string().optional(), message: z.string().optional(), internalException: z.object({ message: z.string().optional() }).optional() })
      .passthrough()
      .optional(),
  }),
});

/** What an Exchange error says: the readable text, and the .NET exception type when it names one. */
export interface ExchangeErrorInfo {
  status: number;
  /** The middle segment of `details[].message`, or `innererror.type`. */
  exceptionType: string | null;
  /** The last segment of `details[].message`, else the inner exception's, else the message. */
  text: string;
  /** No body at all (an unknown cmdlet's 403). */
  empty: boolean;
}

export function exchangeErrorInfo(status: number, body: unknown): ExchangeErrorInfo {
  const emptyBody = body === null || body === undefined || (typeof body === 'string' && body.replaceAll('\0', '').trim() === '');
  const parsed = errorEnvelope.safeParse(body);
  if (!parsed.success) return { status, exceptionType: null, text: emptyBody ? '' : typeof body === 'string' ? body.slice(0, 300) : '', empty: emptyBody };
  const { error } = parsed.data;
  const detail = error.details?.find((d) => d.message)?.message;
  const segments = detail?.split('|') ?? [];
  const exceptionType = segments.length >= 3 ? segments[segments.length - 2]! : (error.innererror?.type ?? null);
  const text = (segments.length > 0 ? segments[segments.length - 1]! : undefined) || error.innererror?.internalException?.message || error.message || error.code || '';
  return { status, exceptionType, text: text.trim(), empty: false };
}

function describeExchangeError(status: number, body: unknown): string {
  const info = exchangeErrorInfo(status, body);
  if (info.empty) return `HTTP ${status} with no body`;
  return `HTTP ${status}${info.text ? `: ${info.text}` : ''}`;
}

/** The status and parsed error of a failed Exchange call, or null for anything else. */
export function exchangeErrorOf(error: unknown): ExchangeErrorInfo | null {
  if (!isDeskhandError(error)) return null;
  const status = error.details?.['status'];
  if (typeof status !== 'number') return null;
  return exchangeErrorInfo(status, error.details?.['body']);
}

export class ExchangeOnlineClient {
  readonly tenantId: string;
  readonly writes: MembershipWrites;
  private readonly tokens: ResourceTokens;
  private readonly baseUrl: string;
  private readonly options: HttpClientOptions;
  /** By origin: the configured host, and the regional host a 302 sent us to (used from then on). */
  private readonly hosts = new Map<string, HttpClient>();
  private current: HttpClient;
  /** One per client, as the module sends one per session. */
  private readonly connectionId = randomUUID();

  constructor(config: ExchangeClientConfig) {
    this.tenantId = config.tenantId.trim();
    if (!this.tenantId) throw new DeskhandError('config', 'Exchange Online: the tenant id is required');
    if ((config.clientSecret === undefined) === (config.certificate === undefined)) {
      throw new DeskhandError('config', 'Exchange Online: give exactly one of a client secret or a certificate');
    }
    this.tokens = resourceTokens({
      tenantId: this.tenantId,
      clientId: config.clientId,
      scope: EXCHANGE_SCOPE,
      ...(config.clientSecret !== undefined ? { clientSecret: config.clientSecret } : {}),
      ...(config.certificate ? { certificate: config.certificate } : {}),
      ...(config.loginBaseUrl ? { loginBaseUrl: config.loginBaseUrl } : {}),
      ...(config.http ? { http: config.http } : {}),
    });
    this.baseUrl = (config.baseUrl ?? EXCHANGE_BASE_URL).replace(/\/+$/, '');
    this.options = {
      ...config.http,
      system: 'Exchange Online',
      baseUrl: this.baseUrl,
      headers: async () => ({
        authorization: `Bearer ${await this.tokens.token()}`,
        'x-anchormailbox': systemAnchor(this.tenantId),
        'connection-id': this.connectionId,
        'client-request-id': randomUUID(),
      }),
      onUnauthorized: () => this.tokens.drop(),
      describeError: describeExchangeError,
    };
    this.current = this.hostClient(this.baseUrl);
    this.writes = new InvokeCommandMembershipWrites(this);
  }

  // ----- the two surfaces ----------------------------------------------------------------------

  /** A cmdlet through InvokeCommand (unsupported transport): its `value`, every page. */
  invokeCommand(cmdlet: string, parameters: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    return this.cmdlet(`adminapi/beta/${encodeURIComponent(this.tenantId)}/InvokeCommand`, cmdlet, parameters, { prefer: 'odata.maxpagesize=1000' });
  }

  /** A cmdlet through a documented Admin API v2.0 endpoint (only the cmdlets that endpoint lists). */
  adminApi(endpoint: string, cmdlet: string, parameters: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    return this.cmdlet(`adminapi/v2.0/${encodeURIComponent(this.tenantId)}/${endpoint}`, cmdlet, parameters, {});
  }

  // ----- reads (documented v2.0) ---------------------------------------------------------------

  /** The members of a distribution list or mail-enabled security group (hidden members included). */
  async groupMembers(group: string): Promise<ExchangeMember[]> {
    const rows = await this.adminApi('DistributionGroupMember', 'Get-DistributionGroupMember', { Identity: group, ResultSize: 1000 });
    return rows.map((row) => ({
      objectId: typeof row['ExternalDirectoryObjectId'] === 'string' && row['ExternalDirectoryObjectId'] !== '' ? row['ExternalDirectoryObjectId'] : null,
      address: typeof row['PrimarySmtpAddress'] === 'string' ? row['PrimarySmtpAddress'] : null,
      displayName: String(row['DisplayName'] ?? row['Name'] ?? ''),
    }));
  }

  /** A harmless read that proves the app may sign in and call Exchange in this tenant. */
  async organizationConfig(): Promise<Record<string, unknown>> {
    const rows = await this.adminApi('OrganizationConfig', 'Get-OrganizationConfig', {});
    return rows[0] ?? {};
  }

  // ----- transport -----------------------------------------------------------------------------

  private async cmdlet(path: string, cmdlet: string, parameters: Record<string, unknown>, options: { prefer?: string }): Promise<Record<string, unknown>[]> {
    const body = { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } };
    const headers: Record<string, string> = options.prefer ? { prefer: options.prefer } : {};
    const rows: Record<string, unknown>[] = [];
    let url = path;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const response = await this.post(url, body, headers, cmdlet);
      const parsed = cmdletCollection.safeParse(response.body ?? { value: [] });
      if (!parsed.success) throw new DeskhandError('upstream', `Exchange Online returned an unexpected answer to ${cmdlet}`);
      rows.push(...parsed.data.value);
      const next = parsed.data['@odata.nextLink'];
      if (!next) return rows;
      // The next page is POSTed with the same body, to the same Exchange host only.
      if (!this.isExchangeHost(next, response.url)) throw new DeskhandError('upstream', `Exchange Online returned a next page link to another host; not followed`);
      url = next;
    }
    throw new DeskhandError('upstream', `Exchange Online kept paging ${cmdlet} beyond ${MAX_PAGES} pages`);
  }

  /**
   * One POST, with the token fetched first (a sign-in failure surfaces as itself), a regional 302
   * followed once to an Exchange Online host (HttpClient never follows redirects: the call is resent
   * here, with the token, to that host alone), and the refusals turned into messages an admin can act on.
   */
  private async post(url: string, json: unknown, headers: Record<string, string>, cmdlet: string): Promise<HttpResponse> {
    await this.tokens.token();
    const request: HttpRequest = { method: 'POST', url, json, headers, acceptStatuses: REDIRECTS };
    try {
      let response = await this.current.request(request);
      if (REDIRECTS.includes(response.status)) {
        const location = response.headers.get('location');
        const target = location ? safeUrl(location, response.url) : null;
        if (!target || !this.isExchangeHost(target.toString(), response.url)) {
          throw new DeskhandError(
            'upstream',
            `Exchange Online answered ${cmdlet} with a redirect (HTTP ${response.status}) to ${target ? `another host, ${target.host}` : 'no usable address'}, which is not an Exchange Online host; not followed, so that the token only goes to Exchange Online`,
            { details: { status: response.status } },
          );
        }
        this.current = this.hostClient(target.origin);
        response = await this.current.request({ ...request, url: target.toString(), acceptStatuses: [] });
      }
      return response;
    } catch (error) {
      throw this.refusal(this.tokens.unwrap(error), cmdlet);
    }
  }

  private hostClient(origin: string): HttpClient {
    const known = this.hosts.get(origin);
    if (known) return known;
    const client = new HttpClient({ ...this.options, baseUrl: origin === new URL(this.baseUrl).origin ? this.baseUrl : origin });
    this.hosts.set(origin, client);
    return client;
  }

  /**
   * An Exchange Online host of the configured cloud: the configured host or one of its regional
   * subdomains (`{region}.outlook.office365.com` under `outlook.office365.com`), over https. For the
   * emulator on a loopback address (development only), the same host on another port stands for a
   * regional host.
   */
  private isExchangeHost(link: string, from: string): boolean {
    const target = safeUrl(link, from);
    if (!target) return false;
    const base = new URL(this.baseUrl);
    if (target.username || target.password) return false;
    if (isLoopbackHost(base.hostname)) return target.protocol === base.protocol && target.hostname === base.hostname;
    return target.protocol === 'https:' && (target.hostname === base.hostname || target.hostname.endsWith(`.${base.hostname}`));
  }

  /** Refusals an admin must act on, in words that say what to do; anything else unchanged. */
  private refusal(error: unknown, cmdlet: string): unknown {
    const info = exchangeErrorOf(error);
    if (!info || !isDeskhandError(error)) return error;
    const details = { status: info.status, exceptionType: info.exceptionType };
    if (info.status === 401 && /not allowed to call/i.test(info.text)) {
      return new DeskhandError(
        'config',
        `Exchange Online refused ${cmdlet} in tenant ${this.tenantId} (HTTP 401: ${info.text}): the app's service principal needs an Exchange role there (Exchange Administrator), given by the tenant's admin; take a new token after the change`,
        { details, cause: error },
      );
    }
    if (info.status === 401) {
      return new DeskhandError(
        'config',
        `Exchange Online refused the app's token in tenant ${this.tenantId} (HTTP 401${info.text ? `: ${info.text}` : ''}): the app needs the Exchange.ManageAsApp permission of "Office 365 Exchange Online", with the tenant admin's consent`,
        { details, cause: error },
      );
    }
    if (info.status === 403 && info.empty) {
      return new DeskhandError(
        'upstream',
        `Exchange Online answered ${cmdlet} with HTTP 403 and no body: InvokeCommand does not know this cmdlet (or no longer serves it); this surface is unsupported and may have changed`,
        { details, cause: error },
      );
    }
    if (/maximum number of concurrent requests/i.test(info.text) && error.code !== 'upstream_retryable') {
      return new DeskhandError('upstream_retryable', `Exchange Online is throttling this tenant (${info.text})`, { details, retryAfterMs: 30_000, cause: error });
    }
    return error;
  }
}

function safeUrl(link: string, base: string): URL | null {
  try {
    return new URL(link, base);
  } catch {
    return null;
  }
}

/**
 * Membership writes through InvokeCommand (`Add-`/`Remove-DistributionGroupMember` with
 * `BypassSecurityGroupManagerCheck`: the app is never one of the group's managers). The request
 * bodies are those production code sends (CIPP-API); the exception names are PowerShell's.
 */
class InvokeCommandMembershipWrites implements MembershipWrites {
  readonly surface = 'InvokeCommand';

  constructor(private readonly exchange: ExchangeOnlineClient) {}

  async add(group: string, member: string): Promise<{ alreadyMember: boolean }> {
    try {
      await this.exchange.invokeCommand('Add-DistributionGroupMember', { Identity: group, Member: member, BypassSecurityGroupManagerCheck: true });
      return { alreadyMember: false };
    } catch (error) {
      if (exchangeErrorOf(error)?.exceptionType?.endsWith('MemberAlreadyExistsException')) return { alreadyMember: true };
      throw membershipError(error, group, member);
    }
  }

  async remove(group: string, member: string): Promise<{ notMember: boolean }> {
    try {
      await this.exchange.invokeCommand('Remove-DistributionGroupMember', { Identity: group, Member: member, BypassSecurityGroupManagerCheck: true, Confirm: false });
      return { notMember: false };
    } catch (error) {
      if (exchangeErrorOf(error)?.exceptionType?.endsWith('MemberNotFoundException')) return { notMember: true };
      throw membershipError(error, group, member);
    }
  }
}

/** A group mastered on-premises is a permanent refusal; a member Exchange does not see yet is worth a later try. */
function membershipError(error: unknown, group: string, member: string): unknown {
  const info = exchangeErrorOf(error);
  if (!info) return error;
  if (/synchroni[sz]ed from your on-premises/i.test(info.text)) {
    return new DeskhandError(
      'upstream',
      `${group} is synchronized from the on-premises directory, so Exchange Online refuses to change its members: change them in on-premises Active Directory (Exchange: ${info.text})`,
      { details: { status: info.status, onPremises: true }, cause: error },
    );
  }
  if (info.exceptionType?.endsWith('ManagementObjectNotFoundException') && info.text.toLowerCase().includes(member.toLowerCase())) {
    return new DeskhandError('upstream_retryable', `Exchange Online does not know ${member} yet (new users reach Exchange some minutes after Entra ID): ${info.text}`, {
      details: { status: info.status },
      retryAfterMs: NEW_RECIPIENT_WAIT_MS,
      cause: error,
    });
  }
  if (info.status >= 400 && info.status < 500 && isDeskhandError(error) && error.code === 'upstream') {
    return new DeskhandError('upstream', `Exchange Online refused to change the members of ${group}: ${info.text || `HTTP ${info.status}`}`, { details: { status: info.status, exceptionType: info.exceptionType }, cause: error });
  }
  return error;
}
