import type { DirectoryUser } from '../core/directory.ts';
import { who } from './authority.ts';
import { type Decision, escalate } from './decision.ts';
import type { PlannerInput } from './types.ts';

/**
 * Who is asking. Only a known, enabled employee of this client may ask the agent for anything: an
 * address outside the client's domain, an address the tenant does not know and a disabled account
 * all go to a technician, who can verify the person another way.
 */
export type Identified = { ok: true; user: DirectoryUser } | { ok: false; refusal: Decision };

function domainOf(address: string): string {
  return address.split('@')[1]?.trim().toLowerCase() ?? '';
}

export async function identifyRequester(input: PlannerInput): Promise<Identified> {
  const address = input.requesterEmail.trim();
  const domain = domainOf(address);
  const clientDomain = input.client.domain.toLowerCase();
  if (domain !== clientDomain && !domain.endsWith(`.${clientDomain}`)) {
    return refuse('the requester is not an employee of the client', [
      `The request came from ${address || 'an unknown address'}, which is outside ${input.client.name}'s domain (${input.client.domain}); the agent acts only for the client's own employees.`,
    ]);
  }
  const user = await input.reader.getUser(address);
  if (!user) {
    return refuse('the requester is not in the directory', [`${address} was not found in ${input.client.name}'s Microsoft 365 tenant, so who is asking cannot be verified.`]);
  }
  if (user.accountEnabled === false) {
    return refuse(`${user.displayName}'s own account is disabled`, [
      `${who(user)} has a disabled account. A request from a disabled account is verified by a technician: the account may be compromised, or its return must be reported by HR or the manager.`,
    ]);
  }
  return { ok: true, user };
}

function refuse(summary: string, reasons: string[]): Identified {
  return { ok: false, refusal: escalate(summary, reasons) };
}

