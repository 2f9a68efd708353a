import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { deterministicUuid } from '../../../../world/ids.ts';
import { type ApiContext, endpoint, staffOnly } from '../endpoint.ts';
import { list } from '../paging.ts';
import { type CallbackState, renderCallback } from '../records.ts';
import type { ConnectWiseSite } from '../site.ts';
import { cwError, cwNow, type FieldError, invalidObject, isHttpUrl, ok, parseBody, patchSchema, type Reply, ReplyError } from '../wire.ts';

/**
 * `system/callbacks`: callback registrations (create, list, read, JSON-Patch, delete). ConnectWise
 * refuses a duplicate (same URL, type, level and object) and a URL that is not http(s).
 */

const CALLBACK_TYPES = ['ticket', 'company', 'contact', 'project', 'opportunity', 'activity', 'schedule', 'configuration', 'member', 'time', 'agreement', 'invoice', 'purchaseorder', 'productcatalog', 'expense'];
const TICKET_CALLBACK_LEVELS = ['owner', 'board', 'status', 'ticket'];

const newCallbackSchema = z.looseObject({
  url: z.string().optional(),
  description: z.string().nullish(),
  objectId: z.number().int().optional(),
  type: z.string().optional(),
  level: z.string().optional(),
  inactiveFlag: z.boolean().optional(),
  isSelfSuppressedFlag: z.boolean().optional(),
});

const CALLBACK = '/system/callbacks/:callbackId(^\\d+$)';

export const callbackRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  endpoint(api, site, '/system/callbacks', {
    GET: staffOnly((c) => list(c, [...c.instance.callbacks.values()].map((cb) => renderCallback(cb)))),
    POST: staffOnly(createCallback),
  });
  endpoint(api, site, CALLBACK, {
    GET: staffOnly((c) => ok(renderCallback(callbackOf(c)))),
    PATCH: staffOnly(patchCallback),
    DELETE: staffOnly((c) => {
      c.instance.callbacks.delete(callbackOf(c).id);
      return { status: 204 };
    }),
  });
};

function callbackOf(ctx: ApiContext): CallbackState {
  const id = Number(ctx.params['callbackId']);
  const callback = ctx.instance.callbacks.get(id);
  if (!callback) throw new ReplyError(cwError(404, 'NotFound', `Callback ${id} not found`));
  return callback;
}

function createCallback(ctx: ApiContext): Reply {
  const input = parseBody(newCallbackSchema, ctx.body, 'callbackEntry');
  const errors = callbackErrors(input);
  const duplicate = [...ctx.instance.callbacks.values()].some(
    (c) => c.url === input.url && c.type === input.type?.toLowerCase() && c.level === input.level?.toLowerCase() && c.objectId === input.objectId,
  );
  if (errors.length === 0 && duplicate) {
    errors.push({ code: 'ObjectExists', message: 'A matching callback entry already exists', field: 'objectId' });
  }
  if (errors.length > 0) return invalidObject('callbackEntry', errors);
  const id = ctx.site.takeCallbackId();
  const callback: CallbackState = {
    id,
    url: input.url!,
    description: input.description ?? '',
    objectId: input.objectId!,
    type: input.type!.toLowerCase(),
    level: input.level!.toLowerCase(),
    memberId: ctx.actor.id,
    inactiveFlag: input.inactiveFlag === true,
    isSelfSuppressedFlag: input.isSelfSuppressedFlag === true,
    connectWiseID: deterministicUuid('connectwise', 'callback', ctx.instance.seed.companyId, String(id)),
    lastUpdated: cwNow(),
    updatedBy: ctx.actor.identifier,
  };
  ctx.instance.callbacks.set(callback.id, callback);
  ctx.site.addSigningKey(callback.connectWiseID, ctx.instance.seed.companyId);
  return { status: 201, body: renderCallback(callback) };
}

function patchCallback(ctx: ApiContext): Reply {
  const callback = callbackOf(ctx);
  const operations = parseBody(patchSchema, ctx.body, 'callbackEntry');
  const next = { ...callback };
  const errors: FieldError[] = [];
  for (const { path, value } of operations) {
    const field = path.replace(/^\//, '');
    if (field === 'inactiveFlag' || field === 'isSelfSuppressedFlag') {
      if (typeof value === 'boolean') next[field] = value;
      else errors.push({ code: 'InvalidField', message: `${field} must be true or false.`, field });
    } else if (field === 'url' && typeof value === 'string' && isHttpUrl(value)) next.url = value;
    else if (field === 'description' && typeof value === 'string' && value.length <= 100) next.description = value;
    else errors.push({ code: 'InvalidField', message: `The emulator does not support patching ${path} to that value.`, field });
  }
  if (errors.length > 0) return invalidObject('callbackEntry', errors);
  Object.assign(callback, next, { lastUpdated: cwNow(), updatedBy: ctx.actor.identifier });
  return ok(renderCallback(callback));
}

function callbackErrors(input: z.output<typeof newCallbackSchema>): FieldError[] {
  const errors: FieldError[] = [];
  if (input.url === undefined || !isHttpUrl(input.url)) errors.push({ code: 'InvalidField', message: 'Invalid URL', field: 'url' });
  if ((input.description ?? '').length > 100) {
    errors.push({ code: 'InvalidField', message: 'The description field has a maximum length of 100 characters.', field: 'description' });
  }
  if (input.objectId === undefined) errors.push({ code: 'MissingRequiredField', message: 'The objectId field is required.', field: 'objectId' });
  const type = input.type?.toLowerCase();
  if (type === undefined || !CALLBACK_TYPES.includes(type)) {
    errors.push({ code: 'InvalidField', message: 'Unrecognized type', field: 'type' });
  } else if (type === 'ticket' && !TICKET_CALLBACK_LEVELS.includes(input.level?.toLowerCase() ?? '')) {
    errors.push({ code: 'InvalidField', message: 'Unrecognized level for type', field: 'level' });
  }
  return errors;
}
