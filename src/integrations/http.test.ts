import { afterEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../core/errors.ts';
import { baseUrlProblem, DEFAULT_MAX_RESPONSE_BYTES, HttpClient, type HttpClientOptions, isLoopbackHost } from './http.ts';
import { nonLoopbackAddress, type RecordingServer, startRecordingServer, streamBody } from './outbound-testing.ts';
import type { Transport } from './transport.ts';

/**
 * What the one HTTP client under every integration sends out, against real local HTTP servers:
 * cleartext only on loopback, credentials only to the configured origin (redirects are never
 * followed), and answers no larger than a limit, cut off while they stream in.
 */

const SECRET = 'Bearer outbound-test-secret-token';
const servers: RecordingServer[] = [];

async function server(handler: Parameters<typeof startRecordingServer>[0], host?: string): Promise<RecordingServer> {
  const started = await startRecordingServer(handler, host);
  servers.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(baseUrl: string, options: Partial<HttpClientOptions> = {}): HttpClient {
  return new HttpClient({ system: 'Test system', baseUrl, headers: () => ({ authorization: SECRET, clientId: 'client-id-secret' }), maxInlineWaitMs: 0, ...options });
}

async function rejection(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

function thrownBy(fn: () => unknown): DeskhandError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DeskhandError);
    return error as DeskhandError;
  }
  throw new Error('expected a DeskhandError');
}

const fetchTransport: Transport = (url, init) => fetch(url, init);

