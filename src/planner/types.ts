import type { AuthMethod, DirectoryGroup, DirectoryUser, Runbook, SubscribedSku } from '../core/directory.ts';
import type { ProposedPlan } from '../core/plan.ts';
import type { ToolDefinition } from '../core/tool.ts';

/**
 * What the agent can look at while diagnosing: read-only, typed. The engine's implementation runs
 * the integrations' read tools (`m365.get_user`, `m365.list_user_groups`, ...) and records every
 * call and its result in the request's diagnosis; the planner never sees how.
 */
export interface DiagnosisReader {
  /** `m365.get_user`: by UPN (or mail). Null when no such user exists in the client's tenant. */
  getUser(upn: string): Promise<DirectoryUser | null>;
  /** `m365.find_user`: users whose display name, given name, surname or UPN starts with the query. */
  findUsers(query: string): Promise<DirectoryUser[]>;
  /** `m365.get_manager`: the user's direct manager, null when none is set. */
  getManager(upn: string): Promise<DirectoryUser | null>;
  /** `m365.list_user_groups` */
  listUserGroups(upn: string): Promise<DirectoryGroup[]>;
  /** `m365.list_user_licenses`: SKU part numbers. */
  listUserLicenses(upn: string): Promise<string[]>;
  /** `m365.list_licenses`: the tenant's subscribed SKUs with seats. */
  listLicenses(): Promise<SubscribedSku[]>;
  /** `m365.list_auth_methods` */
  listAuthMethods(upn: string): Promise<AuthMethod[]>;
  /** `m365.find_group`: groups whose display name (or mail) contains the query; empty query lists all. */
  findGroups(query: string): Promise<DirectoryGroup[]>;
  /** The client's runbooks: its documentation platforms' articles (its linked company's and the MSP-wide ones), each with its link. */
  listRunbooks(): Promise<Runbook[]>;
}

/** The channels a request comes in by (DESIGN.md): a PSA ticket, a voice call, a chat message. */
export const REQUEST_CHANNELS = ['psa', 'voice', 'slack', 'teams'] as const;
export type RequestChannelName = (typeof REQUEST_CHANNELS)[number];

/**
 * What a planner may do with the plan it is about to return: the same validation the engine runs
 * afterwards (known, offered write tools, schema-valid arguments, names that resolve), so that a
 * model can be told what was wrong and answer again. Empty when valid.
 */
export type PlanCheck = (plan: ProposedPlan) => Promise<string[]>;

/**
 * Where a planner keeps what it paid for while it works on one request (each model response and
 * each read, in order), so that a run interrupted mid-way resumes without paying for finished
 * steps again. Entries are opaque to the engine.
 */
export interface PlannerJournal {
  load(): Promise<PlannerJournalEntry[]>;
  append(entry: PlannerJournalEntry): Promise<void>;
}

export interface PlannerJournalEntry {
  /** 0, 1, 2...: the order of the run. */
  step: number;
  kind: 'model' | 'read';
  payload: unknown;
}

/**
 * A workflow the MSP wrote (a trigger sentence, instructions, optionally steps whose arguments may be
 * templates such as `{requester}`), given to the planner because its trigger matches the request.
 */
export interface PlannerWorkflow {
  id: string;
  name: string;
  instructions: string;
  steps: readonly { tool: string; args: Readonly<Record<string, string>> }[];
}

export interface PlannerInput {
  request: {
    /** The employee's words: ticket summary and description, the chat message, the call transcript. */
    text: string;
    channel: RequestChannelName;
  };
  client: { slug: string; name: string; domain: string };
  /** The address the request came from; may be unknown to the tenant. */
  requesterEmail: string;
  /** Tools the policies allow (never a `disabled` one): read and write. */
  tools: readonly ToolDefinition[];
  reader: DiagnosisReader;
  /** The MSP's and the client's own instructions to a model-backed planner (the second and third tiers). */
  prompts?: { msp: string | null; client: string | null };
  /** The active workflows whose trigger matches this request, the client's own first. */
  workflows?: readonly PlannerWorkflow[];
  /** Validation the planner may run before answering (see `PlanCheck`). */
  check?: PlanCheck;
  /** Durable memory of a model-backed planner's steps for this request. */
  journal?: PlannerJournal;
  /** Aborts every call the planner makes (a worker shutting down). */
  signal?: AbortSignal;
}

export interface Planner {
  readonly name: string;
  plan(input: PlannerInput): Promise<ProposedPlan>;
}
