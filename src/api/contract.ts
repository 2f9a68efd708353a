import { z } from 'zod';

/**
 * The HTTP API's contract: the Zod schema of every body, query and answer. Routes validate their
 * input and shape their answer with these (src/api/schema.ts turns them into the JSON Schema of
 * the OpenAPI document), and the dashboard (web/) imports its types from here: one source, no
 * generator. Every key is camelCase. Timestamps are ISO 8601 strings (a Date is turned into one).
 *
 * Kept free of server imports: the dashboard's bundle reads this file.
 */

/** An instant: ISO 8601 in answers; a Date handed to an answer is written as one. */
export const Timestamp = z.preprocess((value) => (value instanceof Date ? value.toISOString() : value), z.string());
export const TimestampNullable = z.preprocess((value) => (value instanceof Date ? value.toISOString() : value), z.string().nullable());

export const Role = z.enum(['msp_admin', 'msp_technician', 'msp_billing']);
export type Role = z.infer<typeof Role>;
export const OperatingMode = z.enum(['plan', 'execute']);
export type OperatingMode = z.infer<typeof OperatingMode>;
export const ClientOperatingMode = z.enum(['plan', 'execute', 'inherit']);
export type ClientOperatingMode = z.infer<typeof ClientOperatingMode>;
export const Policy = z.enum(['auto', 'approval_needed', 'disabled']);
export type Policy = z.infer<typeof Policy>;

/** Every refusal: `{"error": {"code", "message"}}` with the HTTP status of its code. */
export const ErrorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorAnswer = z.infer<typeof ErrorAnswer>;

// ---------------------------------------------------------------------------------------------
// Session, first run, invitations

export const SessionUser = z.object({ id: z.string(), email: z.string(), name: z.string(), role: Role, mspId: z.string() });
export type SessionUser = z.infer<typeof SessionUser>;

export const SignInBody = z.object({ email: z.string().min(3).max(320), password: z.string().min(1).max(1024) });
export type SignInBody = z.infer<typeof SignInBody>;
/** POST /api/session, POST /api/setup, POST /api/invites/accept: signed in (the cookie is set). */
export const SignedIn = z.object({ user: SessionUser, csrfToken: z.string() });
export type SignedIn = z.infer<typeof SignedIn>;

export const Msp = z.object({ id: z.string(), name: z.string(), defaultOperatingMode: OperatingMode });
export type Msp = z.infer<typeof Msp>;
/** GET /api/me */
export const Me = z.object({ user: SessionUser.omit({ mspId: true }), msp: Msp, sessionExpiresAt: TimestampNullable });
export type Me = z.infer<typeof Me>;

/**
 * GET /api/setup (anyone): whether this deskhand still needs its first MSP (then the setup link
 * printed in the service's log opens the setup page), and, when the demo world is loaded, the demo
 * users one may sign in as.
 */
export const SetupStatus = z.object({
  needed: z.boolean(),
  demo: z.object({ password: z.string(), users: z.array(z.object({ email: z.string(), role: Role, msp: z.string() })) }).nullable(),
});
export type SetupStatus = z.infer<typeof SetupStatus>;

export const Password = z.string().min(12, 'at least 12 characters').max(1024);

/** POST /api/setup: the one-time token of the setup link creates the MSP and its first admin, signed in. */
export const SetupBody = z.strictObject({
  token: z.string().min(10).max(200),
  mspName: z.string().trim().min(1).max(200),
  defaultOperatingMode: OperatingMode.default('plan'),
  admin: z.strictObject({ name: z.string().trim().min(1).max(200), email: z.email().max(320), password: Password }),
});
export type SetupBody = z.input<typeof SetupBody>;

/** POST /api/invites/inspect: who an invitation link is for (anyone holding the link). */
export const InviteInspectBody = z.strictObject({ token: z.string().min(10).max(200) });
export const InviteInspection = z.object({ email: z.string(), name: z.string(), role: Role, mspName: z.string(), expiresAt: Timestamp });
export type InviteInspection = z.infer<typeof InviteInspection>;
/** POST /api/invites/accept: sets the invited user's password and signs them in; the link is used up. */
export const InviteAcceptBody = z.strictObject({ token: z.string().min(10).max(200), password: Password });
export type InviteAcceptBody = z.infer<typeof InviteAcceptBody>;

// ---------------------------------------------------------------------------------------------
// The MSP, its users and tokens

