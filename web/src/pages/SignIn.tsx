import { useQuery } from '@tanstack/react-query';
import { useSearch } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import type { ErrorAnswer, SetupStatus, SignedIn } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { useSignedIn } from '../components/account-password.tsx';
import { Field } from '../components/ui.tsx';
import { ROLE_LABEL } from '../auth.ts';

/**
 * Where to go after signing in: a path of this dashboard only. Anything else (an absolute URL,
 * `//host`, `/\host`, a non-page) goes to the clients: `next` comes from a URL anyone can craft, so
 * it must never send a user to another site (an open redirect).
 */
export function safeNext(next: string | undefined): string {
  const fallback = '/clients';
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  try {
    const url = new URL(next, window.location.origin);
    if (url.origin !== window.location.origin) return fallback;
    if (/^\/(sign-in|setup|invite|api|webhooks)(\/|$)/.test(url.pathname)) return fallback;
    return url.pathname + url.search + url.hash;
  } catch {
    return fallback;
  }
}

/** "45 seconds", "3 minutes", "2 hours": a wait as people say it. */
function wait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
}

/**
 * A refused sign-in explained. The server answers every refusal alike (it never says whether the
 * email exists); a Retry-After on a 401 means the account is locked for a while, a 429 that too many
 * attempts came from here or for this account.
 */
function refusal(status: number, retryAfter: number | null, answer: ErrorAnswer | null): string {
  if (status === 429) {
    return `Too many sign-in attempts${answer?.error.message.includes('address') ? ' from this network' : ' for this account'}. Wait ${wait(retryAfter ?? 60)}, then try again.`;
  }
  if (status === 401 && retryAfter) {
    return `After several wrong passwords this account is locked for a while. Try again in ${wait(retryAfter)}, or ask an admin of your MSP.`;
  }
  if (status === 401) return 'Wrong email or password. Check both (the password is case-sensitive) and try again.';
  if (status === 0) return 'deskhand did not answer: is the service running?';
  return answer?.error.message ?? `The server answered ${status}. Try again in a moment.`;
}

export function SignInPage() {
  const { next } = useSearch({ from: '/sign-in' });
  const signedIn = useSignedIn();
  const setup = useQuery({ queryKey: ['setup'], queryFn: () => api.get<SetupStatus>('/api/setup'), retry: false });
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A plain fetch rather than api.post: the refusal's Retry-After header says how long to wait.
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const response = await fetch('/api/session', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ email: email.trim(), password }),
      });
      const body = (await response.json().catch(() => null)) as (SignedIn & ErrorAnswer) | null;
      if (response.ok && body) {
        await signedIn(body, safeNext(next));
        return;
      }
      const retry = Number(response.headers.get('retry-after'));
      setError(refusal(response.status, Number.isFinite(retry) && retry > 0 ? retry : null, body));
    } catch {
      setError(refusal(0, null, null));
    } finally {
      setBusy(false);
    }
  };

  const demo = setup.data?.demo ?? null;
  return (
    <main className={`centered account-page${demo ? ' sign-in-with-demo' : ''}`}>
      <p className="account-brand">deskhand</p>
      <h1>Sign in</h1>
      <div className="sign-in-columns">
        {setup.data?.needed ? (
          <div className="note note-info">
            <strong>deskhand has no MSP yet.</strong> The first admin sets it up through the one-time setup link that the service printed in its
            log when it started (a line with <code>/setup#token=</code>). Open that link to create your MSP and your admin account.
          </div>
        ) : null}
        <form className="card sign-in-form" onSubmit={submit} noValidate>
          <Field id="email" label="Email">
            <input id="email" type="email" autoComplete="username" required value={email} onChange={(event) => setEmail(event.target.value)} />
          </Field>
          <Field id="password" label="Password">
            <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(event) => setPassword(event.target.value)} />
          </Field>
          {error ? (
            <div className="note note-error" role="alert">
              {error}
            </div>
          ) : null}
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={busy || email.trim() === '' || password === ''}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </div>
        </form>
        {demo ? (
          <section className="card demo-users" aria-labelledby="demo-users-title">
            <h2 id="demo-users-title">Demo users</h2>
            <p className="hint">
              This deskhand runs the demo world. Every demo user signs in with the password <code>{demo.password}</code>.
            </p>
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">MSP</th>
                    <th scope="col">
                      <span className="visually-hidden">Fill in</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {demo.users.map((user) => (
                    <tr key={user.email}>
                      <td className="mono nowrap">{user.email}</td>
                      <td>{ROLE_LABEL[user.role]}</td>
                      <td>{user.msp}</td>
                      <td>
                        <button
                          type="button"
                          className="button button-small"
                          onClick={() => {
                            setEmail(user.email);
                            setPassword(demo.password);
                            setError(null);
                          }}
                        >
                          Use<span className="visually-hidden"> {user.email}</span>
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        ) : null}
      </div>
    </main>
  );
}
