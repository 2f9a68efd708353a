import { integrationModules } from '../integrations/index.ts';

/**
 * Who may call what: every HTTP route the service registers, with the answer each kind of caller
 * gets to a well-formed request, and which of its parameters name objects that belong to one MSP.
 *
 * This is the one place to look. The routes enforce it themselves (`requireUser`, `requireAdmin`,
 * the MSP in every query); `test/security/roles.test.ts` starts the service and holds every
 * registered route to its row here (a route without a row fails it), and
 * `test/security/tenants.test.ts` sends every parameter named here another MSP's ids. The README's
 * table "Who may do what" is generated from this list.
 */

export const CALLERS = ['msp_admin', 'msp_technician', 'msp_billing', 'signed_out', 'api_token'] as const;
/**
 * A signed-in user of each role (by session cookie), nobody, and a personal API token. A token acts
 * with its user's role: the `api_token` column is an `msp_admin`'s token, and a technician's or
 * billing user's token is answered as their cookie column.
 */
export type Caller = (typeof CALLERS)[number];

/** Objects that belong to one MSP: another MSP's id answers as if it did not exist. */
export const TENANT_OBJECTS = ['client', 'request', 'approval', 'integration', 'user', 'token', 'workflow'] as const;
export type TenantObject = (typeof TENANT_OBJECTS)[number];

/** Route parameters that name no MSP's object. */
export type OtherParameter =
  /** A plan step's position in its request (0, 1, …). */
  | 'step-index'
  /** A tool's name, `<integration kind>.<verb_noun>`. */
  | 'tool'
  /** The single-use token of a manager's approval link (it names its approval and is signed). */
  | 'manager-link'
  /** The per-integration secret in a webhook URL. */
  | 'webhook-secret';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a successful call uses up, so that each caller allowed to make it needs one of its own:
 * a pending technician approval (decided), a manager link (used once), a temporary password (shown
 * once, to the technician who approved the request), the caller's session (ended).
 */
export type UsesUp = 'technician-approval' | 'manager-link' | 'temporary-password' | 'session' | 'invite';

export interface RouteAccess {
  method: HttpMethod;
  /** The route pattern as registered with Fastify (`:name` parameters). */
  url: string;
  /** Who may, in words (the README's last column). */
  who: string;
  /** The status each caller gets for a well-formed request about an object of their own MSP. */
  answers: Record<Caller, number>;
  /** Every path parameter, and what it names. */
  params?: Record<string, TenantObject | OtherParameter>;
  /** Body fields that name an MSP's objects (each must answer 404 with another MSP's id). */
  bodyIds?: Record<string, TenantObject>;
  /**
   * Body fields that look like ids but name an object of an outside system (a PSA company's
   * identifier, a tenant id), not one of deskhand's: a client's link holds it.
   */
  externalIds?: string[];
  /** Query fields that name an MSP's objects: filters, which find nothing of another MSP's. */
  queryIds?: Record<string, TenantObject>;
  /** A request body a caller with the right may send. */
  example?: { json: Record<string, unknown> } | { form: Record<string, string> };
  /** A query string that widens a list to everything the caller may read (tests read it whole). */
  exampleQuery?: Record<string, string>;
  usesUp?: UsesUp;
  /**
   * The status a signed-in user of one MSP gets with another MSP's ids, whatever their role: 404
   * (the same as an id that does not exist) unless said otherwise.
   */
  crossTenant?: number;
}

const OK_FOR_ALL = { msp_admin: 200, msp_technician: 200, msp_billing: 200, signed_out: 200, api_token: 200 } as const;
const SIGNED_IN = { msp_admin: 200, msp_technician: 200, msp_billing: 200, signed_out: 401, api_token: 200 } as const;
const APPROVERS = { msp_admin: 200, msp_technician: 200, msp_billing: 403, signed_out: 401, api_token: 200 } as const;
const ADMINS = { msp_admin: 200, msp_technician: 403, msp_billing: 403, signed_out: 401, api_token: 200 } as const;