/** Where approvals are announced: each integration with the approvalNotice or ticket capability. */
export const ApprovalChannel = z.object({
  integrationId: z.string(),
  integration: z.string(),
  kind: z.string(),
  label: z.string(),
  how: z.string().describe('What the channel does, in a sentence (e.g. "an internal note on the ticket")'),
});
export const MspDetail = Msp.extend({ approvalChannels: z.array(ApprovalChannel) });
export type MspDetail = z.infer<typeof MspDetail>;
/** PATCH /api/msp (msp_admin) */
export const MspPatchBody = z.strictObject({ name: z.string().trim().min(1).max(200).optional(), defaultOperatingMode: OperatingMode.optional() });
export type MspPatchBody = z.infer<typeof MspPatchBody>;

export const UserStatus = z.enum(['active', 'invited', 'deactivated']);
export const User = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: Role,
  status: UserStatus,
  createdAt: Timestamp,
  /** For an invited user: until when the invitation link works. */
  inviteExpiresAt: TimestampNullable,
});
export type User = z.infer<typeof User>;
/** GET /api/users (msp_admin) */
export const UserList = z.object({ users: z.array(User) });
export type UserList = z.infer<typeof UserList>;
/** POST /api/users/invites (msp_admin): the link is shown once, to the admin, and never stored in clear. */
export const InviteBody = z.strictObject({ email: z.email().max(320), name: z.string().trim().min(1).max(200), role: Role });
export type InviteBody = z.infer<typeof InviteBody>;
export const InviteCreated = z.object({ user: User, link: z.string() });
export type InviteCreated = z.infer<typeof InviteCreated>;
/** PATCH /api/users/:id (msp_admin): the last active admin can be neither demoted nor deactivated. */
export const UserPatchBody = z.strictObject({ role: Role.optional(), status: z.enum(['active', 'deactivated']).optional() });
export type UserPatchBody = z.infer<typeof UserPatchBody>;

export const ApiToken = z.object({ id: z.string(), name: z.string(), createdAt: Timestamp, lastUsedAt: TimestampNullable });
export type ApiToken = z.infer<typeof ApiToken>;
/** GET /api/me/tokens: the caller's own personal API tokens (never the token itself). */
export const ApiTokenList = z.object({ tokens: z.array(ApiToken) });
export type ApiTokenList = z.infer<typeof ApiTokenList>;
export const ApiTokenBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
/** POST /api/me/tokens: the token, shown once. */
export const ApiTokenCreated = z.object({ token: ApiToken, secret: z.string() });
export type ApiTokenCreated = z.infer<typeof ApiTokenCreated>;

// ---------------------------------------------------------------------------------------------
// Clients

export const ClientCounts = z.object({ openRequests: z.number().int(), pendingApprovals: z.number().int() });
export const Client = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  domain: z.string(),
  operatingMode: ClientOperatingMode,
  /** What the client runs in now: its own mode, or the MSP's default when it inherits. */
  effectiveOperatingMode: OperatingMode,
  inherited: z.boolean(),
  openRequests: z.number().int(),
  pendingApprovals: z.number().int(),
});
export type Client = z.infer<typeof Client>;
/** GET /api/clients */
export const ClientList = z.object({ mspDefaultOperatingMode: OperatingMode, clients: z.array(Client) });
export type ClientList = z.infer<typeof ClientList>;
/** GET /api/clients/:id */
export const ClientDetail = Client.extend({ mspDefaultOperatingMode: OperatingMode });
export type ClientDetail = z.infer<typeof ClientDetail>;
/** POST /api/clients (msp_admin): a client by hand (one without a PSA company to import). */
export const ClientCreateBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  domain: z.string().trim().max(253).default(''),
  operatingMode: ClientOperatingMode.default('inherit'),
});
export type ClientCreateBody = z.input<typeof ClientCreateBody>;
/** PATCH /api/clients/:id (msp_admin) */
export const ClientPatchBody = z.strictObject({
  operatingMode: ClientOperatingMode.optional(),
  name: z.string().trim().min(1).max(200).optional(),
  domain: z.string().trim().max(253).optional(),
});
export type ClientPatchBody = z.infer<typeof ClientPatchBody>;

/**
 * A client's link to one of the MSP's integrations (its PSA company, its identity provider's tenant, its
 * documentation organisation): one row per MSP-scoped integration whose system links clients.
 */
export const ClientLink = z.object({
  integrationId: z.string(),
  integration: z.string(),
  kind: z.string(),
  label: z.string().describe("What the link holds, e.g. \"Tenant id\" or \"Company identifier\""),
  externalId: z.string().nullable(),
  /** For a multi-tenant app: the URL the client's admin opens to consent to the MSP's app in their tenant. */
  consentUrl: z.string().nullable(),
});
export type ClientLink = z.infer<typeof ClientLink>;
/** GET /api/clients/:id/links */
export const ClientLinkList = z.object({ links: z.array(ClientLink) });
export type ClientLinkList = z.infer<typeof ClientLinkList>;
/** PUT /api/clients/:id/links/:integrationId (msp_admin); DELETE unlinks. */
export const ClientLinkBody = z.strictObject({ externalId: z.string().trim().min(1).max(200) });
export type ClientLinkBody = z.infer<typeof ClientLinkBody>;

