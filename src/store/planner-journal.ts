import type { PlannerJournal, PlannerJournalEntry } from '../planner/types.ts';
import { type Db, json } from './db.ts';

/**
 * A request's planner journal in PostgreSQL: every entry is its own committed row the moment it is
 * appended (a model response already paid for must survive the worker), and appending the same
 * step twice keeps the first (a resumed run never overwrites what the first one stored).
 */
export function plannerJournal(db: Db, requestId: string): PlannerJournal {
  return {
    async load(): Promise<PlannerJournalEntry[]> {
      const rows = await db.selectFrom('planner_journal').select(['kind', 'step', 'payload']).where('request_id', '=', requestId).orderBy('kind').orderBy('step').execute();
      return rows.map((r) => ({ kind: r.kind, step: r.step, payload: r.payload }));
    },
    async append(entry: PlannerJournalEntry): Promise<void> {
      await db
        .insertInto('planner_journal')
        .values({ request_id: requestId, kind: entry.kind, step: entry.step, payload: json(entry.payload) })
        .onConflict((oc) => oc.columns(['request_id', 'kind', 'step']).doNothing())
        .execute();
    },
  };
}
