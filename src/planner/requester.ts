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

/** The address is in the client's domain or one of its subdomains. */
export function inClientDomain(address: string, clientDomain: string): boolean {
  const domain = address.split('@')[1]?.trim().toLowerCase() ?? '';
  const client = clientDomain.toLowerCase();
  return domain === client || domain.endsWith(`.${client}`);
}

export async function identifyRequester(input: PlannerInput): Promise<Identified> {
  const address = input.requesterEmail.trim();
  if (!inClientDomain(address, input.client.domain)) {
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

