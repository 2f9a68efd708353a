import { DeskhandError } from '../core/errors.ts';
import type { Workflow, WorkflowStatus, WorkflowStep } from '../core/workflows.ts';
import { appendAudit, inTransaction } from './audit.ts';
import { type Db, type DbOrTx, json, type Tx } from './db.ts';
import type { WorkflowTable } from './schema.ts';
import type { Selectable } from 'kysely';

/**
 * What an MSP tells the planner beyond deskhand's own prompt: the MSP's and each client's planner
 * prompt, and workflows. Every change is audited from what to what, in the transaction that makes
 * it; workflows are never deleted (archived instead: a request's story names the workflows it was
 * given). Step lists are checked against the tool catalog by the caller before they come here.
 */

export interface StoredWorkflow extends Workflow {
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string;
}

export interface StoredPrompt {
  prompt: string | null;
  updatedAt: Date | null;
  updatedBy: string | null;
}

/** Who changes something, as the audit log names them (`user:<email>`), and when. */
export interface Change {
  actor: string;
  at: Date;
}

function workflowOf(row: Selectable<WorkflowTable>): StoredWorkflow {
  return {
    id: row.id,
    clientId: row.client_id,
    name: row.name,
    trigger: row.trigger,
    instructions: row.instructions,
    status: row.status,
    steps: row.steps as WorkflowStep[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

/**
 * The MSP's workflows, oldest first. `client`: `'msp'` for the MSP-wide ones, a client id for that
 * client's own, undefined for all; `statuses`: which (an archived workflow is listed only when asked).
 */
export async function listWorkflows(db: DbOrTx, mspId: string, filter: { client?: string; statuses: readonly WorkflowStatus[] }): Promise<StoredWorkflow[]> {
  if (filter.statuses.length === 0) return [];
  let query = db.selectFrom('workflows').selectAll().where('msp_id', '=', mspId).where('status', 'in', filter.statuses);
  if (filter.client === 'msp') query = query.where('client_id', 'is', null);
  else if (filter.client !== undefined) query = query.where('client_id', '=', filter.client);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map(workflowOf);
}

/** The active workflows that may be given to the planner for a request of this client (or MSP-wide only, for none). */
export async function activeWorkflowsFor(db: DbOrTx, mspId: string, clientId: string | null): Promise<StoredWorkflow[]> {
  const rows = await db
    .selectFrom('workflows')
    .selectAll()
    .where('msp_id', '=', mspId)
    .where('status', '=', 'active')
    .where((eb) => (clientId === null ? eb('client_id', 'is', null) : eb.or([eb('client_id', 'is', null), eb('client_id', '=', clientId)])))
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(workflowOf);
}

/** One workflow of the MSP; another MSP's is not found. */
export async function getWorkflow(db: DbOrTx, mspId: string, id: string): Promise<StoredWorkflow | undefined> {
  const row = await db.selectFrom('workflows').selectAll().where('id', '=', id).where('msp_id', '=', mspId).executeTakeFirst();
  return row ? workflowOf(row) : undefined;
}

export type WorkflowInput = Pick<Workflow, 'clientId' | 'name' | 'trigger' | 'instructions' | 'status' | 'steps'>;

/** A new workflow, audited (`workflow.created`, `to`: what was written). A client of another MSP is not found. */
export async function createWorkflow(db: Db, mspId: string, input: WorkflowInput, change: Change): Promise<StoredWorkflow> {
  const id = crypto.randomUUID();
  await inTransaction(db, async (tx) => {
    if (input.clientId !== null) await clientOf(tx, mspId, input.clientId);
    await tx
      .insertInto('workflows')
      .values({
        id,
        msp_id: mspId,
        client_id: input.clientId,
        name: input.name,
        trigger: input.trigger,
        instructions: input.instructions,
        status: input.status,
        steps: json(input.steps),
        created_at: change.at,
        updated_at: change.at,
        updated_by: change.actor,
      })
      .execute();
    await appendAudit(tx, { mspId, actor: change.actor, event: 'workflow.created', data: { workflowId: id, clientId: input.clientId, from: null, to: auditedFields(input) }, at: change.at });
  });
  return (await getWorkflow(db, mspId, id))!;
}

export type WorkflowChanges = Partial<Pick<Workflow, 'name' | 'trigger' | 'instructions' | 'status' | 'steps'>>;

/**
 * Change a workflow (archiving and reactivating included), audited (`workflow.changed`, the changed
 * fields `from` what `to` what; every accepted change, one that sets what was there too). Another
 * MSP's workflow is not found.
 */
export async function updateWorkflow(db: Db, mspId: string, id: string, changes: WorkflowChanges, change: Change): Promise<StoredWorkflow> {
  const fields = (Object.keys(changes) as (keyof WorkflowChanges)[]).filter((key) => changes[key] !== undefined);
  if (fields.length === 0) throw new DeskhandError('bad_request', 'nothing to change: send name, trigger, instructions, status or steps');
  await inTransaction(db, async (tx) => {
    const row = await tx.selectFrom('workflows').selectAll().where('id', '=', id).where('msp_id', '=', mspId).forNoKeyUpdate().executeTakeFirst();
    if (!row) throw new DeskhandError('not_found', 'no such workflow');
    const before = workflowOf(row);
    await tx
      .updateTable('workflows')
      .set({
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.trigger !== undefined ? { trigger: changes.trigger } : {}),
        ...(changes.instructions !== undefined ? { instructions: changes.instructions } : {}),
        ...(changes.status !== undefined ? { status: changes.status } : {}),
        ...(changes.steps !== undefined ? { steps: json(changes.steps) } : {}),
        updated_at: change.at,
        updated_by: change.actor,
      })
      .where('id', '=', id)
      .execute();
    const from = Object.fromEntries(fields.map((key) => [key, before[key]]));
    const to = Object.fromEntries(fields.map((key) => [key, changes[key]]));
    await appendAudit(tx, { mspId, actor: change.actor, event: 'workflow.changed', data: { workflowId: id, clientId: before.clientId, from, to }, at: change.at });
  });
  return (await getWorkflow(db, mspId, id))!;
}

function auditedFields(input: WorkflowInput): Record<string, unknown> {
  return { name: input.name, trigger: input.trigger, instructions: input.instructions, status: input.status, steps: input.steps };
}

async function clientOf(db: DbOrTx, mspId: string, clientId: string): Promise<void> {
  const client = await db.selectFrom('clients').select('id').where('id', '=', clientId).where('msp_id', '=', mspId).executeTakeFirst();
  if (!client) throw new DeskhandError('not_found', 'no such client');
}

// ---------------------------------------------------------------------------------------------
// Planner prompts

/** A prompt as stored: trimmed, and one of only spaces is none. */
export function promptText(prompt: string | null): string | null {
  const trimmed = prompt?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
}

export async function mspPrompt(db: DbOrTx, mspId: string): Promise<StoredPrompt> {
  const row = await db.selectFrom('msps').select(['planner_prompt', 'planner_prompt_updated_at', 'planner_prompt_updated_by']).where('id', '=', mspId).executeTakeFirstOrThrow();
  return { prompt: row.planner_prompt, updatedAt: row.planner_prompt_updated_at, updatedBy: row.planner_prompt_updated_by };
}

/** A client's own prompt; another MSP's client is not found. */
export async function clientPrompt(db: DbOrTx, mspId: string, clientId: string): Promise<StoredPrompt> {
  const row = await db
    .selectFrom('clients')
    .select(['planner_prompt', 'planner_prompt_updated_at', 'planner_prompt_updated_by'])
    .where('id', '=', clientId)
    .where('msp_id', '=', mspId)
    .executeTakeFirst();
  if (!row) throw new DeskhandError('not_found', 'no such client');
  return { prompt: row.planner_prompt, updatedAt: row.planner_prompt_updated_at, updatedBy: row.planner_prompt_updated_by };
}

/** Set (or, null, clear) the MSP's prompt; audited `msp.planner_prompt` from what to what. */
export async function setMspPrompt(db: Db, mspId: string, prompt: string | null, change: Change): Promise<StoredPrompt> {
  const to = promptText(prompt);
  await inTransaction(db, async (tx) => {
    const before = await tx.selectFrom('msps').select('planner_prompt').where('id', '=', mspId).forNoKeyUpdate().executeTakeFirstOrThrow();
    await tx.updateTable('msps').set({ planner_prompt: to, planner_prompt_updated_at: change.at, planner_prompt_updated_by: change.actor }).where('id', '=', mspId).execute();
    await appendAudit(tx, { mspId, actor: change.actor, event: 'msp.planner_prompt', data: { from: before.planner_prompt, to }, at: change.at });
  });
  return mspPrompt(db, mspId);
}

/** Set (or clear) a client's prompt; audited `client.planner_prompt` from what to what. Another MSP's client is not found. */
export async function setClientPrompt(db: Db, mspId: string, clientId: string, prompt: string | null, change: Change): Promise<StoredPrompt> {
  const to = promptText(prompt);
  await inTransaction(db, async (tx: Tx) => {
    const before = await tx.selectFrom('clients').select('planner_prompt').where('id', '=', clientId).where('msp_id', '=', mspId).forNoKeyUpdate().executeTakeFirst();
    if (!before) throw new DeskhandError('not_found', 'no such client');
    await tx.updateTable('clients').set({ planner_prompt: to, planner_prompt_updated_at: change.at, planner_prompt_updated_by: change.actor }).where('id', '=', clientId).execute();
    await appendAudit(tx, { mspId, actor: change.actor, event: 'client.planner_prompt', data: { clientId, from: before.planner_prompt, to }, at: change.at });
  });
  return clientPrompt(db, mspId, clientId);
}
