import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';

/**
 * Route schemas are written once, in zod: the same object validates the request and, turned into
 * JSON Schema, describes the route in the OpenAPI document.
 */
const ZOD = Symbol('zod');

type WithZod = Record<string, unknown> & { [ZOD]?: z.ZodType };

export function zodSchema(schema: z.ZodType): Record<string, unknown> {
  const jsonSchema = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete jsonSchema['$schema'];
  const out: WithZod = { ...jsonSchema };
  Object.defineProperty(out, ZOD, { value: schema, enumerable: false });
  return out;
}

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

export type RouteSchema = FastifySchema & { tags?: string[]; summary?: string; description?: string; security?: unknown[] };
