import { describe, expect, it } from 'vitest';
import { callbackUrl, matchSecretSegment, oldFormCallbackUrl } from './callback-url.ts';

describe('the callback URL', () => {
  it('ends in a query parameter that takes the appended record id, after the whole secret', () => {
    expect(callbackUrl('https://deskhand.example/', 'connectwise', 'i-1', 's3cret')).toBe('https://deskhand.example/webhooks/connectwise/i-1/s3cret?recordId=');
    expect(oldFormCallbackUrl('https://deskhand.example', 'connectwise', 'i-1', 's3cret')).toBe('https://deskhand.example/webhooks/connectwise/i-1/s3cret');
    const called = new URL(`${callbackUrl('https://deskhand.example', 'connectwise', 'i-1', 's3cret')}57937`);
    expect(called.pathname.split('/').at(-1)).toBe('s3cret');
    expect(called.searchParams.get('recordId')).toBe('57937');
  });
});

describe('matchSecretSegment', () => {
  const secret = 'Ab3-x_9Q2';
  it('reads the secret, and the secret with a record id appended', () => {
    expect(matchSecretSegment(secret, secret)).toEqual({ match: 'exact' });
    expect(matchSecretSegment(secret, `${secret}57937`)).toEqual({ match: 'appended', recordId: 57937 });
  });

  it('refuses anything else: another secret, a shorter one, one followed by other than digits, an empty secret', () => {
    expect(matchSecretSegment(secret, 'Ab3-x_9Q3')).toEqual({ match: 'none' });
    expect(matchSecretSegment(secret, 'Ab3-x_9Q357937')).toEqual({ match: 'none' });
    expect(matchSecretSegment(secret, 'Ab3-x_9')).toEqual({ match: 'none' });
    expect(matchSecretSegment(secret, `${secret}x1`)).toEqual({ match: 'none' });
    expect(matchSecretSegment(secret, `${secret}1234567890123456`)).toEqual({ match: 'none' });
    expect(matchSecretSegment('', '57937')).toEqual({ match: 'none' });
  });
});
