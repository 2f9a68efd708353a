import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeskhandError, describeError, isDeskhandError } from '../core/errors.ts';
import type { EngineContext } from '../engine/context.ts';
import { type IntegrationHealthView, UNKNOWN_HEALTH } from '../integrations/health.ts';
import { DEVELOPMENT_LOOPBACK_SETTING } from '../integrations/http.ts';
import { EMULATED_SETTINGS, type IntegrationModule } from '../integrations/module.ts';
import type { Logger } from '../logger.ts';
import { randomToken } from '../secrets.ts';
import { appendAudit, inTransaction } from '../store/audit.ts';
import { json } from '../store/db.ts';
import type { IntegrationRow } from '../store/schema.ts';
import type { KnownEmulators } from '../service.ts';
import { requireAdmin, requireUser } from './auth.ts';
import {
  Integration,
  IntegrationConfiguration,
  IntegrationConfigurationBody,
  IntegrationCreateBody,
  IntegrationKindList,
  type JsonSchemaObject,
  PsaBoards,
} from './contract.ts';
import { zodResponse, zodSchema } from './schema.ts';

/**
 * Connecting systems from the dashboard: the kinds deskhand can connect (with the forms, as JSON
 * Schema), a new integration (msp_admin), its configuration read and replaced (secrets write-only:
 * only their names are ever answered), and a PSA's boards for the status map.
 *
 * The settings that mark an integration as pointing at a built-in emulator (and so let it use
 * http:// on loopback) are never taken from a caller: the service sets them itself when the
 * integration's URLs are the running emulators' (`KnownEmulators`).
 */

/** Settings deskhand keeps for itself (a module may name more): never shown in a form, never accepted from the API. */
const INTERNAL_SETTINGS: readonly string[] = [...Object.keys(EMULATED_SETTINGS), DEVELOPMENT_LOOPBACK_SETTING];

export function internalSettingsOf(module: IntegrationModule | undefined): readonly string[] {
  return [...INTERNAL_SETTINGS, ...(module?.internalSettings ?? [])];
}
/** Secrets deskhand makes itself when none is given (the secret part of a webhook's URL or authentication). */
const GENERATED_SECRETS: readonly string[] = ['webhookSecret'];

const idParams = zodSchema(z.object({ id: z.uuid() }));

export interface IntegrationConfigOptions {
  emulators: KnownEmulators | null;
  webhookBaseUrl: () => string | null;
}

