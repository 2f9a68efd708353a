import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The database as the code sees it. Written once beside the migrations; every query is typed by it.
 * jsonb columns are typed at the edge of the store (see the row mappers), here they are `unknown`.
 */
type Json = ColumnType<unknown, string, string>;
type JsonNullable = ColumnType<unknown | null, string | null, string | null>;
type Timestamp = ColumnType<Date, Date, Date>;
type TimestampNullable = ColumnType<Date | null, Date | null, Date | null>;

export interface MspTable {
  id: string;
  name: string;
  default_operating_mode: 'plan' | 'execute';
  created_at: Timestamp;
  /** The MSP's own planner prompt (after deskhand's base prompt), at most 8000 characters. */
  planner_prompt: ColumnType<string | null, string | null | undefined, string | null>;
  planner_prompt_updated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  planner_prompt_updated_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface UserTable {
  id: string;
  msp_id: string;
  email: string;
  name: string;
  role: 'msp_admin' | 'msp_technician' | 'msp_billing';
  password_hash: string | null;
  disabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
}

export interface ApiTokenTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Timestamp;
  last_used_at: TimestampNullable;
  revoked_at: TimestampNullable;
}

/** The one-time token of the first run's setup link (its SHA-256 only). */
export interface SetupTokenTable {
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: TimestampNullable;
}

/** An invitation link of a user who has no password yet (its SHA-256 only). */
export interface UserInviteTable {
  token_hash: string;
  msp_id: string;
  user_id: string;
  created_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: TimestampNullable;
}

