import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { latencySchema } from '../effects.ts';
import { callOf, jsonBody, send } from '../endpoint.ts';
import { faultSchema } from '../faults.ts';
import { forgeCallback, forgeSchema } from '../forge.ts';
import type { ConnectWiseSite } from '../site.ts';
import { ok, parseControl, type Reply, replyForError } from '../wire.ts';

/**
 * `/_emulator/...`: the emulator's own surface, which ConnectWise does not have. Tests, the demo,
 * the benchmarks and other processes (the chaos test) read the tickets, callbacks, deliveries,
 * requests and effects, reset the site, and set faults and latency here. No latency, no faults,
 * no request log; bodies are JSON whatever their content type.
 */

type ControlHandler = (input: { body: unknown; query: URLSearchParams }) => Reply | Promise<Reply>;

export const controlRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  const route = (method: 'GET' | 'POST' | 'DELETE', url: string, handle: ControlHandler) => api.route({ method, url, handler: control(handle) });
  const companyId = (query: URLSearchParams) => query.get('companyId') ?? undefined;

  route('GET', '/info', () => ok(site.info()));
  route('GET', '/tickets', ({ query }) => ok({ tickets: site.ticketViews(companyId(query)) }));
  route('GET', '/callbacks', () => ok({ callbacks: site.allCallbacks() }));
  route('GET', '/callbacks/deliveries', () => ok({ deliveries: site.dispatcher.list() }));
  route('POST', '/callbacks/forge', async ({ body }) => ok(await forgeCallback(site, parseControl(forgeSchema, body))));
  route('POST', '/reset', () => {
    site.reset();
    return { status: 204 };
  });
  route('GET', '/faults', () => ok({ faults: site.faults.list() }));
  route('POST', '/faults', ({ body }) => ({ status: 201, body: site.faults.add(parseControl(faultSchema, body)) }));
  route('DELETE', '/faults', () => {
    site.faults.clear();
    return { status: 204 };
  });
  route('GET', '/requests', () => ok({ requests: site.requests() }));
  route('GET', '/effects', ({ query }) => ok({ effects: site.effects.list(companyId(query)) }));
  route('GET', '/latency', () => ok({ latencyMs: site.latency }));
  route('POST', '/latency', ({ body }) => {
    site.latency = parseControl(latencySchema, body);
    return ok({ latencyMs: site.latency });
  });
  route('DELETE', '/latency', () => {
    site.latency = null;
    return ok({ latencyMs: null });
  });
};

function control(handle: ControlHandler) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let answer: Reply;
    try {
      const body = jsonBody(request.body) ?? {};
      answer = await handle({ body, query: callOf(request).requestUrl.searchParams });
    } catch (error) {
      answer = replyForError(error);
    }
    send(reply, answer);
  };
}