export function registerIntegrationConfigRoutes(app: FastifyInstance, ctx: EngineContext, options: IntegrationConfigOptions): void {
  app.get(
    '/api/integration-kinds',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'listIntegrationKinds',
        summary: 'Every system deskhand can connect, with the JSON Schema (draft 7) of its settings and secrets for the forms',
        response: { 200: zodResponse(IntegrationKindList) },
      },
    },
    async (request): Promise<IntegrationKindList> => {
      requireUser(request);
      return {
        kinds: ctx.integrations.modules.map((module) => ({
          kind: module.kind,
          label: module.label,
          scope: module.scope,
          clientOverride: module.clientOverride === true,
          provides: [...module.provides],
          settingsSchema: formSchema(module.settings, internalSettingsOf(module)),
          secretsSchema: formSchema(module.secrets, GENERATED_SECRETS),
          clientLink: module.clientLink ? { label: module.clientLink.label } : null,
        })),
      };
    },
  );

  app.post(
    '/api/integrations',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'createIntegration',
        summary:
          "Connect a system for the MSP, or (clientId) for one client: settings and secrets checked against the system's schema, secrets stored encrypted and never answered; its connection hook runs (registering webhooks)",
        body: zodSchema(IntegrationCreateBody),
        response: { 200: zodResponse(Integration) },
      },
    },
    async (request): Promise<Integration> => {
      const user = requireUser(request);
      const body = request.body as z.output<typeof IntegrationCreateBody>;
      const module = ctx.integrations.modules.find((m) => m.kind === body.kind);
      if (!module) throw new DeskhandError('bad_request', `kind: no system of kind "${body.kind.slice(0, 50)}" (kinds: ${ctx.integrations.modules.map((m) => m.kind).join(', ')})`);
      let client: { id: string; slug: string; name: string } | null = null;
      if (body.clientId) {
        if (module.scope === 'msp' && !module.clientOverride) throw new DeskhandError('bad_request', `clientId: ${module.label} is connected once for the MSP, not per client`);
        client = (await ctx.db.selectFrom('clients').select(['id', 'slug', 'name']).where('id', '=', body.clientId).where('msp_id', '=', user.mspId).executeTakeFirst()) ?? null;
        if (!client) throw new DeskhandError('not_found', 'no such client');
      } else if (module.scope === 'client') {
        throw new DeskhandError('bad_request', `clientId: ${module.label} is connected per client: name the client`);
      }
      // After the client's lookup: another MSP's client is answered as one that does not exist, whatever the role.
      requireAdmin(request);
      const secretsGiven = { ...body.secrets };
      for (const name of GENERATED_SECRETS) if (hasKey(module.secrets, name) && !secretsGiven[name]) secretsGiven[name] = randomToken(24);
      const id = crypto.randomUUID();
      const checked = checkConfiguration(module, { id, name: body.name, forClient: client !== null, settings: body.settings, secrets: secretsGiven, emulators: options.emulators });
      const at = ctx.clock.now();
      await inTransaction(ctx.db, async (tx) => {
        await tx
          .insertInto('integrations')
          .values({
            id,
            msp_id: user.mspId,
            client_id: client?.id ?? null,
            kind: module.kind,
            name: body.name,
            config: json(checked.settings),
            secrets_encrypted: ctx.secrets.encryptJson(checked.secrets),
            created_at: at,
            updated_at: at,
          })
          .execute();
        await appendAudit(tx, {
          mspId: user.mspId,
          actor: `user:${user.email}`,
          event: 'integration.created',
          data: { integrationId: id, kind: module.kind, name: body.name, clientId: client?.id ?? null, settings: Object.keys(publicSettings(module, checked.settings)).sort(), secretsSet: Object.keys(checked.secrets).sort() },
          at,
        });
      });
      ctx.integrations.invalidate(id);
      await connectOne(ctx, id, options.webhookBaseUrl(), ctx.logger);
      return describe(ctx, await rowOf(ctx, user.mspId, id));
    },
  );

  app.get(
    '/api/integrations/:id/configuration',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'getIntegrationConfiguration',
        summary: "An integration's settings as its form shows them, and the names of the secrets that are set (never their values)",
        params: idParams,
        response: { 200: zodResponse(IntegrationConfiguration) },
      },
    },
    async (request): Promise<IntegrationConfiguration> => {
      const user = requireUser(request);
      const row = await rowOf(ctx, user.mspId, (request.params as { id: string }).id);
      requireAdmin(request);
      return configurationOf(ctx, row);
    },
  );

  app.put(
    '/api/integrations/:id/configuration',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'updateIntegrationConfiguration',
        summary:
          "Change an integration's name, whether it is enabled, its settings (the form's replace the old ones) and its secrets (left out: kept; a string: replaced; null: cleared), checked as when it was connected; its connection hook runs again",
        params: idParams,
        body: zodSchema(IntegrationConfigurationBody),
        response: { 200: zodResponse(IntegrationConfiguration) },
      },
    },
    async (request): Promise<IntegrationConfiguration> => {
      const user = requireUser(request);
      const { id } = request.params as { id: string };
      const before = await rowOf(ctx, user.mspId, id);
      requireAdmin(request);
      const body = request.body as z.output<typeof IntegrationConfigurationBody>;
      const module = ctx.integrations.module(before.kind);
      const at = ctx.clock.now();
      await inTransaction(ctx.db, async (tx) => {
        // Two admins saving at once: the second works from what the first saved.
        const row = await tx.selectFrom('integrations').selectAll().where('id', '=', id).where('msp_id', '=', user.mspId).forUpdate().executeTakeFirst();
        if (!row) throw new DeskhandError('not_found', 'no such integration');
        const oldSecrets = ctx.integrations.secretsOf(row);
        const secrets = { ...oldSecrets };
        for (const [name, value] of Object.entries(body.secrets ?? {})) {
          if (value === null) delete secrets[name];
          else secrets[name] = value;
        }
        const name = body.name ?? row.name;
        const settings = body.settings ?? publicSettings(module, row.config as Record<string, unknown>);
        const checked = checkConfiguration(module, { id, name, forClient: row.client_id !== null, settings, secrets, emulators: options.emulators });
        const enabled = body.enabled ?? row.enabled;
        await tx
          .updateTable('integrations')
          .set({ name, enabled, config: json(checked.settings), secrets_encrypted: ctx.secrets.encryptJson(checked.secrets), updated_at: at })
          .where('id', '=', id)
          .execute();
        const oldPublic = publicSettings(module, row.config as Record<string, unknown>);
        const newPublic = publicSettings(module, checked.settings);
        const changedSettings = [...new Set([...Object.keys(oldPublic), ...Object.keys(newPublic)])].filter((key) => JSON.stringify(oldPublic[key]) !== JSON.stringify(newPublic[key])).sort();
        const changedSecrets = [...new Set([...Object.keys(oldSecrets), ...Object.keys(checked.secrets)])].filter((key) => oldSecrets[key] !== checked.secrets[key]).sort();
        await appendAudit(tx, {
          mspId: user.mspId,
          actor: `user:${user.email}`,
          event: 'integration.configured',
          data: {
            integrationId: id,
            ...(name !== row.name ? { name: { from: row.name, to: name } } : {}),
            ...(enabled !== row.enabled ? { enabled: { from: row.enabled, to: enabled } } : {}),
            // Which settings changed, from what to what (never a secret: only the names of those that changed).
            settings: Object.fromEntries(changedSettings.map((key) => [key, { from: oldPublic[key] ?? null, to: newPublic[key] ?? null }])),
            secretsChanged: changedSecrets,
          },
          at,
        });
      });
      ctx.integrations.invalidate(id);
      const row = await rowOf(ctx, user.mspId, id);
      if (row.enabled) await connectOne(ctx, id, options.webhookBaseUrl(), ctx.logger);
      return configurationOf(ctx, row);
    },
  );

  app.get(
    '/api/integrations/:id/boards',
    {
      schema: {
        tags: ['integrations'],
        operationId: 'listPsaBoards',
        summary: "A PSA integration's boards and each board's statuses, read from the PSA (to map the ticket statuses)",
        params: idParams,
        response: { 200: zodResponse(PsaBoards) },
      },
    },
    async (request): Promise<PsaBoards> => {
      const user = requireUser(request);
      const row = await rowOf(ctx, user.mspId, (request.params as { id: string }).id);
      requireAdmin(request);
      if (!ctx.integrations.module(row.kind).provides.includes('ticket')) throw new DeskhandError('bad_request', `${row.name} is not a PSA: it has no boards`);
      try {
        const ticket = await ctx.integrations.ticketOf(row.id);
        const boards = await ticket.boards();
        return { boards: boards.map((b) => ({ name: b.name, statuses: [...b.statuses] })) };
      } catch (error) {
        if (isDeskhandError(error) && error.code === 'config') throw new DeskhandError('bad_request', `${row.name} is not configured so that it can be reached: ${error.message}`);
        const retryable = isDeskhandError(error) && error.retryable;
        throw new DeskhandError(retryable ? 'upstream_retryable' : 'upstream', `could not read the boards of ${row.name}: ${describeError(error)}`);
      }
    },
  );
}