export interface SessionTable {
  id_hash: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface ClientTable {
  id: string;
  msp_id: string;
  slug: string;
  name: string;
  domain: string;
  operating_mode: 'plan' | 'execute' | 'inherit';
  sender_mailbox: string | null;
  created_at: Timestamp;
  /** The client's own planner prompt (after the MSP's), at most 8000 characters. */
  planner_prompt: ColumnType<string | null, string | null | undefined, string | null>;
  planner_prompt_updated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  planner_prompt_updated_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface IntegrationTable {
  id: string;
  msp_id: string;
  client_id: string | null;
  kind: string;
  name: string;
  config: Json;
  secrets_encrypted: string | null;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A client's record in an MSP-scoped integration: its PSA company, its tenant in a multi-tenant app. */
export interface ClientLinkTable {
  msp_id: string;
  client_id: string;
  integration_id: string;
  external_id: string;
  created_at: Timestamp;
}

/** A user's identity in another system (a chat user id), by system kind. */
export interface UserIdentityTable {
  msp_id: string;
  user_id: string;
  system: string;
  external_id: string;
}

export interface ToolPolicyTable {
  integration_id: string;
  /** Null: the integration's policy; a client id: that client's own policy for the tool. */
  client_id: ColumnType<string | null, string | null | undefined, string | null>;
  tool: string;
  policy: 'auto' | 'approval_needed' | 'disabled';
  require_manager_approval: boolean;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface RunbookTable {
  id: string;
  client_id: string;
  title: string;
  body: string;
  source: ColumnType<string, string | undefined, string>;
}

export interface RequestTable {
  id: string;
  msp_id: string;
  client_id: string | null;
  channel: string;
  source_integration_id: string | null;
  external_ref: string;
  /** Where the internal note lives (the source ticket unless the request came by another channel). */
  note_integration_id: ColumnType<string | null, string | null | undefined, string | null>;
  note_ref: ColumnType<string | null, string | null | undefined, string | null>;
  requester_email: string;
  subject: string;
  body: string;
  state: string;
  outcome: string | null;
  operating_mode: string | null;
  due_at: TimestampNullable;
  lease_owner: string | null;
  lease_until: TimestampNullable;
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DiagnosisTable {
  request_id: string;
  requester: JsonNullable;
  manager: JsonNullable;
  reads: Json;
  created_at: Timestamp;
}

export interface PlanTable {
  id: string;
  request_id: string;
  planner: string;
  outcome: 'plan' | 'no_action' | 'escalate';
  summary: string;
  reasons: Json;
  reply_to_employee: string | null;
  steps: Json;
  step_policies: Json;
  canonical: string;
  hash: string;
  operating_mode: string;
  needs_technician: boolean;
  needs_manager: boolean;
  rejected_problems: JsonNullable;
  /** What a model-backed planner spent on the request (`PlannerUsage`); null for the built-in planner. */
  usage: JsonNullable;
  /** The prompts' tiers a model read and the workflows that matched (`PlannerContext`). */
  planner_context: JsonNullable;
  created_at: Timestamp;
}

/** A model-backed planner's journal: one row per model response or read, in order (migration 0012). */
export interface PlannerJournalTable {
  request_id: string;
  kind: 'model' | 'read';
  step: number;
  payload: Json;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface ApprovalTable {
  id: string;
  msp_id: string;
  request_id: string;
  plan_id: string;
  plan_hash: string;
  kind: 'technician' | 'manager';
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  approver_email: string | null;
  approver_name: string | null;
  link_token_hash: string | null;
  decided_by_user_id: string | null;
  decided_by: string | null;
  decided_at: TimestampNullable;
  comment: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface StepExecutionTable {
  id: string;
  request_id: string;
  plan_id: string;
  step_index: number;
  tool: string;
  idempotency_key: string;
  status: 'running' | 'succeeded' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  summary: string | null;
  result: JsonNullable;
  error: string | null;
  secret_encrypted: string | null;
  secret_for_user_id: string | null;
  secret_revealed_at: TimestampNullable;
  started_at: Timestamp;
  finished_at: TimestampNullable;
}

export interface OutboxTable {
  id: string;
  msp_id: string;
  request_id: string | null;
  integration_id: string | null;
  kind: string;
  idempotency_key: string;
  payload: Json;
  on_delivered: JsonNullable;
  status: 'pending' | 'delivered' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  lease_until: TimestampNullable;
  last_error: string | null;
  result: JsonNullable;
  created_at: Timestamp;
  delivered_at: TimestampNullable;
}

export interface AuditHeadTable {
  msp_id: string;
  seq: ColumnType<string, number | string, number | string>;
  hash: string;
}

export interface AuditLogTable {
  msp_id: string;
  seq: ColumnType<string, number | string, never>;
  request_id: string | null;
  actor: string;
  event: string;
  data: Json;
  at: Timestamp;
  prev_hash: string;
  hash: string;
}

export interface IntegrationHealthTable {
  integration_id: string;
  consecutive_failures: number;
  open_until: TimestampNullable;
  last_error: string | null;
  updated_at: Timestamp;
  /** The health people see (see migration 0008): set by traffic and by the doctor. */
  status: ColumnType<IntegrationStatus, IntegrationStatus | undefined, IntegrationStatus>;
  status_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  status_source: ColumnType<'traffic' | 'doctor' | null, 'traffic' | 'doctor' | null | undefined, 'traffic' | 'doctor' | null>;
  /** Why it is unhealthy (or was, last): a safe description, never a secret. */
  status_error: ColumnType<string | null, string | null | undefined, string | null>;
  status_error_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_success_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export type IntegrationStatus = 'healthy' | 'unhealthy' | 'unknown';

export interface SignInLimitTable {
  scope: 'address' | 'account';
  key_hash: string;
  window_started_at: Timestamp;
  attempts: number;
  failures: ColumnType<number, number | undefined, number>;
  last_failure_at: TimestampNullable;
  locked_until: TimestampNullable;
  forget_at: Timestamp;
}

export interface SettingTable {
  key: string;
  value: Json;
}

/** The status a PSA board takes in one phase of a request (by name; resolved to an id when used). */
export interface TicketStatusTable {
  msp_id: string;
  integration_id: string;
  board: string;
  phase: 'waiting' | 'in_progress' | 'resolved';
  status: string;
  updated_at: Timestamp;
  updated_by: string;
}

/** A workflow: a trigger sentence and instructions for the planner, MSP-wide (no client) or one client's. */
export interface WorkflowTable {
  id: string;
  msp_id: string;
  client_id: string | null;
  name: string;
  trigger: string;
  instructions: string;
  status: 'active' | 'draft' | 'archived';
  /** `[{tool, args}]`, checked against the tool catalog when written (src/core/workflows.ts). */
  steps: ColumnType<unknown, string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
  updated_by: string;
}

export interface Database {
  workflows: WorkflowTable;
  ticket_statuses: TicketStatusTable;
  msps: MspTable;
  users: UserTable;
  api_tokens: ApiTokenTable;
  sessions: SessionTable;
  setup_tokens: SetupTokenTable;
  user_invites: UserInviteTable;
  clients: ClientTable;
  integrations: IntegrationTable;
  tool_policies: ToolPolicyTable;
  client_links: ClientLinkTable;
  user_identities: UserIdentityTable;
  runbooks: RunbookTable;
  requests: RequestTable;
  diagnoses: DiagnosisTable;
  plans: PlanTable;
  planner_journal: PlannerJournalTable;
  approvals: ApprovalTable;
  step_executions: StepExecutionTable;
  outbox: OutboxTable;
  audit_heads: AuditHeadTable;
  audit_log: AuditLogTable;
  settings: SettingTable;
  integration_health: IntegrationHealthTable;
  sign_in_limits: SignInLimitTable;
}

export type RequestRow = Selectable<RequestTable>;
export type PlanRow = Selectable<PlanTable>;
export type ApprovalRow = Selectable<ApprovalTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type IntegrationRow = Selectable<IntegrationTable>;
export type ClientRow = Selectable<ClientTable>;
export type UserRow = Selectable<UserTable>;
export type StepExecutionRow = Selectable<StepExecutionTable>;
export type NewRequest = Insertable<RequestTable>;
export type RequestUpdate = Updateable<RequestTable>;
