import type { DirectoryUser, SubscribedSku } from '../core/directory.ts';
import { describeAllowed, describeRelations, mayAsk, relationsOf, who } from './authority.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate, noAction, step, steps } from './decision.ts';
import { alreadyInSuite, heldSuiteProviding, productOfSku } from './decide-product.ts';
import type { ResourceAction } from './intent.ts';
import type { SkuResource } from './resources.ts';
import { cite, type Reporter } from './runbook-rules.ts';
import { M365 } from './tool-names.ts';

/**
 * License requests. The runbook says which licenses are assigned on request; the tenant says
 * whether a seat is free (`total - consumed`). Removing a license is never the helpdesk's call.
 */
export interface LicenseAsk {
  action: ResourceAction;
  resource: SkuResource;
  subject: DirectoryUser;
}

const ASKERS: readonly Reporter[] = ['self', 'manager'];

function seats(sku: SubscribedSku): string {
  const free = Math.max(0, sku.total - sku.consumed);
  return `${sku.consumed} of ${sku.total} seats in use, ${free} free`;
}

function reply(ctx: PlanningContext, subject: DirectoryUser, has: string): string {
  const mine = ctx.requester.userPrincipalName === subject.userPrincipalName;
  return `${mine ? 'You already have' : `${subject.displayName} already has`} ${has} assigned, so nothing needed changing. If it does not work, reply to this ticket and a technician will look into it.`;
}

function policyRefusal(ctx: PlanningContext, resource: SkuResource): Decision | null {
  if (resource.onRequest) return null;
  const policy = ctx.rules.licenses;
  const reasons = resource.standard
    ? [`${resource.label} is the standard license, assigned when an account is set up, not on request.`, ...(policy.standardLine ? [cite(policy.standardLine)] : [])]
    : [
        `No runbook of ${ctx.clientName} says ${resource.label} is assigned on request.`,
        ...(policy.onRequestLine ? [cite(policy.onRequestLine)] : []),
        ...ctx.rules.catchAll.map(cite),
      ];
  return escalate(`${resource.label} is not a license the helpdesk assigns on request`, reasons);
}

async function grant(ctx: PlanningContext, resource: SkuResource, subject: DirectoryUser): Promise<Decision> {
  const sku = resource.sku;
  // A suite the person holds may carry it already (Power BI Pro in Microsoft 365 E5).
  const product = productOfSku(resource.partNumber);
  const inSuite = product ? await heldSuiteProviding(ctx, subject, product.plans) : null;
  if (inSuite && inSuite.toLowerCase() !== resource.partNumber.toLowerCase()) return alreadyInSuite(ctx, subject, product?.product ?? resource.label, inSuite);
  if (!sku) {
    return escalate(`${ctx.clientName} has no ${resource.label} subscription`, [
      `${resource.label} is not among ${ctx.clientName}'s subscribed licenses (${ctx.skus.map((s) => s.skuPartNumber).join(', ') || 'none'}); buying it is the account manager's decision.`,
    ]);
  }
  const held = await ctx.licensesOf(subject);
  if (held.some((p) => p.toLowerCase() === sku.skuPartNumber.toLowerCase())) {
    return noAction(`${subject.displayName} already has ${resource.label}`, [`${who(subject)} already has ${sku.skuPartNumber} assigned.`], reply(ctx, subject, resource.label));
  }
  const refused = policyRefusal(ctx, resource);
  if (refused) return refused;
  if (subject.accountEnabled === false) {
    return escalate(`${subject.displayName}'s account is disabled`, [`${who(subject)} has a disabled account; licenses are not assigned to disabled accounts by the helpdesk.`]);
  }
  const policy = ctx.rules.licenses;
  if (sku.total - sku.consumed <= 0) {
    return escalate(`no ${resource.label} seat is free`, [
      `${resource.label}: ${seats(sku)}.`,
      ...(policy.noSeatLine ? [cite(policy.noSeatLine)] : ['No seat is free; buying more is the account manager\'s decision.']),
    ]);
  }
  const subjectManager = await ctx.managerOf(subject);
  const relations = relationsOf(ctx.requester, subject, subjectManager);
  if (!mayAsk(relations, ASKERS)) {
    return escalate(`${ctx.requester.displayName} may not ask for a license for ${subject.displayName}`, [
      `${describeRelations(relations, ctx.requester, subject)}.`,
      `Licenses for someone else are assigned when ${describeAllowed(ASKERS, subject, subjectManager)} asks.`,
    ]);
  }
  const reasons = [
    `${who(subject)} does not have ${sku.skuPartNumber}.`,
    ...(policy.onRequestLine ? [cite(policy.onRequestLine)] : []),
    `${resource.label}: ${seats(sku)}.`,
    ...(relations.has('self') ? [] : [`${describeRelations(relations, ctx.requester, subject)}.`]),
  ];
  return steps(`assign ${resource.label} to ${subject.displayName}`, reasons, [
    step(M365.assignLicense, { user: subject.userPrincipalName, sku: sku.skuPartNumber }, `${resource.label} is assigned on request when a seat is free (${seats(sku)}).`),
  ]);
}

async function withdraw(ctx: PlanningContext, resource: SkuResource, subject: DirectoryUser): Promise<Decision> {
  const held = await ctx.licensesOf(subject);
  if (!held.some((p) => p.toLowerCase() === resource.partNumber.toLowerCase())) {
    const mine = ctx.requester.userPrincipalName === subject.userPrincipalName;
    return noAction(`${subject.displayName} does not have ${resource.label}`, [`${who(subject)} has no ${resource.partNumber} assigned.`], `${mine ? 'You do' : `${subject.displayName} does`} not have ${resource.label} assigned, so there was nothing to remove.`);
  }
  const related = ctx.rules.procedures.flatMap((p) => [p.line, ...p.related]).filter((line) => /licen[cs]e/i.test(line.text));
  return escalate(`removing ${resource.label} is done by a technician`, [
    `${who(subject)} has ${resource.partNumber} assigned; no runbook lets the helpdesk remove licenses.`,
    ...related.map(cite),
  ]);
}

export function decideLicenseAsk(ctx: PlanningContext, ask: LicenseAsk): Promise<Decision> {
  return ask.action === 'grant' ? grant(ctx, ask.resource, ask.subject) : withdraw(ctx, ask.resource, ask.subject);
}