// ---------------------------------------------------------------------------------------------
// Integrations

export const Health = z.object({
  status: z.enum(['healthy', 'unhealthy', 'unknown']),
  /** When the status was last set, and by what (traffic through it, or a doctor run). */
  checkedAt: TimestampNullable,
  checkedBy: z.enum(['traffic', 'doctor']).nullable(),
  lastSuccessAt: TimestampNullable,
  /** The last refusal of its credentials or configuration (kept after a later success), never a secret. */
  lastError: z.string().nullable(),
  lastErrorAt: TimestampNullable,
});
export type Health = z.infer<typeof Health>;

export const Integration = z.object({
  id: z.string(),
  kind: z.string(),
  label: z.string(),
  name: z.string(),
  scope: z.enum(['msp', 'client']),
  enabled: z.boolean(),
  client: z.object({ id: z.string(), slug: z.string(), name: z.string() }).nullable(),
  provides: z.array(z.string()),
  health: Health,
});
export type Integration = z.infer<typeof Integration>;
/** GET /api/integrations (?client=<id or slug>: the integrations that client uses) */
export const IntegrationList = z.object({ integrations: z.array(Integration) });
export type IntegrationList = z.infer<typeof IntegrationList>;

/**
 * A JSON Schema (draft 7) of an object, from an integration module's Zod schema: the dashboard
 * builds its forms from it (properties with type, description, required; nested objects).
 */
export const JsonSchemaObject = z.record(z.string(), z.unknown());
export type JsonSchemaObject = Record<string, unknown>;

/** GET /api/integration-kinds: every system deskhand can connect, with the forms to connect it. */
export const IntegrationKind = z.object({
  kind: z.string(),
  label: z.string(),
  scope: z.enum(['msp', 'client']),
  clientOverride: z.boolean(),
  provides: z.array(z.string()),
  settingsSchema: JsonSchemaObject,
  secretsSchema: JsonSchemaObject,
  clientLink: z.object({ label: z.string() }).nullable(),
});
export type IntegrationKind = z.infer<typeof IntegrationKind>;
export const IntegrationKindList = z.object({ kinds: z.array(IntegrationKind) });
export type IntegrationKindList = z.infer<typeof IntegrationKindList>;

/** POST /api/integrations (msp_admin): connect a system, for the MSP or (clientId) for one client. */
export const IntegrationCreateBody = z.strictObject({
  kind: z.string().min(1).max(50),
  name: z.string().trim().min(1).max(200),
  clientId: z.uuid().nullable().default(null),
  settings: z.record(z.string(), z.unknown()),
  secrets: z.record(z.string(), z.string()),
});
export type IntegrationCreateBody = z.input<typeof IntegrationCreateBody>;

/**
 * GET /api/integrations/:id/configuration (msp_admin): the settings as the form shows them, and
 * which secrets are set (never their values).
 */
export const IntegrationConfiguration = z.object({
  integration: Integration,
  settings: z.record(z.string(), z.unknown()),
  secretsSet: z.array(z.string()),
});
export type IntegrationConfiguration = z.infer<typeof IntegrationConfiguration>;
/**
 * PUT /api/integrations/:id/configuration (msp_admin): the settings replace the old ones; a secret
 * left out keeps its value, a string replaces it, null clears it.
 */
export const IntegrationConfigurationBody = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  enabled: z.boolean().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  secrets: z.record(z.string(), z.string().nullable()).optional(),
});
export type IntegrationConfigurationBody = z.infer<typeof IntegrationConfigurationBody>;

/** One check of a doctor report: the system's answer to one call, and for a failure what fixes it. */
export const DoctorCheck = z.object({ name: z.string(), ok: z.boolean(), detail: z.string(), fix: z.string().optional() });
export type DoctorCheck = z.infer<typeof DoctorCheck>;
/** POST /api/integrations/:id/test (msp_admin): *Test connection*, the module's doctor, per tool. */
export const TestConnectionResult = z.object({
  ok: z.boolean(),
  integration: z.object({
    id: z.string(),
    name: z.string(),
    kind: z.string(),
    client: z.object({ id: z.string(), name: z.string() }).optional(),
    /** False when its module has no doctor: listed, not checked. */
    checked: z.boolean(),
    ok: z.boolean(),
    checks: z.array(DoctorCheck),
  }),
  tools: z.array(
    z.object({
      tool: z.string(),
      integration: z.string(),
      integrationId: z.string(),
      kind: z.string(),
      client: z.string().optional(),
      status: z.enum(['ok', 'missing', 'error']),
      missing: z.array(DoctorCheck),
    }),
  ),
  health: Health,
});
export type TestConnectionResult = z.infer<typeof TestConnectionResult>;

