import type { FastifyPluginAsync } from 'fastify';
import type { CompanyRecord, ContactRecord } from '../data.ts';
import { type ApiContext, endpoint } from '../endpoint.ts';
import { list } from '../paging.ts';
import { renderCompany, renderContact } from '../records.ts';
import type { ConnectWiseSite } from '../site.ts';
import { cwError, ok, ReplyError } from '../wire.ts';

/** `company/companies` and `company/contacts`: the MSP's clients and their employees, read only. */

export const companyRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  endpoint(api, site, '/company/companies', { GET: (c) => list(c, c.instance.seed.companies.map((co) => renderCompany(c.site.href, co))) });
  endpoint(api, site, '/company/companies/:companyId(^\\d+$)', { GET: (c) => ok(renderCompany(c.site.href, companyOf(c))) });
  endpoint(api, site, '/company/contacts', { GET: (c) => list(c, c.instance.seed.contacts.map((co) => renderContact(c.instance, co))) });
  endpoint(api, site, '/company/contacts/:contactId(^\\d+$)', { GET: (c) => ok(renderContact(c.instance, contactOf(c))) });
};

function companyOf(ctx: ApiContext): CompanyRecord {
  const id = Number(ctx.params['companyId']);
  const company = ctx.instance.seed.companies.find((c) => c.id === id);
  if (!company) throw new ReplyError(cwError(404, 'NotFound', `Company ${id} not found`));
  return company;
}

function contactOf(ctx: ApiContext): ContactRecord {
  const id = Number(ctx.params['contactId']);
  const contact = ctx.instance.seed.contacts.find((c) => c.id === id);
  if (!contact) throw new ReplyError(cwError(404, 'NotFound', `Contact ${id} not found`));
  return contact;
}
