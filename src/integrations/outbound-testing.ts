import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Real HTTP servers for the tests of what deskhand sends out (src/integrations/http.test.ts,
 * test/security/outbound.test.ts): each records every connection and request it sees, so a test can
 * assert that a server never saw a request, or never saw a credential.
 */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface RecordingServer {
  /** `http://host:port`, without a trailing slash. */
  url: string;
  host: string;
  requests: SeenRequest[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  /** Body bytes the server's sockets accepted (what a client could have read at most). */
  bytesSent(): number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => unknown;

export async function startRecordingServer(handler: Handler, host = '127.0.0.1'): Promise<RecordingServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  let connections = 0;
  let closedBytes = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'))).catch(() => res.destroy());
    });
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => {
      closedBytes += socket.bytesWritten;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    host,
    requests,
    get connections() {
      return connections;
    },
    bytesSent: () => closedBytes + [...sockets].reduce((sum, socket) => sum + socket.bytesWritten, 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Writes `totalBytes` of body in chunks, honouring back-pressure, and stops as soon as the client
 * goes away; `end: false` leaves the response open at the end (a body that never finishes).
 */
export async function streamBody(res: ServerResponse, options: { totalBytes: number; chunkBytes?: number; chunk?: string }): Promise<void> {
  const chunk = Buffer.from((options.chunk ?? 'x').repeat(options.chunkBytes ?? 64 * 1024));
  let written = 0;
  while (written < options.totalBytes && !res.destroyed) {
    const piece = chunk.subarray(0, Math.min(chunk.length, options.totalBytes - written));
    written += piece.length;
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      });
    }
  }
  if (!res.destroyed) res.end();
}

/** An IPv4 address of this machine that is not loopback, when it has one (a container's eth0). */
export function nonLoopbackAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return undefined;
}
