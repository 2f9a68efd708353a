import type { DirectoryUser } from '../core/directory.ts';
import { sameUpn, who } from './authority.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate, noAction } from './decision.ts';
import { decideLicenseAsk } from './decide-license.ts';
import type { ResourceAction } from './intent.ts';
import type { ProductResource, SkuResource } from './resources.ts';
import { cite } from './runbook-rules.ts';
import { MICROSOFT_PRODUCTS, type MicrosoftProduct } from './service-plans.ts';
import { skuDisplayName, skuPhrases } from './sku-names.ts';
import { normalise } from './text.ts';

/**
 * Microsoft products that come inside licences ("Excel", "Teams", "OneDrive", "Power BI Pro" in
 * E5). Whether someone has one is read from the service plans of the SKUs they hold: a product in
 * a suite they already have needs nothing; otherwise it is a licence request for a SKU that
 * provides it, decided by the licence rules.
 */
export interface ProductAsk {
  action: ResourceAction;
  resource: ProductResource;
  subject: DirectoryUser;
}

/** The SKU that provides `plans` among those the subject holds, with its part number; null when none. */
export async function heldSuiteProviding(ctx: PlanningContext, subject: DirectoryUser, plans: readonly string[]): Promise<string | null> {
  if (plans.length === 0) return null;
  const held = new Set((await ctx.licensesOf(subject)).map((p) => p.toLowerCase()));
  const provider = ctx.skus.find((sku) => held.has(sku.skuPartNumber.toLowerCase()) && (sku.servicePlans ?? []).some((p) => plans.includes(p.servicePlanName) && p.provisioningStatus !== 'Disabled'));
  return provider?.skuPartNumber ?? null;
}

/** The product a licence stands for ("Power BI Pro" for POWER_BI_PRO), to see whether a suite already carries it. */
export function productOfSku(partNumber: string): MicrosoftProduct | null {
  const names = new Set(skuPhrases(partNumber).map((p) => p.phrase));
  return MICROSOFT_PRODUCTS.find((product) => product.names.some((n) => names.has(normalise(n)))) ?? null;
}

/** "Excel is part of Microsoft 365 E3 (SPE_E3), which you already have." */
export function alreadyInSuite(ctx: PlanningContext, subject: DirectoryUser, label: string, partNumber: string): Decision {
  const mine = sameUpn(ctx.requester, subject);
  const suite = skuDisplayName(partNumber);
  return noAction(
    `${label} is part of ${subject.displayName}'s ${suite}`,
    [`${who(subject)} holds ${partNumber}, whose service plans include ${label}.`],
    `${label} is included in ${mine ? 'your' : `${subject.displayName}'s`} ${suite} licence, so nothing needed changing: ${mine ? 'you can' : 'they can'} sign in to it with ${mine ? 'your' : 'their'} work account. If it does not work, reply to this ticket and a technician will look into it.`,
  );
}

export async function decideProductAsk(ctx: PlanningContext, ask: ProductAsk): Promise<Decision> {
  const { resource, subject } = ask;
  const label = resource.label;
  if (ask.action === 'withdraw') {
    return escalate(`removing ${label} is done by a technician`, [
      `${label} comes with a licence; taking it away means changing ${subject.displayName}'s licences, which no runbook lets the helpdesk do.`,
    ]);
  }
  const held = await heldSuiteProviding(ctx, subject, resource.product.plans);
  if (held) return alreadyInSuite(ctx, subject, label, held);
  const onRequest = resource.providers
    .map((sku) => ctx.catalog.resources.find((r): r is SkuResource => r.kind === 'sku' && r.partNumber === sku.skuPartNumber))
    .filter((r): r is SkuResource => r !== undefined && r.onRequest);
  if (onRequest.length === 1 && onRequest[0]) {
    const decision = await decideLicenseAsk(ctx, { action: 'grant', resource: onRequest[0], subject });
    return { ...decision, reasons: [`${label} comes with ${onRequest[0].label}, which ${subject.displayName} does not hold.`, ...decision.reasons] };
  }
  const holds = (await ctx.licensesOf(subject)).join(', ') || 'none';
  const providers = resource.providers.map((s) => s.skuPartNumber);
  return escalate(`${label} is not part of ${subject.displayName}'s licences`, [
    `${who(subject)} holds ${holds}; none of them includes ${label}.`,
    providers.length > 0
      ? `In ${ctx.clientName}'s tenant ${label} comes with ${providers.join(', ')}, which ${onRequest.length > 1 ? 'several runbook lines' : 'no runbook'} lets the helpdesk assign on request for it.`
      : `No licence ${ctx.clientName} subscribes to includes ${label}; buying one is the account manager's decision.`,
    ...(ctx.rules.licenses.onRequestLine ? [cite(ctx.rules.licenses.onRequestLine)] : []),
  ]);
}
