import { DeskhandError } from '../../core/errors.ts';

/**
 * A Halo webhook body: one notification (`{id, event, object_id, ticket?, ...}`), or several when
 * Halo batches them (the batched shape is unverified: an array of notifications is accepted). For a
 * ticket event `object_id` is the ticket id; `ticket.id` is read when it is missing.
 */
export interface HaloWebhookEvent {
  event: string;
  ticketId: number;
}

const MAX_EVENTS = 100;

export function parseWebhook(raw: string): HaloWebhookEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new DeskhandError('bad_request', 'The HaloPSA webhook body is not JSON.');
  }
  const list = Array.isArray(json) ? json : [json];
  if (list.length === 0 || list.length > MAX_EVENTS) throw new DeskhandError('bad_request', `The HaloPSA webhook carries ${list.length} notifications (1 to ${MAX_EVENTS} expected).`);
  return list.map((item, index) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw new DeskhandError('bad_request', `The HaloPSA webhook's notification ${index + 1} is not an object.`);
    const n = item as Record<string, unknown>;
    const event = n['event'];
    if (typeof event !== 'string' || event.trim() === '') throw new DeskhandError('bad_request', `The HaloPSA webhook's notification ${index + 1} has no event.`);
    const ticket = n['ticket'] && typeof n['ticket'] === 'object' ? (n['ticket'] as Record<string, unknown>) : undefined;
    const ticketId = positiveInteger(n['object_id']) ?? positiveInteger(ticket?.['id']);
    if (ticketId === undefined) throw new DeskhandError('bad_request', `The HaloPSA webhook's notification ${index + 1} names no ticket (object_id).`);
    return { event: event.trim().slice(0, 200), ticketId };
  });
}

function positiveInteger(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
