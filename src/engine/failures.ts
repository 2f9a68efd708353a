import { isDeskhandError } from '../core/errors.ts';

/**
 * Which failures are worth trying again. Only errors known to be transient are retried: an outside
 * system that asked us to wait or could not be reached (the HTTP clients mark those retryable), and
 * a database that was briefly unavailable or chose this transaction as a deadlock or serialisation
 * victim. Anything else (a refusal, wrong credentials, a bug) fails the same way again, so the
 * request is handed to a technician at once instead of being retried in silence.
 */
export function isTransientFailure(error: unknown): boolean {
  if (isDeskhandError(error)) return error.retryable;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08') || code.startsWith('53')) return true;
    if (TRANSIENT_SYSTEM_CODES.has(code)) return true;
  }
  // node-postgres reports a connection lost mid-query or a pool that could not connect without a code.
  return TRANSIENT_DRIVER_MESSAGES.some((text) => error.message.includes(text));
}

/** PostgreSQL: deadlock, serialisation failure, lock not available, shutdown and restart. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03', '57014']);

const TRANSIENT_SYSTEM_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const TRANSIENT_DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'the database system is starting up',
  'the database system is shutting down',
  'terminating connection',
];