describe('base URLs: https, or http on loopback only', () => {
  it('refuses http:// to an address that is not loopback, before connecting to it', async () => {
    const address = nonLoopbackAddress();
    const target = address ? await server((_req, res) => res.end('{}'), address) : undefined;
    const baseUrl = target?.url ?? 'http://deskhand-test.invalid';
    const error = thrownBy(() => client(baseUrl));
    expect(error.code).toBe('config');
    expect(error.message).toMatch(/https:\/\//);
    expect(error.message).toContain('Test system');
    if (target) expect(target.connections).toBe(0);
  });

  it('talks http:// to loopback (127.0.0.0/8, ::1, localhost)', async () => {
    const local = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    const response = await client(local.url).request({ method: 'GET', url: 'ping' });
    expect(response.body).toEqual({ ok: true });
    for (const url of ['http://127.0.0.1:1', 'http://127.9.8.7', 'http://[::1]:8080', 'http://localhost:3000/x', 'http://LOCALHOST']) {
      expect(() => client(url), url).not.toThrow();
    }
  });

  it('refuses look-alikes of loopback, other schemes and URLs with a user name or password, without echoing them', () => {
    for (const url of [
      'http://127.0.0.1.attacker.example',
      'http://localhost.attacker.example',
      'http://0.0.0.0:8080',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data',
      'ftp://127.0.0.1/',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(thrownBy(() => client(url)).code, url).toBe('config');
    }
    const withPassword = thrownBy(() => client('https://admin:pa55word-in-url@psa.example'));
    expect(withPassword.message).toMatch(/user name or password/);
    expect(withPassword.message).not.toContain('pa55word-in-url');
    expect(() => client('https://psa.example/v4_6_release/')).not.toThrow();
  });

  it('names loopback precisely', () => {
    for (const host of ['127.0.0.1', '127.255.255.254', '[::1]', 'localhost', 'LocalHost']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['128.0.0.1', '10.0.0.1', '[::2]', 'localhost.example', '0.0.0.0', '[::ffff:7f00:1]', '']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('in configuration, http:// to loopback needs the development setting', () => {
    expect(baseUrlProblem('https://graph.microsoft.com/v1.0', { developmentLoopback: false })).toBeUndefined();
    expect(baseUrlProblem('http://127.0.0.1:4010', { developmentLoopback: true })).toBeUndefined();
    expect(baseUrlProblem('http://127.0.0.1:4010', { developmentLoopback: false })).toMatch(/developmentLoopback/);
    expect(baseUrlProblem('http://psa.example', { developmentLoopback: true })).toMatch(/https:\/\//);
  });
});

describe('credentials go to the configured origin only', () => {
  it('refuses an absolute URL on another origin: the other server sees nothing', async () => {
    const other = await server((_req, res) => res.end('{}'));
    const home = await server((_req, res) => res.end('{}'));
    const error = await rejection(client(home.url).request({ method: 'GET', url: `${other.url}/steal` }));
    expect(error.message).toMatch(/another/);
    expect(other.requests).toHaveLength(0);
    expect(home.requests).toHaveLength(0);
  });

  for (const [name, transport] of [
    ['node http', undefined],
    ['fetch', fetchTransport],
  ] as const) {
    it(`does not follow a redirect to another host, so it never sees the credentials (${name})`, async () => {
      const other = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}'));
      const home = await server((req, res) => res.writeHead(req.method === 'POST' ? 307 : 302, { location: `${other.url}/collect` }).end());
      const http = client(home.url, transport ? { fetchImpl: transport } : {});
      for (const method of ['GET', 'POST'] as const) {
        const error = await rejection(http.request({ method, url: 'things', json: method === 'POST' ? { a: 1 } : undefined }));
        expect(error.code).toBe('upstream');
        expect(error.message).toMatch(/redirect/);
        expect(error.message).toContain(new URL(other.url).host);
        expect(error.message).not.toContain(SECRET);
      }
      expect(home.requests.map((r) => r.headers.authorization)).toEqual([SECRET, SECRET]);
      expect(other.connections).toBe(0);
      expect(other.requests).toHaveLength(0);
    });
  }

  it('does not follow a redirect on the same origin either: one rule, no exceptions', async () => {
    const home = await server((req, res) => {
      if (req.url === '/moved') return void res.writeHead(301, { location: '/elsewhere' }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const error = await rejection(client(home.url, { fetchImpl: fetchTransport }).request({ method: 'GET', url: 'moved' }));
    expect(error.message).toMatch(/redirect/);
    expect(home.requests.map((r) => r.path)).toEqual(['/moved']);
  });
});

describe('answers are capped in size', () => {
  const MiB = 1024 * 1024;

  it('refuses a body announced larger than the limit, without reading it', async () => {
    const home = await server(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * MiB) });
      await streamBody(res, { totalBytes: 64 * MiB });
      res.destroy();
    });
    const error = await rejection(client(home.url, { maxResponseBytes: MiB }).request({ method: 'GET', url: 'big' }));
    expect(error.code).toBe('upstream');
    expect(error.message).toMatch(/larger than 1 MiB/);
    // Not retried: the same answer would come again.
    expect(home.requests).toHaveLength(1);
    expect(home.bytesSent()).toBeLessThan(16 * MiB);
  });

  it('stops reading a chunked body (no Content-Length) as soon as it passes the limit', async () => {
    let finished = false;
    const home = await server(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      await streamBody(res, { totalBytes: 64 * MiB });
      finished = !res.destroyed;
    });
    const error = await rejection(client(home.url, { maxResponseBytes: MiB }).request({ method: 'GET', url: 'stream' }));
    expect(error.message).toMatch(/larger than 1 MiB/);
    expect(home.requests).toHaveLength(1);
    // The client hung up early: the server could hand over only a fraction of its 64 MiB.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(finished).toBe(false);
    expect(home.bytesSent()).toBeLessThan(16 * MiB);
  });

  it('applies the limit to any transport (fetch), announced or not', async () => {
    const home = await server(async (req, res) => {
      if (req.url === '/announced') res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * MiB) });
      else res.writeHead(200, { 'content-type': 'application/json' });
      await streamBody(res, { totalBytes: 2 * MiB });
    });
    const http = client(home.url, { maxResponseBytes: MiB, fetchImpl: fetchTransport });
    for (const url of ['announced', 'chunked']) {
      expect((await rejection(http.request({ method: 'GET', url }))).message, url).toMatch(/larger than 1 MiB/);
    }
  });

  it('takes 10 MiB by default and refuses one byte more', async () => {
    expect(DEFAULT_MAX_RESPONSE_BYTES).toBe(10 * MiB);
    const home = await server(async (req, res) => {
      const size = req.url === '/at-limit' ? DEFAULT_MAX_RESPONSE_BYTES : DEFAULT_MAX_RESPONSE_BYTES + 1;
      res.writeHead(200, { 'content-type': 'text/plain' });
      await streamBody(res, { totalBytes: size });
    });
    const http = client(home.url);
    expect(((await http.request<string>({ method: 'GET', url: 'at-limit' })).body as string).length).toBe(DEFAULT_MAX_RESPONSE_BYTES);
    expect((await rejection(http.request({ method: 'GET', url: 'over' }))).message).toMatch(/larger than 10 MiB/);
  });
});
