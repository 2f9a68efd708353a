import { z } from 'zod';
import { ConditionSyntaxError, matchesConditions, parseConditions, valueAt } from '../conditions.ts';

/**
 * The emulator's wire details: replies and ConnectWise's error bodies, body parsing, the shapes
 * that requests share (references, JSON-Patch), list queries (conditions, orderBy, fields, paging
 * parameters) and Basic credentials.
 */

/** ConnectWise refuses larger bodies; so does the emulator (413). */
export const MAX_BODY_BYTES = 1_000_000;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FieldError {
  code: string;
  message: string;
  field: string;
}

/** Thrown inside a handler to answer with this reply. */
export class ReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(`emulator reply ${reply.status}`);
  }
}

export function ok(body: unknown): Reply {
  return { status: 200, body };
}

export function cwError(status: number, code: string, message: string): Reply {
  return { status, body: { code, message } };
}

export function notFoundEndpoint(): Reply {
  return cwError(404, 'ConnectWiseApi', 'The endpoint does not exist.');
}

export function invalidObject(resource: string, errors: FieldError[]): Reply {
  return {
    status: 400,
    body: { code: 'InvalidObject', message: `${resource} object is invalid`, errors: errors.map((e) => ({ ...e, resource })) },
  };
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new ReplyError(cwError(400, 'InvalidObject', 'The request body is not valid JSON.'));
  }
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown, resource: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((issue) => ({
    code: 'InvalidField',
    message: issue.message,
    field: issue.path.join('/') || resource,
  }));
  throw new ReplyError(invalidObject(resource, errors));
}

export function parseControl<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new ReplyError({ status: 400, body: { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } });
}

/** Applies the `conditions` query parameter; a syntax error is ConnectWise's 400. */
export function filtered(query: URLSearchParams, records: Record<string, unknown>[]): Record<string, unknown>[] {
  const conditions = query.get('conditions');
  if (conditions === null || conditions.trim() === '') return records;
  try {
    const tree = parseConditions(conditions);
    return records.filter((record) => matchesConditions(record, tree));
  } catch (error) {
    if (error instanceof ConditionSyntaxError) throw new ReplyError(cwError(400, 'InvalidObject', `conditions: ${error.message}`));
    throw error;
  }
}

export function ordered(records: Record<string, unknown>[], orderBy: string | null): Record<string, unknown>[] {
  const [field = 'id', direction = 'asc'] = (orderBy ?? 'id asc').trim().split(/\s+/);
  const sign = direction.toLowerCase() === 'desc' ? -1 : 1;
  return [...records].sort((a, b) => {
    const x = valueAt(a, field);
    const y = valueAt(b, field);
    if (x === y) return 0;
    if (x === undefined || x === null) return -sign;
    if (y === undefined || y === null) return sign;
    return (x < y ? -1 : 1) * sign;
  });
}

export function pickFields(record: Record<string, unknown>, fields: string | null): Record<string, unknown> {
  if (fields === null || fields.trim() === '') return record;
  const wanted = new Set(fields.split(',').map((f) => f.trim().split('/')[0]!.toLowerCase()));
  return Object.fromEntries(Object.entries(record).filter(([key]) => wanted.has(key.toLowerCase())));
}

export function positiveIntParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ReplyError(cwError(400, 'InvalidObject', `${name} must be a positive integer.`));
  return value;
}

export function basicCredentials(header: string | undefined): { companyId: string; publicKey: string; privateKey: string } | undefined {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const plus = decoded.indexOf('+');
  if (colon < 0 || plus < 0 || plus > colon) return undefined;
  return { companyId: decoded.slice(0, plus), publicKey: decoded.slice(plus + 1, colon), privateKey: decoded.slice(colon + 1) };
}

export function headerText(value: string | string[] | undefined): string | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  return text ? text : undefined;
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export function normaliseCodebase(codebase: string): string {
  const trimmed = codebase.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** ConnectWise timestamps carry no milliseconds. */
export function cwNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// --- shapes that requests share ----------------------------------------------------------------

/** A reference in a request body: `{id}`, `{identifier}` or `{name}`. */
export const refInput = z.looseObject({
  id: z.number().int().optional(),
  identifier: z.string().optional(),
  name: z.string().optional(),
});
export type RefInput = z.output<typeof refInput>;

export const patchSchema = z
  .array(z.looseObject({ op: z.string(), path: z.string(), value: z.unknown().optional() }))
  .min(1);
export type PatchOperation = z.output<typeof patchSchema>[number];

export function findRef<T extends { id: number }>(records: readonly T[], ref: RefInput, key: 'identifier' | 'name'): T | undefined {
  if (ref.id !== undefined) return records.find((r) => r.id === ref.id);
  const wanted = ref[key]?.toLowerCase();
  return wanted === undefined ? undefined : records.find((r) => String((r as Record<string, unknown>)[key]).toLowerCase() === wanted);
}

export function isRef(value: unknown): value is RefInput {
  return refInput.safeParse(value).success;
}

/** What a handler's failure answers: its own reply, or ConnectWise's 500 naming the failure. */
export function replyForError(error: unknown): Reply {
  if (error instanceof ReplyError) return error.reply;
  return cwError(500, 'ConnectWiseApi', `Emulator failure: ${error instanceof Error ? error.message : String(error)}`);
}
