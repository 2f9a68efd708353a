import type { DirectoryUser } from '../core/directory.ts';
import type { Reporter } from './runbook-rules.ts';
import { acronym, words } from './text.ts';

/**
 * Who the requester is to the person a request is for, in the runbooks' terms: the person
 * themselves, their manager, HR. A runbook line says who may ask ("When HR or the leaver's manager
 * reports a leaver"); this decides whether the requester is one of them.
 */

const HR_NAMES = ['hr', 'human resources', 'people', 'people operations', 'people and culture', 'personnel'];

/** In HR: by department ("Human Resources", "People"), or by title ("HR Manager"). */
export function isHr(user: DirectoryUser): boolean {
  const department = words(user.department ?? '').join(' ');
  if (department !== '' && (HR_NAMES.includes(department) || acronym(user.department ?? '') === 'hr')) return true;
  const title = ` ${words(user.jobTitle ?? '').join(' ')} `;
  return / hr | human resources | people partner /.test(title);
}

export function sameUpn(a: DirectoryUser | null | undefined, b: DirectoryUser | null | undefined): boolean {
  return !!a && !!b && a.userPrincipalName.toLowerCase() === b.userPrincipalName.toLowerCase();
}

/** Every role the requester holds towards the subject. */
export function relationsOf(requester: DirectoryUser, subject: DirectoryUser, subjectManager: DirectoryUser | null): Set<Reporter> {
  const relations = new Set<Reporter>();
  if (sameUpn(requester, subject)) relations.add('self');
  if (sameUpn(requester, subjectManager)) relations.add('manager');
  if (isHr(requester) && !sameUpn(requester, subject)) relations.add('hr');
  return relations;
}

export function mayAsk(relations: ReadonlySet<Reporter>, allowed: readonly Reporter[]): boolean {
  return allowed.some((r) => relations.has(r));
}

/** "the employee themselves or their manager (Adele Vance)", for the note. */
export function describeAllowed(allowed: readonly Reporter[], subject: DirectoryUser, subjectManager: DirectoryUser | null): string {
  const parts = allowed.map((r) => {
    if (r === 'self') return `${subject.displayName} themselves`;
    if (r === 'hr') return 'HR';
    return subjectManager ? `their manager (${who(subjectManager)})` : 'their manager (none is set in the directory)';
  });
  return parts.length <= 1 ? (parts[0] ?? 'nobody') : `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

/** "Alex Wilber <alex.wilber@contoso.example>" */
export function who(user: DirectoryUser): string {
  return `${user.displayName} <${user.userPrincipalName}>`;
}

/** How the requester stands to the subject, in words for the note. */
export function describeRelations(relations: ReadonlySet<Reporter>, requester: DirectoryUser, subject: DirectoryUser): string {
  if (relations.has('self')) return `${requester.displayName} asks for themselves`;
  const roles = [relations.has('manager') ? `${subject.displayName}'s manager` : null, relations.has('hr') ? 'in HR' : null].filter(Boolean);
  return roles.length > 0
    ? `${requester.displayName} (${roles.join(', ')}) asks on behalf of ${subject.displayName}`
    : `${requester.displayName} asks on behalf of ${subject.displayName} and is neither their manager nor in HR`;
}