export const ROUTE_ACCESS: readonly RouteAccess[] = [
  { method: 'GET', url: '/', who: 'anyone: the home page', answers: OK_FOR_ALL },
  { method: 'GET', url: '/healthz', who: 'anyone', answers: OK_FOR_ALL },
  { method: 'GET', url: '/api/openapi.json', who: 'anyone: the API description', answers: OK_FOR_ALL },

  { method: 'POST', url: '/api/session', who: 'anyone with an email and password', answers: OK_FOR_ALL },
  { method: 'DELETE', url: '/api/session', who: 'anyone (ends the session of the cookie sent, if any)', answers: OK_FOR_ALL, usesUp: 'session' },
  { method: 'GET', url: '/api/session/csrf', who: "every signed-in user: the CSRF token of the cookie's session (none for a token)", answers: SIGNED_IN },
  { method: 'GET', url: '/api/me', who: 'every signed-in user', answers: SIGNED_IN },

  { method: 'GET', url: '/api/requests', who: "every signed-in user, their MSP's requests (billing: what happened, never why)", answers: SIGNED_IN, queryIds: { client: 'client' }, exampleQuery: { limit: '500' } },
  { method: 'GET', url: '/api/requests/:id', who: 'every signed-in user (billing: what happened, never why)', answers: SIGNED_IN, params: { id: 'request' } },
  {
    method: 'POST',
    url: '/api/requests/:id/steps/:index/temporary-password',
    who: 'only the technician or admin who approved the request, once',
    answers: APPROVERS,
    params: { id: 'request', index: 'step-index' },
    usesUp: 'temporary-password',
  },
  // Audit log (the audit page)
  { method: 'GET', url: '/api/audit', who: "msp_admin, msp_technician: their MSP's audit log", answers: APPROVERS, queryIds: { requestId: 'request' }, exampleQuery: { limit: '200' } },
  { method: 'GET', url: '/api/audit/verify', who: "every signed-in user, their MSP's audit chain", answers: SIGNED_IN },

  { method: 'GET', url: '/api/approvals', who: 'every signed-in user (billing: without the reasons)', answers: SIGNED_IN, exampleQuery: { status: 'all', limit: '500' } },
  { method: 'GET', url: '/api/approvals/:id', who: 'every signed-in user (billing: without the reasons)', answers: SIGNED_IN, params: { id: 'approval' } },
  {
    method: 'POST',
    url: '/api/approvals/:id/decision',
    who: 'msp_technician, msp_admin; never on their own request',
    answers: APPROVERS,
    params: { id: 'approval' },
    example: { json: { decision: 'approve' } },
    usesUp: 'technician-approval',
  },

  { method: 'GET', url: '/api/clients', who: 'every signed-in user', answers: SIGNED_IN },
  {
    method: 'PATCH',
    url: '/api/clients/:id',
    who: 'msp_admin',
    answers: ADMINS,
    params: { id: 'client' },
    example: { json: { operatingMode: 'inherit' } },
  },
  { method: 'PATCH', url: '/api/msp', who: 'msp_admin', answers: ADMINS, example: { json: { defaultOperatingMode: 'execute' } } },
  { method: 'GET', url: '/api/integrations', who: 'every signed-in user: each integration with its health (never credentials or settings)', answers: SIGNED_IN, queryIds: { client: 'client' } },
  { method: 'GET', url: '/api/integrations/:id', who: 'every signed-in user: the integration with its health (never credentials or settings)', answers: SIGNED_IN, params: { id: 'integration' } },
  { method: 'POST', url: '/api/integrations/:id/test', who: "msp_admin: runs the integration's doctor now (reads only) and records its health", answers: ADMINS, params: { id: 'integration' } },
  { method: 'GET', url: '/api/integrations/:id/companies', who: "msp_admin: a PSA's companies, each with the client linked to it", answers: ADMINS, params: { id: 'integration' } },
  {
    method: 'POST',
    url: '/api/integrations/:id/import-clients',
    who: 'msp_admin: a client per chosen PSA company (one already linked is skipped)',
    answers: ADMINS,
    params: { id: 'integration' },
    // Contoso is linked already: the sample call is answered (skipped) and changes nothing.
    example: { json: { companies: ['contoso'] } },
  },
  { method: 'GET', url: '/api/integrations/:id/policies', who: 'every signed-in user', answers: SIGNED_IN, params: { id: 'integration' } },
  {
    method: 'PUT',
    url: '/api/integrations/:id/policies/:tool',
    who: 'msp_admin',
    answers: ADMINS,
    params: { id: 'integration', tool: 'tool' },
    example: { json: { policy: 'auto' } },
  },
  { method: 'GET', url: '/api/integrations/:id/ticket-statuses', who: 'every signed-in user', answers: SIGNED_IN, params: { id: 'integration' } },
  {
    method: 'PUT',
    url: '/api/integrations/:id/ticket-statuses',
    who: 'msp_admin (board and status names checked against the PSA)',
    answers: ADMINS,
    params: { id: 'integration' },
    example: { json: { boards: [{ board: 'Help Desk', waiting: 'Waiting on Approval', inProgress: 'In Progress', resolved: 'Resolved' }] } },
  },
  { method: 'GET', url: '/api/clients/:id/policies', who: 'every signed-in user', answers: SIGNED_IN, params: { id: 'client' }, queryIds: { integration: 'integration' } },
  {
    method: 'PUT',
    url: '/api/clients/:id/policies/:tool',
    who: 'msp_admin',
    answers: ADMINS,
    params: { id: 'client', tool: 'tool' },
    example: { json: { policy: 'disabled' } },
  },

  {
    method: 'GET',
    url: '/approvals/manager/:link',
    who: 'whoever holds the link (the manager); a session or token adds nothing',
    answers: OK_FOR_ALL,
    params: { link: 'manager-link' },
  },
  {
    method: 'POST',
    url: '/approvals/manager/:link',
    who: 'whoever holds the link, once',
    answers: OK_FOR_ALL,
    params: { link: 'manager-link' },
    example: { form: { decision: 'approve' } },
    usesUp: 'manager-link',
  },

  // The dashboard (issue 11): first run, users and invitations, tokens, connecting systems, clients.
  { method: 'GET', url: '/api/setup', who: 'anyone: whether the first MSP is still to be set up, and the demo users when the demo world is loaded', answers: OK_FOR_ALL },
  {
    method: 'POST',
    url: '/api/setup',
    who: "whoever holds the setup link's one-time token, while no MSP exists (then 409 for everyone)",
    answers: { msp_admin: 409, msp_technician: 409, msp_billing: 409, signed_out: 409, api_token: 409 },
    example: { json: { token: 'the-setup-link-token-0123456789', mspName: 'Another MSP', admin: { name: 'Someone', email: 'someone@another-msp.example', password: 'a long enough password' } } },
  },
  { method: 'GET', url: '/api/msp', who: "every signed-in user: the MSP and where approvals are announced", answers: SIGNED_IN },
  { method: 'GET', url: '/api/users', who: "msp_admin: the MSP's users and their status", answers: ADMINS },
  {
    method: 'POST',
    url: '/api/users/invites',
    who: 'msp_admin: a one-time invitation link, shown once (again for someone who has not accepted yet)',
    answers: ADMINS,
    example: { json: { email: 'new.hire@northwind-it.example', name: 'New Hire', role: 'msp_technician' } },
  },
  {
    method: 'PATCH',
    url: '/api/users/:id',
    who: 'msp_admin: role, deactivate (sessions end, API tokens revoked), reactivate; never the last active admin',
    answers: ADMINS,
    params: { id: 'user' },
    example: { json: { role: 'msp_technician' } },
  },
  {
    method: 'POST',
    url: '/api/invites/inspect',
    who: 'whoever holds an invitation link: who it is for (a session or token adds nothing)',
    answers: OK_FOR_ALL,
    example: { json: { token: 'an-invitation-token-0123456789' } },
  },
  {
    method: 'POST',
    url: '/api/invites/accept',
    who: 'whoever holds an invitation link, once: sets the password and signs the invited user in',
    answers: OK_FOR_ALL,
    example: { json: { token: 'an-invitation-token-0123456789', password: 'a long enough password' } },
    usesUp: 'invite',
  },
  { method: 'GET', url: '/api/me/tokens', who: 'every signed-in user: their own API tokens (never the token)', answers: SIGNED_IN },
  { method: 'POST', url: '/api/me/tokens', who: 'every signed-in user: a token of their own, shown once', answers: SIGNED_IN, example: { json: { name: 'a script' } } },
  { method: 'DELETE', url: '/api/me/tokens/:id', who: 'every signed-in user: revokes one of their own tokens', answers: SIGNED_IN, params: { id: 'token' } },
  { method: 'GET', url: '/api/integration-kinds', who: 'every signed-in user: the systems deskhand connects, with their forms', answers: SIGNED_IN },
  {
    method: 'POST',
    url: '/api/integrations',
    who: 'msp_admin: connects a system (settings checked, secrets stored encrypted, never answered)',
    answers: ADMINS,
    bodyIds: { clientId: 'client' },
    // The identity provider's MSP-wide app, which no client is linked to: it serves nobody and calls nothing.
    example: {
      json: {
        kind: integrationModules.find((module) => module.clientOverride)?.kind ?? '',
        name: 'Identity provider (access table)',
        settings: { clientId: '11111111-1111-4111-8111-111111111111' },
        secrets: { clientSecret: 'not-a-real-secret' },
      },
    },
  },
  { method: 'GET', url: '/api/integrations/:id/configuration', who: 'msp_admin: the settings and which secrets are set (never their values)', answers: ADMINS, params: { id: 'integration' } },
  {
    method: 'PUT',
    url: '/api/integrations/:id/configuration',
    who: 'msp_admin: name, enabled, settings, secrets (write-only)',
    answers: ADMINS,
    params: { id: 'integration' },
    example: { json: { enabled: true } },
  },
  { method: 'GET', url: '/api/integrations/:id/boards', who: "msp_admin: a PSA's boards and statuses", answers: ADMINS, params: { id: 'integration' } },
  { method: 'POST', url: '/api/clients', who: 'msp_admin: a client by hand', answers: ADMINS, example: { json: { name: 'Access Table Client' } } },
  { method: 'GET', url: '/api/clients/:id', who: 'every signed-in user: the client with its mode and counts', answers: SIGNED_IN, params: { id: 'client' } },
  { method: 'GET', url: '/api/clients/:id/links', who: "every signed-in user: the client's links to the MSP's systems", answers: SIGNED_IN, params: { id: 'client' } },
  {
    method: 'PUT',
    url: '/api/clients/:id/links/:integrationId',
    who: "msp_admin: links the client to its record in one of the MSP's systems",
    answers: ADMINS,
    params: { id: 'client', integrationId: 'integration' },
    externalIds: ['externalId'],
    example: { json: { externalId: 'fabrikam' } },
  },
  { method: 'DELETE', url: '/api/clients/:id/links/:integrationId', who: 'msp_admin: removes that link', answers: ADMINS, params: { id: 'client', integrationId: 'integration' } },

  // Requests pages (issue 12): a client's Plan Mode review and tool calls
  { method: 'GET', url: '/api/clients/:id/plan-review', who: "msp_admin, msp_technician: the client's Plan Mode notes and plans", answers: APPROVERS, params: { id: 'client' } },
  { method: 'GET', url: '/api/clients/:id/tool-calls', who: "msp_admin, msp_technician: every tool call of the client's requests, with its approvals", answers: APPROVERS, params: { id: 'client' } },
  // Prompts and workflows (issue 14): admins change them, technicians read them, billing never sees them.
  { method: 'GET', url: '/api/msp/prompt', who: "msp_admin, msp_technician: the MSP's planner prompt", answers: APPROVERS },
  { method: 'PUT', url: '/api/msp/prompt', who: "msp_admin: sets or clears the MSP's planner prompt", answers: ADMINS, example: { json: { prompt: 'Sign every note with the MSP name.' } } },
  { method: 'GET', url: '/api/clients/:id/prompt', who: "msp_admin, msp_technician: the client's planner prompt", answers: APPROVERS, params: { id: 'client' } },
  { method: 'PUT', url: '/api/clients/:id/prompt', who: "msp_admin: sets or clears the client's planner prompt", answers: ADMINS, params: { id: 'client' }, example: { json: { prompt: null } } },
  { method: 'GET', url: '/api/workflows', who: "msp_admin, msp_technician: the MSP's workflows", answers: APPROVERS, queryIds: { client: 'client' }, exampleQuery: { status: 'all' } },
  {
    method: 'POST',
    url: '/api/workflows',
    who: "msp_admin: a workflow, MSP-wide or a client's (steps checked against the tool catalog)",
    answers: ADMINS,
    bodyIds: { clientId: 'client' },
    example: { json: { name: 'Access table workflow', trigger: 'a printer is out of toner', instructions: 'Order toner.', status: 'draft' } },
  },
  { method: 'GET', url: '/api/workflows/:id', who: 'msp_admin, msp_technician: one workflow', answers: APPROVERS, params: { id: 'workflow' } },
  {
    method: 'PATCH',
    url: '/api/workflows/:id',
    who: 'msp_admin: name, trigger, instructions, status (archive, never delete), steps',
    answers: ADMINS,
    params: { id: 'workflow' },
    example: { json: { status: 'draft' } },
  },
  {
    method: 'POST',
    url: '/api/workflows/match',
    who: 'msp_admin, msp_technician: the workflows the planner would be given for a text (changes nothing)',
    answers: APPROVERS,
    bodyIds: { client: 'client' },
    example: { json: { text: 'a new starter joins the company on Monday' } },
  },
  // Live updates (issue 12, H5): the matrix asks ?once=1, so the stream answers its first event and closes.
  {
    method: 'GET',
    url: '/api/events',
    who: "every signed-in user: server-sent events of what changes in their MSP (ids and states only)",
    answers: SIGNED_IN,
    exampleQuery: { once: '1' },
  },

  ...integrationModules.flatMap((module) =>
    (module.webhookRoutes ?? []).map(
      (route): RouteAccess => ({
        method: route.method,
        url: `/webhooks/${module.kind}${route.path}`,
        who: route.who,
        answers: { msp_admin: route.answer, msp_technician: route.answer, msp_billing: route.answer, signed_out: route.answer, api_token: route.answer },
        params: route.params,
        // A webhook answers every URL it does not know alike, whoever sends it.
        crossTenant: 401,
      }),
    ),
  ),
];

export function routeKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url}`;
}

/**
 * The row for a registered route. Fastify answers HEAD for every GET route: it is held to its GET
 * row.
 */
export function accessOf(method: string, url: string): RouteAccess | undefined {
  const asked = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  return ROUTE_ACCESS.find((row) => row.method === asked && row.url === url);
}

const COLUMN_TITLES: Record<Caller, string> = {
  msp_admin: '`msp_admin`',
  msp_technician: '`msp_technician`',
  msp_billing: '`msp_billing`',
  signed_out: 'signed out',
  api_token: 'API token',
};

/** The README's table, generated from `ROUTE_ACCESS`. */
export function roleTableMarkdown(): string {
  const head = ['route', ...CALLERS.map((caller) => COLUMN_TITLES[caller]), 'who may'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const row of ROUTE_ACCESS) {
    const cells = [`\`${row.method} ${row.url}\``, ...CALLERS.map((caller) => String(row.answers[caller])), row.who.replaceAll('|', '\\|')];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
