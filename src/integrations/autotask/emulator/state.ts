import type { World } from '../../../world/fixture.ts';
import {
  API_RESOURCE_ID,
  emulatorApiCredentials,
  emulatorCompanyId,
  type EmulatorCredentials,
  NOTE_PUBLISH,
  NOTE_TYPES,
  PORTAL_QUEUE,
  PRIORITIES,
  QUEUES,
  TICKET_STATUSES,
} from './data.ts';

/** One emulated Autotask database (one MSP's), in memory. */
export type Row = Record<string, unknown> & { id: number };

export interface Database {
  msp: string;
  credentials: EmulatorCredentials;
  companies: Row[];
  contacts: Row[];
  resources: Row[];
  tickets: Row[];
  notes: Row[];
  webhooks: { TicketWebhooks: Row[]; TicketNoteWebhooks: Row[] };
  excluded: Row[];
}

export interface Effect {
  /**
   * Its place on the process's monotonic clock (nanoseconds, as text), the clock the other
   * emulators' effects use: `BigInt(a.order) < BigInt(b.order)` says which came first across them.
   */
  order: string;
  op: 'ticket_created' | 'note_added' | 'status_changed' | 'webhook_registered';
  msp: string;
  ticketId?: number;
  publish?: number;
  creatorResourceID?: number | null;
  firstLine: string;
}

export const TICKET_ID_START = 7001;
export const NOTE_ID_START = 90_001;

/** Every entity's fields as `entityInformation/fields` answers them (the picklists deskhand reads). */
export const FIELDS: Record<string, { name: string; dataType: string; isPickList: boolean; isQueryable: boolean; picklistValues: readonly { value: string; label: string; isDefaultValue?: boolean }[] | null }[]> = {
  tickets: [
    field('id', 'long'),
    field('title', 'string'),
    field('description', 'string'),
    field('companyID', 'integer'),
    field('contactID', 'integer'),
    picklist('status', TICKET_STATUSES),
    picklist('queueID', QUEUES),
    picklist('priority', PRIORITIES),
    field('creatorResourceID', 'integer'),
    field('createDate', 'datetime'),
  ],
  ticketnotes: [
    field('id', 'long'),
    field('ticketID', 'integer'),
    field('title', 'string'),
    field('description', 'string'),
    picklist('noteType', NOTE_TYPES),
    picklist('publish', NOTE_PUBLISH),
    field('creatorResourceID', 'integer'),
    field('createdByContactID', 'integer'),
    field('createDateTime', 'datetime'),
  ],
};

function field(name: string, dataType: string) {
  return { name, dataType, isPickList: false, isQueryable: true, picklistValues: null };
}
function picklist(name: string, values: readonly { value: string; label: string; isDefaultValue?: boolean }[]) {
  return { name, dataType: 'integer', isPickList: true, isQueryable: true, picklistValues: values.map((v) => ({ isDefaultValue: false, isActive: true, isSystem: true, ...v })) };
}

export class AutotaskState {
  databases = new Map<string, Database>();
  effects: Effect[] = [];
  private lastOrder = 0n;
  private nextTicket = TICKET_ID_START;
  private nextNote = NOTE_ID_START;
  private nextOther = 1;

  constructor(private readonly world: World) {
    this.reset();
  }

  reset(): void {
    this.databases.clear();
    this.effects = [];
    this.nextTicket = TICKET_ID_START;
    this.nextNote = NOTE_ID_START;
    this.nextOther = 1;
    let contactId = 30_100;
    let resourceId = API_RESOURCE_ID + 1;
    for (const msp of this.world.msps.filter((m) => m.psa === 'autotask')) {
      const credentials = emulatorApiCredentials(msp.id);
      const clients = this.world.clients.filter((c) => c.msp === msp.id);
      const db: Database = {
        msp: msp.id,
        credentials,
        companies: [
          { id: 0, companyName: msp.name, isActive: true, companyType: 5 },
          ...clients.map((c) => ({ id: emulatorCompanyId(this.world, c.id), companyName: c.name, isActive: true, companyType: 1, webAddress: c.domain })),
        ],
        contacts: clients.flatMap((c) =>
          c.employees.map((e) => {
            const [firstName, ...rest] = e.name.split(' ');
            return { id: contactId++, companyID: emulatorCompanyId(this.world, c.id), firstName, lastName: rest.join(' '), emailAddress: e.upn, isActive: 1 };
          }),
        ),
        resources: [
          { id: API_RESOURCE_ID, userName: credentials.username, email: credentials.username, firstName: 'deskhand', lastName: 'API', isActive: true, licenseType: 7 },
          ...msp.users.map((u) => {
            const [firstName, ...rest] = u.name.split(' ');
            return { id: resourceId++, userName: u.email.split('@')[0], email: u.email, firstName, lastName: rest.join(' '), isActive: true };
          }),
        ],
        tickets: [],
        notes: [],
        webhooks: { TicketWebhooks: [], TicketNoteWebhooks: [] },
        excluded: [],
      };
      this.databases.set(msp.id, db);
    }
  }

  byUser(username: string): Database | undefined {
    for (const db of this.databases.values()) if (db.credentials.username.toLowerCase() === username.toLowerCase()) return db;
    return undefined;
  }

