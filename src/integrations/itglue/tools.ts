import { z } from 'zod';
import type { ModuleTool } from '../module.ts';

/** IT Glue's read tools (TOOLS.md): names, kinds and arguments are a contract. */
export const itGlueTools: ModuleTool[] = [
  {
    name: 'itglue.search_documents',
    integration: 'itglue',
    kind: 'read',
    description: "Documents of the client's IT Glue organization and of the MSP's own organization whose name contains the query; an empty query lists them all.",
    args: z.strictObject({ query: z.string().max(256, 'a query is at most 256 characters') }),
    argObjects: { query: 'text' },
    ask: (args) => `search IT Glue documents${args['query'] ? ` for "${args['query']}"` : ''}`,
    done: (args) => `IT Glue documents were searched${args['query'] ? ` for "${args['query']}"` : ''}`,
  },
  {
    name: 'itglue.get_document',
    integration: 'itglue',
    kind: 'read',
    description: 'One IT Glue document by its id, as text (its sections), with its link.',
    args: z.strictObject({ id: z.string().regex(/^\d{1,20}$/, 'expected an IT Glue document id (a number)') }),
    argObjects: { id: 'id' },
    ask: (args) => `read IT Glue document ${args['id']}`,
    done: (args) => `IT Glue document ${args['id']} was read`,
  },
];
