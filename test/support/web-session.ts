/**
 * A browser's side of the API over real HTTP: the cookies it keeps (session, CSRF secret) and the
 * CSRF token it sends with changes, as the dashboard does. `bearer` calls as a script with an API token.
 */
export class WebSession {
  private cookies = new Map<string, string>();
  csrfToken: string | null = null;

  constructor(
    readonly baseUrl: string,
    readonly bearer: string | null = null,
  ) {}

  /** The Cookie header this browser sends now. */
  get cookie(): string {
    return [...this.cookies.entries()].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.bearer) headers['authorization'] = `Bearer ${this.bearer}`;
    else if (this.cookies.size > 0) headers['cookie'] = this.cookie;
    if (this.csrfToken && method !== 'GET') headers['x-csrf-token'] = this.csrfToken;
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const answer = parsed as { csrfToken?: unknown };
    if (response.ok && typeof answer === 'object' && answer !== null && typeof answer.csrfToken === 'string' && answer.csrfToken) this.csrfToken = answer.csrfToken;
    return { status: response.status, body: parsed as T };
  }

  async signIn(email: string, password: string): Promise<number> {
    return (await this.call('POST', '/api/session', { email, password })).status;
  }
}

/** The token in a link's fragment (`...#token=<token>`). */
export function tokenOf(link: string): string {
  const token = new URL(link).hash.replace(/^#token=/, '');
  if (!token) throw new Error('the link has no token');
  return token;
}
