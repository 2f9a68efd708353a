import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GRAPH_SCOPE } from '../client.ts';
import { EXCHANGE_SCOPE } from '../exchange/scope.ts';
import { AadError, type GraphReply, jsonReply, replyForError } from './replies.ts';
import { tokenForm } from './resources.ts';
import type { GraphEmulatorState } from './state.ts';
import type { EmulatedTenant } from './tenant.ts';
import { finish, trafficOf } from './traffic.ts';

/**
 * Entra's token endpoint, `/{tenant}/oauth2/v2.0/token`: the client-credentials grant for the
 * Graph scope (or Exchange Online's), for an app registered (consented) in that tenant, with a client secret or a
 * certificate's client assertion (apps.ts). The token it issues is bound to the tenant of the URL:
 * Graph answers it with that tenant's directory only. Refusals are Entra's (AADSTS codes).
 */

export function registerLoginRoutes(app: FastifyInstance, state: GraphEmulatorState): void {
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/:tenant/oauth2/v2.0/token',
    handler: (request, reply) => {
      const traffic = trafficOf(request);
      let result: GraphReply;
      try {
        result = issueToken(state, request, (request.params as { tenant: string }).tenant);
      } catch (error) {
        result = replyForError(error, traffic.requestId);
      }
      finish(request, reply, result);
    },
  });
}

function issueToken(state: GraphEmulatorState, request: FastifyRequest, tenantKey: string): GraphReply {
  if (request.method !== 'POST') {
    throw new AadError(405, 'invalid_request', `AADSTS900561: The endpoint only accepts POST requests. Received a ${request.method} request.`);
  }
  const form = tokenForm.parse(Object.fromEntries(new URLSearchParams(typeof request.body === 'string' ? request.body : '')));
  const tenant = state.tenantByKey(tenantKey);
  if (!tenant) {
    throw new AadError(400, 'invalid_request', `AADSTS90002: Tenant '${tenantKey}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
  }
  if (form.grant_type !== 'client_credentials') {
    throw new AadError(400, 'unsupported_grant_type', `AADSTS70003: The app requested an unsupported grant type '${form.grant_type ?? ''}'.`);
  }
  if (form.scope !== GRAPH_SCOPE && form.scope !== EXCHANGE_SCOPE) {
    throw new AadError(
      400,
      'invalid_scope',
      `AADSTS1002012: The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const registration = form.client_id ? state.apps.app(form.client_id) : undefined;
  // An app not registered here, or a multi-tenant app whose service principal the tenant's admin never
  // created by consenting, is not found in this directory: Entra says the same for both.
  if (!registration || !state.apps.isConsented(registration, tenant.tenantId)) {
    throw new AadError(
      400,
      'unauthorized_client',
      `AADSTS700016: Application with identifier '${form.client_id ?? ''}' was not found in the directory '${tenant.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
  }
  state.apps.authenticate(registration, form, audiences(request, tenant));
  // Entra issues a token for any resource the app may ask for; what the app may do there (its app
  // roles, Exchange's RBAC) is the resource's own check (the Exchange emulator's directory.ts).
  const accessToken = state.issueToken(tenant.tenantId, registration.appId, form.scope === EXCHANGE_SCOPE ? 'exchange' : 'graph');
  return jsonReply(200, {
    token_type: 'Bearer',
    expires_in: state.tokenLifetimeSeconds,
    ext_expires_in: state.tokenLifetimeSeconds,
    access_token: accessToken,
  });
}

/**
 * The audiences a client assertion may name for this tenant: its token endpoint (v2.0, or v1's
 * `/oauth2/token`) on the host the call was sent to, with the tenant as id or domain; lower case.
 */
function audiences(request: FastifyRequest, tenant: EmulatedTenant): string[] {
  const origin = trafficOf(request).url.origin.toLowerCase();
  return [tenant.tenantId, tenant.domain].flatMap((key) => [`${origin}/${key}/oauth2/v2.0/token`, `${origin}/${key}/oauth2/token`]);
}