/**
 * Settings and secrets checked against the module's schemas, with the settings deskhand keeps for
 * itself recomputed: set when the integration's URLs are the running emulators' (and only then),
 * absent otherwise. A problem names its field, never a value.
 */
function checkConfiguration(
  module: IntegrationModule,
  input: { id: string; name: string; forClient: boolean; settings: Record<string, unknown>; secrets: Record<string, string>; emulators: KnownEmulators | null },
): { settings: Record<string, unknown>; secrets: Record<string, string> } {
  const internal = Object.keys(input.settings).filter((key) => internalSettingsOf(module).includes(key));
  if (internal.length > 0) {
    throw new DeskhandError('bad_request', `settings.${internal[0]}: deskhand sets this itself (for an integration pointing at a built-in emulator); it is never accepted from the API`);
  }
  const settings = parsed(module.settings, input.settings, 'settings', module.label) as Record<string, unknown>;
  const secrets = parsed(module.secrets, input.secrets, 'secrets', module.label) as Record<string, string>;
  const final = input.emulators && pointsAtEmulators(settings, input.emulators.origins) ? input.emulators.pointAt(module.kind, settings) : settings;
  // Build the connection once, as the registry will: a URL the outbound rule refuses (http://, a user
  // name in it) or a setting it cannot work without is refused now, not at its first use.
  // An MSP-wide app (a multi-tenant one) is only ever connected for a linked client: checked as for one.
  const clientLink = input.forClient || !module.clientLink ? {} : { clientLink: 'configuration-check' };
  try {
    module.connect({ integrationId: input.id, name: input.name, kind: module.kind, settings: final, secrets, ...clientLink });
  } catch (error) {
    if (isDeskhandError(error) && error.code === 'config') throw new DeskhandError('bad_request', error.message);
    throw error;
  }
  return { settings: final, secrets };
}

/** A value through a module's schema, or a 400 naming each field that does not fit (and each unknown one). */
function parsed(schema: z.ZodType, value: Record<string, unknown>, where: 'settings' | 'secrets', label: string): unknown {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.slice(0, 10).map((issue) => `${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`);
    throw new DeskhandError('bad_request', problems.join('; '));
  }
  const output = result.data as Record<string, unknown>;
  const unknown = Object.keys(value).filter((key) => value[key] !== undefined && !(key in output));
  if (unknown.length > 0) throw new DeskhandError('bad_request', `${where}.${unknown[0]!.slice(0, 100)}: not one of the ${where} of ${label}`);
  return output;
}

