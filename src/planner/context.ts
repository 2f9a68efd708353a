import type { AuthMethod, DirectoryGroup, DirectoryUser, SubscribedSku } from '../core/directory.ts';
import { type Clause, splitClauses } from './clauses.ts';
import { buildCatalog, type Catalog } from './resources.ts';
import { parseRunbooks, type RunbookRules } from './runbook-rules.ts';
import type { DiagnosisReader, PlannerInput } from './types.ts';

/**
 * What one planning run knows: the request, the requester, the client's runbooks as rules, the
 * tenant's groups and licenses, and per-person lookups read once each (every read is recorded in
 * the diagnosis, so the note should not show the same question twice).
 */
/** Per-person lookups, shared by every reading of one request. */
interface Lookups {
  managers: Map<string, Promise<DirectoryUser | null>>;
  memberships: Map<string, Promise<DirectoryGroup[]>>;
  licenses: Map<string, Promise<string[]>>;
  methods: Map<string, Promise<AuthMethod[]>>;
}

export class PlanningContext {
  private constructor(
    readonly input: PlannerInput,
    readonly requester: DirectoryUser,
    /** Whose first person the text is: the requester, or the author of a forwarded message. */
    readonly speaker: DirectoryUser,
    /** What the planner reads: the request as written, or what the mail and language readings made of it. */
    readonly text: string,
    readonly rules: RunbookRules,
    readonly groups: DirectoryGroup[],
    readonly skus: SubscribedSku[],
    readonly catalog: Catalog,
    private readonly lookups: Lookups,
  ) {}

  static async load(input: PlannerInput, requester: DirectoryUser): Promise<PlanningContext> {
    const reader = input.reader;
    const [runbooks, groups, skus] = await Promise.all([reader.listRunbooks(), reader.findGroups(''), reader.listLicenses()]);
    const rules = parseRunbooks(
      runbooks,
      groups.map((g) => g.displayName),
    );
    const clientWords = [input.client.name, input.client.slug, input.client.domain.split('.')[0] ?? ''];
    const lookups: Lookups = { managers: new Map(), memberships: new Map(), licenses: new Map(), methods: new Map() };
    return new PlanningContext(input, requester, requester, input.request.text, rules, groups, skus, buildCatalog(groups, skus, rules, clientWords), lookups);
  }

  private split: Clause[] | undefined;

  /** The text's clauses (clauses.ts), split once for every ask that needs them. */
  get clauses(): Clause[] {
    this.split ??= splitClauses(this.text);
    return this.split;
  }

  /** The same request read as `text`, in `speaker`'s words; authority stays the requester's. */
  reading(text: string, speaker: DirectoryUser): PlanningContext {
    return new PlanningContext(this.input, this.requester, speaker, text, this.rules, this.groups, this.skus, this.catalog, this.lookups);
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
    return memo(this.lookups.managers, user, () => this.reader.getManager(user.userPrincipalName));
  }

  groupsOf(user: DirectoryUser): Promise<DirectoryGroup[]> {
    return memo(this.lookups.memberships, user, () => this.reader.listUserGroups(user.userPrincipalName));
  }

  licensesOf(user: DirectoryUser): Promise<string[]> {
    return memo(this.lookups.licenses, user, () => this.reader.listUserLicenses(user.userPrincipalName));
  }

  authMethodsOf(user: DirectoryUser): Promise<AuthMethod[]> {
    return memo(this.lookups.methods, user, () => this.reader.listAuthMethods(user.userPrincipalName));
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
