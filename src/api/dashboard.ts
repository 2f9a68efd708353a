import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The dashboard (web/, built by Vite into dist/web): a single-page app served by this process. Its
 * files are read once at start (a few hundred kilobytes); `/` and every page's URL (`/clients/…`,
 * `/msp/…`: whatever a browser asks for as a page outside /api, /webhooks and the manager links)
 * answer index.html, and the app routes itself. The hashed files under /assets are cached for a year.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface DashboardFiles {
  index: string | null;
  files: Map<string, { body: Buffer; type: string; immutable: boolean }>;
}

/** The built dashboard's files, or an index of null when it has not been built (the service still runs). */
export function loadDashboard(dir = DASHBOARD_DIR): DashboardFiles {
  const files = new Map<string, { body: Buffer; type: string; immutable: boolean }>();
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return { index: null, files };
  const walk = (folder: string, prefix: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else if (name !== 'index.html' || prefix !== '/') {
        files.set(`${prefix}${name}`, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream', immutable: prefix.startsWith('/assets/') });
      }
    }
  };
  walk(dir, '/');
  return { index: readFileSync(indexPath, 'utf8'), files };
}

/** Paths that are never a dashboard page: the API, webhooks and the manager's link pages answer for themselves. */
const NOT_PAGES = /^\/(api|webhooks|approvals\/manager|healthz)(\/|$)/;

/**
 * Answer a GET the router found no route for, when it is the dashboard's: a built file, or a page
 * (a browser asking for HTML). False: the caller answers 404.
 */
export function answerDashboard(dashboard: DashboardFiles, request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?')[0]!;
  if (NOT_PAGES.test(path)) return false;
  const file = dashboard.files.get(path);
  if (file) {
    reply.header('content-type', file.type);
    reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
    reply.send(file.body);
    return true;
  }
  if (path.startsWith('/assets/')) return false;
  const accept = String(request.headers.accept ?? '');
  if (!accept.includes('text/html')) return false;
  sendIndex(dashboard, reply);
  return true;
}

export function sendIndex(dashboard: DashboardFiles, reply: FastifyReply): void {
  reply.header('cache-control', 'no-cache');
  reply.header('content-type', 'text/html; charset=utf-8');
  if (dashboard.index) {
    reply.send(dashboard.index);
    return;
  }
  reply
    .code(503)
    .send(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>deskhand</title></head><body><h1>The dashboard is not built</h1><p>Run <code>npm run build:web</code> (or restart with <code>npm start</code>, which builds it), then reload. The API answers meanwhile: <a href="/api/openapi.json">/api/openapi.json</a>.</p></body></html>',
    );
}