/**
 * True when the settings' URLs reach a running built-in emulator: at least one is an emulator's
 * origin, and no http:// URL goes anywhere else (the development setting would let it).
 */
function pointsAtEmulators(settings: Record<string, unknown>, origins: readonly string[]): boolean {
  const urls = urlsIn(settings);
  const known = new Set(origins);
  const onEmulator = urls.filter((url) => known.has(url.origin));
  return onEmulator.length > 0 && urls.every((url) => url.protocol !== 'http:' || known.has(url.origin));
}

function urlsIn(value: unknown): URL[] {
  if (typeof value === 'string') {
    if (!/^https?:\/\//i.test(value.trim())) return [];
    try {
      return [new URL(value.trim())];
    } catch {
      return [];
    }
  }
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

function publicSettings(module: IntegrationModule | undefined, settings: Record<string, unknown>): Record<string, unknown> {
  const internal = internalSettingsOf(module);
  return Object.fromEntries(Object.entries(settings).filter(([key]) => !internal.includes(key)));
}

function hasKey(schema: z.ZodType, key: string): boolean {
  const json = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown> };
  return Boolean(json.properties?.[key]);
}

/** A module's schema as its form's JSON Schema (draft 7, input side), without the fields named in `hidden`. */
function formSchema(schema: z.ZodType, hidden: readonly string[]): JsonSchemaObject {
  const json = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown> & {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  delete json['$schema'];
  if (json.properties) json.properties = Object.fromEntries(Object.entries(json.properties).filter(([key]) => !hidden.includes(key)));
  if (json.required) json.required = json.required.filter((key) => !hidden.includes(key));
  return json;
}

/** Run the module's `onConnect` for one integration, as `connectIntegrations` does at start. */
async function connectOne(ctx: EngineContext, id: string, webhookBaseUrl: string | null, logger: Logger): Promise<void> {
  const row = await ctx.integrations.row(id);
  const module = ctx.integrations.module(row.kind);
  if (!module.onConnect || !row.enabled) return;
  try {
    const outcome = await module.onConnect(ctx.integrations.connected(row), { logger, webhookBaseUrl });
    if (outcome.ok) logger.info({ integration: row.name, system: module.label, detail: outcome.detail }, 'integration connected');
    else logger.warn({ integration: row.name, system: module.label, detail: outcome.detail }, 'could not finish connecting an integration');
  } catch (error) {
    logger.warn({ integration: row.name, system: module.label, error: describeError(error) }, 'could not connect an integration');
    await ctx.integrations.health.observe(row.id, { ok: false, error });
  }
}

type RowWithClient = IntegrationRow & { client_slug: string | null; client_name: string | null };

async function rowOf(ctx: EngineContext, mspId: string, id: string): Promise<RowWithClient> {
  const row = await ctx.db
    .selectFrom('integrations')
    .leftJoin('clients', 'clients.id', 'integrations.client_id')
    .selectAll('integrations')
    .select(['clients.slug as client_slug', 'clients.name as client_name'])
    .where('integrations.msp_id', '=', mspId)
    .where('integrations.id', '=', id)
    .executeTakeFirst();
  if (!row) throw new DeskhandError('not_found', 'no such integration');
  return row;
}

async function describe(ctx: EngineContext, row: RowWithClient): Promise<Integration> {
  const health = (await ctx.integrations.health.of([row.id])).get(row.id);
  return describeIntegration(ctx, row, health);
}

/** An integration in the contract's shape (src/api/contract.ts `Integration`). */
export function describeIntegration(ctx: EngineContext, row: RowWithClient, health: IntegrationHealthView | undefined): Integration {
  const module = ctx.integrations.modules.find((m) => m.kind === row.kind);
  return {
    id: row.id,
    kind: row.kind,
    label: module?.label ?? row.kind,
    name: row.name,
    scope: row.client_id ? 'client' : 'msp',
    enabled: row.enabled,
    client: row.client_id ? { id: row.client_id, slug: row.client_slug ?? '', name: row.client_name ?? '' } : null,
    provides: [...(module?.provides ?? [])],
    health: health ?? UNKNOWN_HEALTH,
  };
}

async function configurationOf(ctx: EngineContext, row: RowWithClient): Promise<IntegrationConfiguration> {
  return { integration: await describe(ctx, row), settings: publicSettings(ctx.integrations.modules.find((m) => m.kind === row.kind), row.config as Record<string, unknown>), secretsSet: Object.keys(ctx.integrations.secretsOf(row)).sort() };
}