  effect(e: Omit<Effect, 'order'>): void {
    const now = process.hrtime.bigint();
    this.lastOrder = now > this.lastOrder ? now : this.lastOrder + 1n;
    this.effects.push({ ...e, order: String(this.lastOrder) });
  }

  ticketId(): number {
    return this.nextTicket++;
  }
  noteId(): number {
    return this.nextNote++;
  }
  otherId(): number {
    return this.nextOther++;
  }

  /** A ticket as a client's employee opens it in the client portal. */
  openPortalTicket(db: Database, input: { companyId: number; contactId: number; title: string; description: string }, now: Date): Row {
    const ticket: Row = {
      id: this.ticketId(),
      ticketNumber: `T${now.toISOString().slice(0, 10).replace(/-/g, '')}.${String(db.tickets.length + 1).padStart(4, '0')}`,
      title: input.title,
      description: input.description,
      companyID: input.companyId,
      contactID: input.contactId,
      status: 1,
      priority: 2,
      queueID: Number(PORTAL_QUEUE.value),
      creatorType: 2,
      creatorResourceID: null,
      createDate: now.toISOString(),
      lastActivityDate: now.toISOString(),
    };
    db.tickets.push(ticket);
    this.effect({ op: 'ticket_created', msp: db.msp, ticketId: ticket.id, firstLine: input.title });
    return ticket;
  }
}

// --- filters ---------------------------------------------------------------------------------------

export type Filter = { op?: unknown; field?: unknown; value?: unknown; items?: unknown; udf?: unknown };

const OPS = new Set(['eq', 'noteq', 'gt', 'gte', 'lt', 'lte', 'beginswith', 'endswith', 'contains', 'exist', 'notexist', 'in', 'notin', 'and', 'or']);

/** Why a filter is refused (Autotask answers such a query with an error), or undefined. */
export function filterProblem(filters: unknown, fields: ReadonlySet<string> | null): string | undefined {
  if (!Array.isArray(filters) || filters.length === 0) return 'A query needs at least one filter item.';
  for (const f of filters as Filter[]) {
    if (f === null || typeof f !== 'object') return 'A filter item is not an object.';
    const op = String(f.op ?? '').toLowerCase();
    if (!OPS.has(op)) return `Unknown filter operator "${String(f.op)}".`;
    if (op === 'and' || op === 'or') {
      const inner = filterProblem(f.items, fields);
      if (inner) return inner;
      continue;
    }
    if (typeof f.field !== 'string' || f.field === '') return `The filter operator "${op}" needs a field.`;
    if (fields && !fields.has(f.field.toLowerCase())) return `Unknown field "${f.field}".`;
    if ((op === 'in' || op === 'notin') && !Array.isArray(f.value)) return `The filter operator "${op}" needs a list of values.`;
    if (op !== 'exist' && op !== 'notexist' && f.value === undefined) return `The filter on "${f.field}" needs a value.`;
  }
  return undefined;
}

export function matches(row: Row, filters: Filter[], mode: 'and' | 'or' = 'and'): boolean {
  const results = filters.map((f) => one(row, f));
  return mode === 'and' ? results.every(Boolean) : results.some(Boolean);
}

function one(row: Row, f: Filter): boolean {
  const op = String(f.op).toLowerCase();
  if (op === 'and' || op === 'or') return matches(row, f.items as Filter[], op);
  const key = Object.keys(row).find((k) => k.toLowerCase() === String(f.field).toLowerCase());
  const actual = key === undefined ? undefined : row[key];
  const want = f.value;
  const eq = (a: unknown, b: unknown) => (typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : String(a) === String(b) && a !== null && a !== undefined);
  switch (op) {
    case 'eq':
      return eq(actual, want);
    case 'noteq':
      return !eq(actual, want);
    case 'gt':
      return compare(actual, want) > 0;
    case 'gte':
      return compare(actual, want) >= 0;
    case 'lt':
      return compare(actual, want) < 0;
    case 'lte':
      return compare(actual, want) <= 0;
    case 'beginswith':
      return String(actual ?? '').toLowerCase().startsWith(String(want).toLowerCase());
    case 'endswith':
      return String(actual ?? '').toLowerCase().endsWith(String(want).toLowerCase());
    case 'contains':
      return String(actual ?? '').toLowerCase().includes(String(want).toLowerCase());
    case 'exist':
      return actual !== undefined && actual !== null && actual !== '';
    case 'notexist':
      return actual === undefined || actual === null || actual === '';
    case 'in':
      return (want as unknown[]).some((v) => eq(actual, v));
    case 'notin':
      return !(want as unknown[]).some((v) => eq(actual, v));
    default:
      return false;
  }
}

/** Numbers as numbers, dates (ISO text) as instants; NaN (never matches) for anything else. */
function compare(actual: unknown, want: unknown): number {
  if (typeof actual === 'number' && (typeof want === 'number' || (typeof want === 'string' && want.trim() !== '' && Number.isFinite(Number(want))))) return actual - Number(want);
  if (typeof actual === 'string' && typeof want === 'string') {
    const a = Date.parse(actual);
    const b = Date.parse(want);
    if (Number.isFinite(a) && Number.isFinite(b)) return a - b;
  }
  return Number.NaN;
}
