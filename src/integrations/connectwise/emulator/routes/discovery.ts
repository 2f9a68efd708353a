import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type Call, callOf, deliver, underCodebase } from '../endpoint.ts';
import type { ConnectWiseSite } from '../site.ts';
import { cwError, ok, type Reply } from '../wire.ts';

/**
 * The two ConnectWise URLs that need no keys: `login/companyinfo/{company}` (outside the codebase,
 * where a client learns the codebase) and `{codebase}system/callbackkey/index.rails` (where a
 * callback's receiver fetches the key it was signed with, named by the callback's `key_url`).
 */

export const discoveryRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  api.get('/login/companyinfo/:companyId', async (request, reply) => {
    deliver(site, request, reply, callOf(request), { outcome: { reply: companyInfo(site, request) } });
  });
  // ConnectWise answers the key on any method; faults strike here as anywhere under the codebase.
  api.all(`/${site.codebase}system/callbackkey/index.rails`, underCodebase(site, (_request, call) => ({ outcome: { reply: signingKey(site, call) } })));
};

function companyInfo(site: ConnectWiseSite, request: FastifyRequest): Reply {
  const companyId = (request.params as { companyId: string }).companyId;
  const instance = site.instances.get(companyId.toLowerCase());
  if (!instance) return cwError(404, 'NotFound', `Company ${companyId} not found`);
  return ok({
    CompanyName: instance.seed.mspName,
    Codebase: site.codebase,
    VersionCode: 'v2025.1',
    VersionNumber: 'v4.6',
    CompanyID: instance.seed.companyId,
    IsCloud: false,
    SiteUrl: new URL(site.siteUrl).host,
  });
}

function signingKey(site: ConnectWiseSite, call: Call): Reply {
  const query = call.requestUrl.searchParams;
  const entry = site.signingKeys.get(query.get('id') ?? '');
  const companyName = query.get('companyName') ?? '';
  if (!entry || entry.companyId.toLowerCase() !== companyName.toLowerCase()) return cwError(404, 'NotFound', 'Callback key not found');
  return ok({ signing_key: entry.key });
}