/** GET /api/integrations/:id/companies (msp_admin): a PSA's companies, each with its client if linked. */
export const Company = z.object({
  externalId: z.string(),
  name: z.string(),
  client: z.object({ id: z.string(), slug: z.string(), name: z.string() }).nullable(),
});
export const CompanyList = z.object({ companies: z.array(Company) });
export type CompanyList = z.infer<typeof CompanyList>;
export const ImportClientsBody = z.strictObject({ companies: z.array(z.string().trim().min(1).max(200)).min(1).max(500) });
export type ImportClientsBody = z.infer<typeof ImportClientsBody>;
const Imported = z.object({ externalId: z.string(), name: z.string(), client: z.object({ id: z.string(), slug: z.string(), name: z.string() }), reason: z.string().optional() });
export const ImportClientsResult = z.object({ created: z.array(Imported), skipped: z.array(Imported) });
export type ImportClientsResult = z.infer<typeof ImportClientsResult>;

// ---------------------------------------------------------------------------------------------
// Tool policies

export const ToolPolicy = z.object({
  tool: z.string(),
  kind: z.enum(['read', 'write']),
  description: z.string(),
  policy: Policy,
  requireManagerApproval: z.boolean(),
  /** Where the policy comes from: the client's own row, its integration's, or the catalog's default. */
  source: z.enum(['client', 'integration', 'default']),
  integrationId: z.string(),
  integration: z.string(),
  updatedAt: TimestampNullable,
  updatedBy: z.string().nullable(),
});
export type ToolPolicy = z.infer<typeof ToolPolicy>;
/** GET /api/integrations/:id/policies, GET /api/clients/:id/policies (?integration=<id>) */
export const ToolPolicyList = z.object({ tools: z.array(ToolPolicy) });
export type ToolPolicyList = z.infer<typeof ToolPolicyList>;
/** PUT /api/integrations/:id/policies/:tool (msp_admin) */
export const ToolPolicyBody = z.strictObject({ policy: Policy, requireManagerApproval: z.boolean().default(false) });
export type ToolPolicyBody = z.input<typeof ToolPolicyBody>;
/** PUT /api/clients/:id/policies/:tool (msp_admin): `inherit` removes the client's own policy. */
export const ClientToolPolicyBody = z.strictObject({ policy: z.enum(['auto', 'approval_needed', 'disabled', 'inherit']), requireManagerApproval: z.boolean().default(false) });
export type ClientToolPolicyBody = z.input<typeof ClientToolPolicyBody>;
/** The answer to either PUT: the tool's policy now. */
export const ToolPolicyChanged = ToolPolicy;

// ---------------------------------------------------------------------------------------------
// The PSA's ticket statuses

/** One board's statuses for the phases a request's ticket goes through; a phase left out is not moved. */
export const BoardStatuses = z.strictObject({
  board: z.string().trim().min(1).max(200),
  waiting: z.string().trim().min(1).max(200).nullish(),
  inProgress: z.string().trim().min(1).max(200).nullish(),
  resolved: z.string().trim().min(1).max(200).nullish(),
});
/** GET and PUT /api/integrations/:id/ticket-statuses (PUT: msp_admin, checked against the PSA) */
export const TicketStatusMap = z.object({ boards: z.array(BoardStatuses).max(200) });
/** GET /api/integrations/:id/boards (msp_admin): a PSA's boards and each board's statuses, to map. */
export const PsaBoards = z.object({ boards: z.array(z.object({ name: z.string(), statuses: z.array(z.string()) })) });
export type PsaBoards = z.infer<typeof PsaBoards>;
export type TicketStatusMap = z.infer<typeof TicketStatusMap>;

// ---------------------------------------------------------------------------------------------
// Requests: the list and each request's story

/** A client as other answers name it. */
export const ClientRef = z.object({ id: z.string(), slug: z.string(), name: z.string() });
export type ClientRef = z.infer<typeof ClientRef>;

