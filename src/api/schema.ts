import type { FastifyError, FastifyReply, FastifyRequest, FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { z } from 'zod';

/**
 * Route schemas are written once, in zod: the same object validates the request and, turned into
 * JSON Schema, describes the route in the OpenAPI document.
 */
const ZOD = Symbol('zod');

type WithZod = Record<string, unknown> & { [ZOD]?: z.ZodType };

export function zodSchema(schema: z.ZodType): Record<string, unknown> {
  const jsonSchema = withoutPropertyNames(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' })) as Record<string, unknown>;
  delete jsonSchema['$schema'];
  const out: WithZod = { ...jsonSchema };
  Object.defineProperty(out, ZOD, { value: schema, enumerable: false });
  return out;
}

/**
 * An answer's schema (a route's `response: { 200: zodResponse(X) }`): the OpenAPI document shows
 * its output form, and the answer is shaped by it before it is written (keys it does not name are
 * dropped, so nothing a handler adds by mistake leaves; an answer that does not fit is a 500).
 */
export function zodResponse(schema: z.ZodType): Record<string, unknown> {
  const jsonSchema = withoutPropertyNames(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'output', unrepresentable: 'any' })) as Record<string, unknown>;
  delete jsonSchema['$schema'];
  const out: WithZod = { ...jsonSchema };
  Object.defineProperty(out, ZOD, { value: schema, enumerable: false });
  return out;
}

/**
 * OpenAPI 3.0's schema object has no `propertyNames`, which Zod writes for every `z.record` (keys
 * of string type: what every JSON key is anyway). Dropped, so that the document stays valid; the
 * Zod schema still checks the keys.
 */
function withoutPropertyNames(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutPropertyNames);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).filter(([key]) => key !== 'propertyNames').map(([key, value]) => [key, withoutPropertyNames(value)]));
}

/** Serialise an answer through the zod schema attached to its response schema; others as JSON. */
export const zodSerializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  const zod = (schema as WithZod)[ZOD];
  if (!zod) return (data: unknown) => JSON.stringify(data);
  return (data: unknown) => {
    const result = zod.safeParse(data);
    if (!result.success) {
      const where = result.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`).join('; ');
      throw new Error(`the answer does not match its response schema: ${where}`);
    }
    return JSON.stringify(result.data);
  };
};

/** Validate with the zod schema attached to the route's JSON schema; plain JSON schemas pass through. */
export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema }) => {
  const zod = (schema as WithZod)[ZOD];
  if (!zod) return (data: unknown) => ({ value: data });
  return (data: unknown) => {
    const result = zod.safeParse(data);
    if (result.success) return { value: result.data };
    const message = result.error.issues
      .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
      .join('; ');
    return { error: Object.assign(new Error(message), { validation: result.error.issues }) };
  };
};

/** PostgreSQL's `integer` (int4): the widest integer any route hands to the database. */
export const INT4_MAX = 2_147_483_647;

/**
 * A whole number in a path or query string: decimal digits only (no `1e3`, `0x10`, sign or spaces),
 * within `min`..`max` and never beyond PostgreSQL's integer, so the database never sees one out of range.
 */
export function integerText(options: { min?: number; max?: number } = {}) {
  const max = Math.min(options.max ?? INT4_MAX, INT4_MAX);
  return z
    .string()
    .regex(/^\d{1,10}$/, 'must be a whole number written in digits')
    .transform(Number)
    .pipe(z.number().int().min(options.min ?? 0).max(max));
}

/**
 * Where a string in the input holds a NUL character (U+0000), which PostgreSQL refuses in text: the
 * path to it (`query.state`, `body.comment`, ...), or null. Object keys are strings too. Iterative,
 * so that a deeply nested body cannot exhaust the stack.
 */
export function findNulCharacter(value: unknown, path: string): string | null {
  const pending: [unknown, string][] = [[value, path]];
  while (pending.length > 0) {
    const [item, at] = pending.pop()!;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return at;
      continue;
    }
    if (item === null || typeof item !== 'object') continue;
    for (const [key, child] of Object.entries(item)) {
      const childAt = Array.isArray(item) ? `${at}[${key}]` : `${at}.${key.replaceAll('\u0000', '\\u0000')}`;
      if (key.includes('\u0000')) return childAt;
      pending.push([child, childAt]);
    }
  }
  return null;
}

export type RouteSchema = FastifySchema & { tags?: string[]; summary?: string; description?: string; security?: unknown[] };

/**
 * Fastify's `frameworkErrors`: a URL that cannot be routed (a malformed percent-encoding, a path
 * parameter longer than `maxParamLength`) is answered like every other refusal. Fastify's own answer
 * has another shape and repeats the path, which may hold a webhook secret or a manager link token.
 */
export function answerUnroutableUrl(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  const message = tooLong ? 'a part of the URL is longer than any deskhand accepts' : 'the URL is not valid (a malformed percent-encoding)';
  reply.code(tooLong ? 414 : 400).send({ error: { code: 'bad_request', message } });
}
