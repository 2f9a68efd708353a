import { z } from 'zod';
import type { ModuleTool } from '../module.ts';

/** Hudu's read tools (TOOLS.md): names, kinds and arguments are a contract. */
export const huduTools: ModuleTool[] = [
  {
    name: 'hudu.search_articles',
    integration: 'hudu',
    kind: 'read',
    description: "Knowledge-base articles of the client's Hudu company and of the MSP's own company; an empty query lists them all.",
    args: z.strictObject({ query: z.string().max(256, 'a query is at most 256 characters') }),
    argObjects: { query: 'text' },
    ask: (args) => `search Hudu articles${args['query'] ? ` for "${args['query']}"` : ''}`,
    done: (args) => `Hudu articles were searched${args['query'] ? ` for "${args['query']}"` : ''}`,
  },
  {
    name: 'hudu.get_article',
    integration: 'hudu',
    kind: 'read',
    description: 'One Hudu article by its id, as text, with its link.',
    args: z.strictObject({ id: z.string().regex(/^\d{1,15}$/, 'expected a Hudu article id (a number)') }),
    argObjects: { id: 'id' },
    ask: (args) => `read Hudu article ${args['id']}`,
    done: (args) => `Hudu article ${args['id']} was read`,
  },
];
