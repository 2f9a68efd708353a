import type { AuthMethod, DirectoryGroup, DirectoryUser, Runbook, SubscribedSku } from '../../core/directory.ts';
import { DeskhandError, describeError, ToolDisabledError } from '../../core/errors.ts';
import type { DiagnosisReader } from '../../planner/types.ts';
import type { ReadCallHook, ReaderOptions, ReadPurpose } from '../module.ts';
import type { GraphClient } from './client.ts';

/**
 * What one diagnosis may read from a client's Microsoft 365 tenant. Every read is one of the m365
 * read tools, reported to `onCall` so that the engine records it in the diagnosis, and cached for the
 * life of this reader so that the planner asking twice costs one Graph call (and one record).
 */

export class M365DiagnosisReader implements DiagnosisReader {
  private readonly cache: Map<string, Promise<unknown>>;
  private readonly allowed: (tool: string) => boolean;
  private readonly purpose: ReadPurpose;
  private readonly onRefused: ((tool: string, args: Record<string, string>) => void) | undefined;

  constructor(
    private readonly client: GraphClient,
    private readonly runbooks: () => Promise<Runbook[]>,
    private readonly onCall?: ReadCallHook,
    options: ReaderOptions & { purpose?: ReadPurpose; cache?: Map<string, Promise<unknown>> } = {},
  ) {
    this.allowed = options.allowed ?? (() => true);
    this.purpose = options.purpose ?? 'diagnosis';
    this.onRefused = options.onRefused;
    this.cache = options.cache ?? new Map();
  }

  /**
   * The same reads without the policy check, for resolving the names of a write step the policies
   * allow (the step's own lookups, recorded as such). What diagnosis already read is reused.
   */
  forResolving(): M365DiagnosisReader {
    return new M365DiagnosisReader(this.client, this.runbooks, this.onCall, { purpose: 'resolve', cache: this.cache });
  }

  getUser(upn: string): Promise<DirectoryUser | null> {
    return this.read('m365.get_user', { user: upn }, () => this.client.getUserByUpnOrMail(upn));
  }

  findUsers(query: string): Promise<DirectoryUser[]> {
    if (query.trim() === '') return Promise.resolve([]);
    return this.read('m365.find_user', { query }, () => this.client.findUsers(query));
  }

  async getManager(upn: string): Promise<DirectoryUser | null> {
    const user = await this.requireUser(upn);
    return this.read('m365.get_manager', { user: upn }, () => this.client.getManager(user.id));
  }

  async listUserGroups(upn: string): Promise<DirectoryGroup[]> {
    const user = await this.requireUser(upn);
    return this.read('m365.list_user_groups', { user: upn }, () => this.client.listUserGroups(user.id));
  }

  async listUserLicenses(upn: string): Promise<string[]> {
    const user = await this.requireUser(upn);
    return this.read('m365.list_user_licenses', { user: upn }, () => this.client.listUserLicenses(user.id));
  }

  listLicenses(): Promise<SubscribedSku[]> {
    return this.read('m365.list_licenses', {}, () => this.client.listSubscribedSkus());
  }

  async listAuthMethods(upn: string): Promise<AuthMethod[]> {
    const user = await this.requireUser(upn);
    return this.read('m365.list_auth_methods', { user: upn }, () => this.client.listAuthMethods(user.id));
  }

  /**
   * Graph's group search matches words by prefix ("Zendesk" finds "SG-App-Zendesk", "desk" does
   * not). The interface promises "contains", so when the search finds nothing the tenant's groups
   * are listed and matched by substring; an empty query lists every group.
   */
  findGroups(query: string): Promise<DirectoryGroup[]> {
    return this.read('m365.find_group', { query }, async () => {
      const text = query.trim();
      if (text === '') return this.client.listGroups();
      const found = await this.client.findGroups(text);
      if (found.length > 0) return found;
      const needle = text.toLowerCase();
      return (await this.client.listGroups()).filter((g) =>
        [g.displayName, g.mail, g.description].some((field) => field?.toLowerCase().includes(needle)),
      );
    });
  }

  listRunbooks(): Promise<Runbook[]> {
    return this.runbooks();
  }

  /**
   * The user the question is about; asking about someone who does not exist is the caller's mistake.
   * Finding the user's object id is part of the asking read: with `m365.get_user` disabled, the id is
   * looked up on its own, and the profile is neither recorded nor handed to the planner.
   */
  private async requireUser(upn: string): Promise<DirectoryUser> {
    const user = this.allowed('m365.get_user')
      ? await this.getUser(upn)
      : await this.cached(`id-of?user=${upn.trim().toLowerCase()}`, () => this.client.getUserByUpnOrMail(upn));
    if (!user) throw new DeskhandError('not_found', `no user ${upn} in this Microsoft 365 tenant`);
    return user;
  }

  /**
   * One Graph read per tool and arguments (UPNs compare case-insensitively); failures are not cached.
   * A tool the policies disable is refused before anything is called or looked up in the cache.
   */
  private read<T>(tool: string, args: Record<string, string>, load: () => Promise<T>): Promise<T> {
    if (!this.allowed(tool)) {
      this.onRefused?.(tool, { ...args });
      return Promise.reject(new ToolDisabledError(tool));
    }
    const key = cacheKey(tool, args);
    const cached = this.cache.get(key);
    if (cached) return cached as Promise<T>;
    const pending = this.loadAndReport(tool, args, load, key);
    this.cache.set(key, pending);
    return pending;
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const known = this.cache.get(key);
    if (known) return known as Promise<T>;
    const pending = load().catch((error: unknown) => {
      this.cache.delete(key);
      throw error;
    });
    this.cache.set(key, pending);
    return pending;
  }

  private async loadAndReport<T>(tool: string, args: Record<string, string>, load: () => Promise<T>, key: string): Promise<T> {
    let result: T;
    try {
      result = await load();
    } catch (error) {
      this.cache.delete(key);
      this.onCall?.(tool, { ...args }, { error: describeError(error) }, this.purpose);
      throw error;
    }
    this.onCall?.(tool, { ...args }, result, this.purpose);
    return result;
  }
}

function cacheKey(tool: string, args: Record<string, string>): string {
  const parts = Object.keys(args)
    .sort()
    .map((name) => `${name}=${name === 'user' ? args[name]!.trim().toLowerCase() : args[name]!.trim()}`);
  return `${tool}?${parts.join('&')}`;
}
