import { describe, expect, it } from 'vitest';
import { DeskhandError } from '../core/errors.ts';
import { isTransientFailure } from './failures.ts';

describe('isTransientFailure: only errors known to be transient are retried', () => {
  it('retries what an outside system marked retryable, and nothing else it said', () => {
    expect(isTransientFailure(new DeskhandError('upstream_retryable', 'Graph: HTTP 503'))).toBe(true);
    expect(isTransientFailure(new DeskhandError('upstream', 'Graph: HTTP 403 Authorization_RequestDenied'))).toBe(false);
    expect(isTransientFailure(new DeskhandError('config', 'wrong client secret'))).toBe(false);
  });

  it('retries a database that was briefly away or chose this transaction as a victim', () => {
    const withCode = (code: string) => Object.assign(new Error('database error'), { code });
    for (const code of ['40001', '40P01', '57P01', '08006', '08003', '53300', 'ECONNRESET', 'ECONNREFUSED']) {
      expect(isTransientFailure(withCode(code)), code).toBe(true);
    }
    expect(isTransientFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('does not retry bugs, constraint violations or unknown values', () => {
    expect(isTransientFailure(new TypeError("Cannot read properties of undefined (reading 'groups')"))).toBe(false);
    expect(isTransientFailure(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isTransientFailure(Object.assign(new Error('null value in column'), { code: '23502' }))).toBe(false);
    expect(isTransientFailure('a string')).toBe(false);
    expect(isTransientFailure(undefined)).toBe(false);
  });
});
