import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { createElement, useEffect, useState } from 'react';

/**
 * The query keys of the pages that live updates refresh. Pages build their keys here, so that an
 * event invalidates exactly what shows it: each key starts with the name an event invalidates
 * (`['requests']` covers every filtered list, `['request', id]` one story).
 */
export const queryKeys = {
  requests: (filters?: Record<string, unknown>) => (filters === undefined ? (['requests'] as const) : (['requests', filters] as const)),
  request: (id: string) => ['request', id] as const,
  approvals: (filters?: Record<string, unknown>) => (filters === undefined ? (['approvals'] as const) : (['approvals', filters] as const)),
  approval: (id: string) => ['approval', id] as const,
  audit: (filters?: Record<string, unknown>) => (filters === undefined ? (['audit'] as const) : (['audit', filters] as const)),
  clients: () => ['clients'] as const,
  client: (id: string) => ['client', id] as const,
};

/** An event of `GET /api/events` (src/api/events.ts): ids and states only. */
export type LiveEvent =
  | { type: 'connected' }
  | { type: 'resync' }
  | { type: 'request'; id: string; state: string; outcome: string | null; clientId: string | null }
  | { type: 'approval'; id: string; requestId: string; status: string }
  | { type: 'step'; id: string; requestId: string; stepIndex: number; status: string }
  | { type: 'audit'; seq: number; requestId: string | null };

/** What each event makes stale. */
export function invalidateFor(queryClient: QueryClient, event: LiveEvent): void {
  const stale = (queryKey: readonly unknown[]) => void queryClient.invalidateQueries({ queryKey });
  switch (event.type) {
    case 'request':
      stale(queryKeys.requests());
      stale(queryKeys.request(event.id));
      stale(queryKeys.clients());
      // A client's page is keyed by the id or the slug in its URL: every client's detail is refreshed.
      stale(['client']);
      break;
    case 'approval':
      stale(queryKeys.approvals());
      stale(queryKeys.approval(event.id));
      stale(queryKeys.request(event.requestId));
      break;
    case 'step':
      stale(queryKeys.request(event.requestId));
      break;
    case 'audit':
      stale(queryKeys.audit());
      break;
    case 'resync':
      // Events were missed while the server's own connection was down: everything live is stale.
      for (const key of [queryKeys.requests(), ['request'], queryKeys.approvals(), ['approval'], queryKeys.audit(), queryKeys.clients(), ['client']]) stale(key);
      break;
    case 'connected':
      break;
  }
}

/**
 * Live updates for the signed-in pages (mounted once, in the layout): an EventSource on
 * /api/events whose events invalidate the queries that show what changed. Returns whether the
 * stream is down (the layout then says so). The browser reconnects by itself (the server's
 * `retry: 3000`); after a drop, everything live is refreshed once it is back, since events were missed.
 */
export function useLiveEvents(): { paused: boolean } {
  const queryClient = useQueryClient();
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let dropped = false;
    let stopped = false;
    const open = () => {
      source = new EventSource('/api/events');
      source.onmessage = (message) => {
        let event: LiveEvent;
        try {
          event = JSON.parse(message.data) as LiveEvent;
        } catch {
          return;
        }
        if (event.type === 'connected') {
          setPaused(false);
          if (dropped) invalidateFor(queryClient, { type: 'resync' });
          dropped = false;
          return;
        }
        invalidateFor(queryClient, event);
      };
      source.onerror = () => {
        dropped = true;
        setPaused(true);
        // The browser retries by itself while the answer was a stream; an error answer (a 401, a
        // 503, a refused connection in some browsers) closes it for good: open a new one.
        if (source?.readyState === EventSource.CLOSED && !stopped) {
          source.close();
          retry = setTimeout(open, 3_000);
        }
      };
    };
    open();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      source?.close();
    };
  }, [queryClient]);
  return { paused };
}

/**
 * Live updates and their banner, in the layout: a polite status region, always present so that
 * screen readers announce it, which says so while the stream is down.
 */
export function LiveUpdates() {
  const { paused } = useLiveEvents();
  return createElement('div', { role: 'status', className: paused ? 'live-banner live-banner-paused' : 'live-banner' }, paused ? 'Live updates paused — reconnecting…' : null);
}