export const RequestRow = z.object({
  id: z.string(),
  client: ClientRef.nullable(),
  channel: z.string(),
  externalRef: z.string(),
  requesterEmail: z.string().nullable(),
  subject: z.string().nullable(),
  state: z.string(),
  outcome: z.string().nullable(),
  operatingMode: z.string().nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type RequestRow = z.infer<typeof RequestRow>;
/**
 * GET /api/requests (?client=<id or slug>&channel=&state=&outcome=&from=&to=&q=&limit=&cursor=): one
 * page, newest first; `nextCursor` fetches the next (null on the last), `total` counts every request
 * the filters match, `stateCounts` the requests per state under every filter but the state.
 */
export const RequestList = z.object({
  requests: z.array(RequestRow),
  nextCursor: z.string().nullable(),
  total: z.number().int(),
  stateCounts: z.array(z.object({ state: z.string(), count: z.number().int() })),
});
export type RequestList = z.infer<typeof RequestList>;

/** JSON the systems or the planner wrote (a diagnosis' reads, a step's result, an audit row's data): shown as stored. */
const Stored = z.unknown();

/** A plan's step: the tool, its arguments as a human reads them, and (technicians only) why. */
export const PlanStep = z.object({
  tool: z.string(),
  args: z.record(z.string(), z.unknown()),
  /** The object ids the arguments resolved to, hashed with them. */
  resolved: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().optional(),
  requireManagerApproval: z.boolean().optional(),
});
export type PlanStep = z.infer<typeof PlanStep>;
/** A step as billing reads it: the tool and its arguments, never the reason. */
export const PlanStepForBilling = z.object({ tool: z.string(), args: z.record(z.string(), z.unknown()) });

export const StoryRequest = RequestRow.extend({
  requesterEmail: z.string(),
  subject: z.string(),
  /** The employee's message. */
  body: z.string(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  dueAt: TimestampNullable,
});
export const Diagnosis = z.object({ requester: Stored.nullable(), manager: Stored.nullable(), reads: Stored, createdAt: Timestamp });
export const Plan = z.object({
  id: z.string(),
  planner: z.string(),
  outcome: z.string(),
  summary: z.string(),
  reasons: Stored,
  replyToEmployee: z.string().nullable(),
  steps: z.array(PlanStep),
  stepPolicies: Stored,
  /** The canonical text of the plan, and its SHA-256: an approval is bound to this hash. */
  canonical: z.string(),
  hash: z.string(),
  operatingMode: z.string(),
  needsTechnician: z.boolean(),
  needsManager: z.boolean(),
  rejectedProblems: Stored.nullable(),
  /** What a model-backed planner spent: calls, tokens and cost in US dollars (null: price unknown). Null for the built-in planner. */
  usage: z
    .object({ model: z.string(), modelCalls: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int(), costUsd: z.number().nullable() })
    .nullable(),
  /** What the planner was given: the MSP's and the client's prompts as a model read them (null for the built-in planner), the workflows that matched. */
  plannerContext: z
    .object({
      prompts: z.object({ msp: z.string().nullable(), client: z.string().nullable() }).nullable(),
      workflows: z.array(z.object({ id: z.string(), name: z.string(), scope: z.enum(['msp', 'client']) })),
    })
    .nullable(),
  createdAt: Timestamp,
});
export const ApprovalStatus = z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']);
export const ApprovalKind = z.enum(['technician', 'manager']);
export const StoryApproval = z.object({
  id: z.string(),
  kind: ApprovalKind,
  status: ApprovalStatus,
  planHash: z.string(),
  approverEmail: z.string().nullable(),
  approverName: z.string().nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: TimestampNullable,
  comment: z.string().nullable(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
});
export const StoryStep = z.object({
  stepIndex: z.number().int(),
  tool: z.string(),
  idempotencyKey: z.string(),
  status: z.string(),
  attempts: z.number().int(),
  summary: z.string().nullable(),
  result: Stored.nullable(),
  error: z.string().nullable(),
  startedAt: Timestamp,
  finishedAt: TimestampNullable,
  /** A reset password step's temporary password: whether it can still be shown (once), to whom, and when it was. */
  secretAvailable: z.boolean(),
  secretForUserId: z.string().nullable(),
  secretRevealedAt: TimestampNullable,
});
export const StoryMessage = z.object({
  kind: z.string(),
  idempotencyKey: z.string(),
  /** A mail's envelope only: its body holds single-use links. */
  payload: Stored,
  status: z.string(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: Timestamp,
  deliveredAt: TimestampNullable,
});
export const StoryAudit = z.object({ seq: z.string(), actor: z.string(), event: z.string(), data: Stored, at: Timestamp, hash: z.string() });
/** GET /api/requests/:id for msp_admin and msp_technician: the whole story. */
export const RequestStory = z.object({
  request: StoryRequest,
  diagnosis: Diagnosis.nullable(),
  plan: Plan.nullable(),
  approvals: z.array(StoryApproval),
  steps: z.array(StoryStep),
  messages: z.array(StoryMessage),
  audit: z.array(StoryAudit),
});
export type RequestStory = z.infer<typeof RequestStory>;
/**
 * GET /api/requests/:id for msp_billing: what happened and what it changed, never why (no
 * diagnosis, reasons, summary, message, notes, results, errors or comments).
 */
export const RequestStoryForBilling = z.object({
  request: RequestRow,
  diagnosis: z.null(),
  plan: z
    .object({
      id: z.string(),
      outcome: z.string(),
      hash: z.string(),
      operatingMode: z.string(),
      needsTechnician: z.boolean(),
      needsManager: z.boolean(),
      stepPolicies: Stored,
      steps: z.array(PlanStepForBilling),
      createdAt: Timestamp,
    })
    .nullable(),
  approvals: z.array(StoryApproval.omit({ comment: true })),
  steps: z.array(StoryStep.pick({ stepIndex: true, tool: true, status: true, attempts: true, startedAt: true, finishedAt: true })),
  messages: z.array(StoryMessage.pick({ kind: true, status: true, attempts: true, createdAt: true, deliveredAt: true })),
  audit: z.array(StoryAudit.omit({ data: true })),
});
export type RequestStoryForBilling = z.infer<typeof RequestStoryForBilling>;
/** The answer of GET /api/requests/:id: the whole story, or billing's view of it. */
export const RequestStoryAnswer = z.union([RequestStory, RequestStoryForBilling]);
export type RequestStoryAnswer = z.infer<typeof RequestStoryAnswer>;

/** POST /api/requests/:id/steps/:index/temporary-password: shown once, to the technician who approved. */
export const TemporaryPassword = z.object({ temporaryPassword: z.string(), tool: z.string(), note: z.string() });
export type TemporaryPassword = z.infer<typeof TemporaryPassword>;

/** GET /api/audit/verify: the MSP's hash-chained audit log recomputed from its first row. */
export const AuditVerification = z.object({
  mspId: z.string(),
  ok: z.boolean(),
  rows: z.number().int(),
  brokenAt: z.number().int().optional(),
  reason: z.string().optional(),
});
export type AuditVerification = z.infer<typeof AuditVerification>;

// ---------------------------------------------------------------------------------------------
// Approvals

/** One approval in the list, with its request and the plan it is bound to. */
export const ApprovalRow = z.object({
  id: z.string(),
  kind: ApprovalKind,
  status: ApprovalStatus,
  planHash: z.string(),
  approverEmail: z.string().nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: TimestampNullable,
  comment: z.string().nullable(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  requestId: z.string(),
  requesterEmail: z.string(),
  subject: z.string(),
  requestState: z.string(),
  client: ClientRef.nullable(),
  summary: z.string(),
  steps: z.array(PlanStep),
  /** GET /api/approvals: when the plan also needs the employee's manager (dual approval), that approval's state. */
  manager: z.object({ status: ApprovalStatus, approverEmail: z.string().nullable(), decidedAt: TimestampNullable }).nullable().optional(),
});
export type ApprovalRow = z.infer<typeof ApprovalRow>;
export const ApprovalRowForBilling = ApprovalRow.omit({ comment: true, summary: true }).extend({ steps: z.array(PlanStepForBilling) });
/** GET /api/approvals (?status=pending|approved|denied|expired|cancelled|all&limit=) */
export const ApprovalList = z.union([z.object({ approvals: z.array(ApprovalRow) }), z.object({ approvals: z.array(ApprovalRowForBilling) })]);
export type ApprovalList = z.infer<typeof ApprovalList>;

/** GET /api/approvals/:id: one approval with the plan it is bound to. */
export const ApprovalDetail = z.object({
  id: z.string(),
  kind: ApprovalKind,
  status: ApprovalStatus,
  planHash: z.string(),
  requestId: z.string(),
  approverEmail: z.string().nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: TimestampNullable,
  comment: z.string().nullable(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  summary: z.string(),
  reasons: Stored,
  stepPolicies: Stored,
  steps: z.array(PlanStep),
});
export type ApprovalDetail = z.infer<typeof ApprovalDetail>;
export const ApprovalDetailForBilling = ApprovalDetail.omit({ comment: true, summary: true, reasons: true }).extend({ steps: z.array(PlanStepForBilling) });
export const ApprovalDetailAnswer = z.union([ApprovalDetail, ApprovalDetailForBilling]);
export type ApprovalDetailAnswer = z.infer<typeof ApprovalDetailAnswer>;

/** POST /api/approvals/:id/decision */
export const DecisionBody = z.object({
  decision: z.enum(['approve', 'deny']),
  comment: z.string().max(2000).optional(),
  /** The plan hash the technician reviewed; a different current plan is refused (409). */
  planHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type DecisionBody = z.infer<typeof DecisionBody>;
export const Decision = z.object({
  approval: z.object({
    id: z.string(),
    kind: ApprovalKind,
    status: z.enum(['approved', 'denied']),
    planHash: z.string(),
    decidedBy: z.string().nullable(),
  }),
  requestState: z.enum(['executing', 'replied', 'awaiting_approval']).describe('The state the decision leads the request to (see the route description).'),
  combined: z.enum(['approved', 'denied', 'pending']).describe('Every approval of the request taken together: both must approve, either denial denies.'),
});
export type Decision = z.infer<typeof Decision>;

// ---------------------------------------------------------------------------------------------
// Session odds and ends, health, webhooks, pages

/** GET /api/session/csrf: null for an API token, which needs none. */
export const CsrfToken = z.object({ csrfToken: z.string().nullable() });
/** DELETE /api/session */
export const SignedOut = z.object({ signedOut: z.literal(true) });
/** PATCH /api/clients/:id and the routes that change one client: the client now. */
export const ClientChanged = ClientDetail;

/** GET /healthz (503 with a reason when the database does not answer). */
export const ServiceHealth = z.object({ status: z.enum(['ok', 'unavailable']), reason: z.string().optional() });
export type ServiceHealth = z.infer<typeof ServiceHealth>;

/** A PSA's webhook taking in one ticket: whether it started (or already had) a request. */
export const WebhookIntake = z.object({
  accepted: z.boolean(),
  /** Why nothing was started (own change, company not served, ...). */
  reason: z.string().optional(),
  requestId: z.string().optional(),
  /** The ticket had been taken in already: nothing new was created. */
  duplicate: z.boolean().optional(),
});
export type WebhookIntake = z.infer<typeof WebhookIntake>;
/** A webhook carrying several events (a PSA that batches them): one intake per ticket. */
export const WebhookIntakes = z.object({ results: z.array(WebhookIntake.extend({ ticket: z.number() })) });
export type WebhookIntakes = z.infer<typeof WebhookIntakes>;

// ---------------------------------------------------------------------------------------------
// Requests pages: a client's Plan Mode review and its tool calls

/** A step of a Plan Mode plan with the policy it met when the plan was frozen. */
export const PlanReviewStep = z.object({
  tool: z.string(),
  args: z.record(z.string(), z.unknown()),
  policy: z.string(),
  requireManagerApproval: z.boolean(),
});
export const PlanReviewItem = z.object({
  id: z.string(),
  subject: z.string(),
  requesterEmail: z.string(),
  state: z.string(),
  channel: z.string(),
  externalRef: z.string(),
  createdAt: Timestamp,
  /** The internal note as posted to the ticket (null until it is queued). */
  note: z.object({ text: z.string(), status: z.string(), postedAt: TimestampNullable }).nullable(),
  plan: z.object({ outcome: z.string(), summary: z.string(), hash: z.string(), createdAt: Timestamp, steps: z.array(PlanReviewStep) }),
});
/** GET /api/clients/:id/plan-review: the client's Plan Mode requests, newest first (technicians). */
export const PlanReview = z.object({ client: ClientRef, requests: z.array(PlanReviewItem) });
export type PlanReview = z.infer<typeof PlanReview>;

export const ToolCallApproval = z.object({ kind: ApprovalKind, status: ApprovalStatus, decidedBy: z.string().nullable(), decidedAt: TimestampNullable });
/** One tool call: a diagnosis read or an executed step, with the request that triggered it. */
export const ToolCall = z.object({
  kind: z.enum(['read', 'step']),
  tool: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  /** As stored (never a temporary password: that is kept apart, encrypted). */
  result: z.unknown(),
  status: z.string(),
  at: Timestamp,
  error: z.string().nullable(),
  attempts: z.number().int(),
  request: z.object({ id: z.string(), subject: z.string(), requesterEmail: z.string(), state: z.string() }),
  approvals: z.array(ToolCallApproval),
});
export type ToolCall = z.infer<typeof ToolCall>;
/** GET /api/clients/:id/tool-calls: every tool call of the client's requests, newest first (technicians). */
export const ToolCallList = z.object({ client: ClientRef, toolCalls: z.array(ToolCall) });
export type ToolCallList = z.infer<typeof ToolCallList>;
// Audit log (the approvals and audit pages)

/** One row of the MSP's audit log as the audit page lists it. */
export const AuditRow = z.object({
  seq: z.string(),
  at: Timestamp,
  actor: z.string(),
  event: z.string(),
  requestId: z.string().nullable(),
  data: Stored,
});
export type AuditRow = z.infer<typeof AuditRow>;
/** GET /api/audit (?q=&event=&requestId=&before=<seq>&limit=): newest first; `nextBefore` pages on. */
export const AuditList = z.object({ rows: z.array(AuditRow), nextBefore: z.string().nullable() });
export type AuditList = z.infer<typeof AuditList>;

// ---------------------------------------------------------------------------------------------
// Prompts and workflows (issue 14): what the MSP tells the planner (admins edit, technicians read)

/** A planner prompt's length limit: the same as the database's check. */
export const PLANNER_PROMPT_MAX = 8000;

/**
 * GET/PUT /api/msp/prompt and /api/clients/:id/prompt: the MSP's or a client's own planner prompt,
 * combined after deskhand's base prompt (base → MSP → client); null: none.
 */
export const PlannerPrompt = z.object({ prompt: z.string().nullable(), updatedAt: TimestampNullable, updatedBy: z.string().nullable() });
export type PlannerPrompt = z.infer<typeof PlannerPrompt>;
/** A prompt of only spaces is no prompt (stored as null). */
export const PlannerPromptBody = z.strictObject({ prompt: z.string().max(PLANNER_PROMPT_MAX).nullable() });
export type PlannerPromptBody = z.infer<typeof PlannerPromptBody>;

export const WorkflowStatus = z.enum(['active', 'draft', 'archived']);
export type WorkflowStatus = z.infer<typeof WorkflowStatus>;
/**
 * One step of a workflow: a write tool and its arguments, each a literal value or a template the
 * planner fills from the request: `{requester}`, `{person named in the request}`, `{group named in
 * the request}`, `{licence named in the request}`.
 */
export const WorkflowStep = z.strictObject({ tool: z.string().min(1).max(200), args: z.record(z.string().min(1).max(100), z.string().max(500)) });
export type WorkflowStep = z.infer<typeof WorkflowStep>;

export const Workflow = z.object({
  id: z.string(),
  /** Null: MSP-wide. */
  client: ClientRef.nullable(),
  name: z.string(),
  trigger: z.string(),
  instructions: z.string(),
  status: WorkflowStatus,
  steps: z.array(WorkflowStep),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  updatedBy: z.string(),
});
export type Workflow = z.infer<typeof Workflow>;
/** GET /api/workflows: MSP-wide and clients' workflows (archived ones only when `status` asks). */
export const WorkflowList = z.object({ workflows: z.array(Workflow) });
export type WorkflowList = z.infer<typeof WorkflowList>;
/** GET /api/workflows?client=<id or slug>|msp&status=active|draft|archived|all */
export const WorkflowListQuery = z.strictObject({
  client: z.string().min(1).max(200).optional(),
  status: z.enum(['active', 'draft', 'archived', 'all']).optional(),
});

const WorkflowName = z.string().trim().min(1).max(200);
const WorkflowTrigger = z.string().trim().min(1).max(1000);
const WorkflowInstructions = z.string().trim().max(8000);
const WorkflowSteps = z.array(WorkflowStep).max(20);

/** POST /api/workflows: MSP-wide without clientId; active unless said otherwise. */
export const WorkflowCreateBody = z.strictObject({
  clientId: z.uuid().nullable().default(null),
  name: WorkflowName,
  trigger: WorkflowTrigger,
  instructions: WorkflowInstructions.default(''),
  status: WorkflowStatus.default('active'),
  steps: WorkflowSteps.default([]),
});
export type WorkflowCreateBody = z.input<typeof WorkflowCreateBody>;
/** PATCH /api/workflows/:id: any of these (archive with `status: "archived"`; nothing is deleted). */
export const WorkflowPatchBody = z.strictObject({
  name: WorkflowName.optional(),
  trigger: WorkflowTrigger.optional(),
  instructions: WorkflowInstructions.optional(),
  status: WorkflowStatus.optional(),
  steps: WorkflowSteps.optional(),
});
export type WorkflowPatchBody = z.infer<typeof WorkflowPatchBody>;

/** POST /api/workflows/match: the workflows the planner would be given for this text (a client's, or MSP-wide only). */
export const WorkflowMatchBody = z.strictObject({ client: z.uuid().nullable().optional(), text: z.string().trim().min(1).max(20000) });
export type WorkflowMatchBody = z.infer<typeof WorkflowMatchBody>;
export const WorkflowMatchList = z.object({
  matches: z.array(z.object({ workflow: Workflow, score: z.number(), words: z.array(z.string()) })),
});
export type WorkflowMatchList = z.infer<typeof WorkflowMatchList>;
