import type { AuthMethod, DirectoryGroup, DirectoryUser, SubscribedSku } from '../core/directory.ts';
import { buildCatalog, type Catalog } from './resources.ts';
import { parseRunbooks, type RunbookRules } from './runbook-rules.ts';
import type { DiagnosisReader, PlannerInput } from './types.ts';

/**
 * What one planning run knows: the request, the requester, the client's runbooks as rules, the
 * tenant's groups and licenses, and per-person lookups read once each (every read is recorded in
 * the diagnosis, so the note should not show the same question twice).
 */
export class PlanningContext {
  private readonly managers = new Map<string, Promise<DirectoryUser | null>>();
  private readonly memberships = new Map<string, Promise<DirectoryGroup[]>>();
  private readonly licenses = new Map<string, Promise<string[]>>();
  private readonly methods = new Map<string, Promise<AuthMethod[]>>();

  private constructor(
    readonly input: PlannerInput,
    readonly requester: DirectoryUser,
    readonly speaker: DirectoryUser,
    readonly text: string,
    readonly rules: RunbookRules,
    readonly groups: DirectoryGroup[],
    readonly skus: SubscribedSku[],
    readonly catalog: Catalog,
  ) {}

  /**
   * `ask` is what the planner reads (the request as written, or what a mail reading made of it) and
   * `speaker` whose first person it is: the requester, or the author of a forwarded message. Authority
   * is always the requester's.
   */
  static async load(input: PlannerInput, requester: DirectoryUser, ask: { text: string; speaker: DirectoryUser } = { text: input.request.text, speaker: requester }): Promise<PlanningContext> {
    const reader = input.reader;
    const [runbooks, groups, skus] = await Promise.all([reader.listRunbooks(), reader.findGroups(''), reader.listLicenses()]);
    const rules = parseRunbooks(
      runbooks,
      groups.map((g) => g.displayName),
    );
    const clientWords = [input.client.name, input.client.slug, input.client.domain.split('.')[0] ?? ''];
    return new PlanningContext(input, requester, ask.speaker, ask.text, rules, groups, skus, buildCatalog(groups, skus, rules, clientWords));
  }

  get reader(): DiagnosisReader {
    return this.input.reader;
  }

  get clientName(): string {
    return this.input.client.name;
  }

  /** Offered write tools only: a `disabled` tool never reaches the planner (DESIGN rule 3). */
  offers(tool: string): boolean {
    return this.input.tools.some((t) => t.name === tool && t.kind === 'write');
  }

  managerOf(user: DirectoryUser): Promise<DirectoryUser | null> {
    return memo(this.managers, user, () => this.reader.getManager(user.userPrincipalName));
  }

  groupsOf(user: DirectoryUser): Promise<DirectoryGroup[]> {
    return memo(this.memberships, user, () => this.reader.listUserGroups(user.userPrincipalName));
  }

  licensesOf(user: DirectoryUser): Promise<string[]> {
    return memo(this.licenses, user, () => this.reader.listUserLicenses(user.userPrincipalName));
  }

  authMethodsOf(user: DirectoryUser): Promise<AuthMethod[]> {
    return memo(this.methods, user, () => this.reader.listAuthMethods(user.userPrincipalName));
  }
}

function memo<T>(cache: Map<string, Promise<T>>, user: DirectoryUser, read: () => Promise<T>): Promise<T> {
  const key = user.userPrincipalName.toLowerCase();
  let found = cache.get(key);
  if (!found) {
    found = read();
    cache.set(key, found);
  }
  return found;
}
