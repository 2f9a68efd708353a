import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, type ReactNode, useState } from 'react';
import type { InviteAcceptBody, InviteInspection, SignedIn } from '../../../src/api/contract.ts';
import { ApiError, api } from '../api.ts';
import { fragmentToken, NewPasswordFields, newPasswordProblem, useSignedIn } from '../components/account-password.tsx';
import { ROLE_LABEL } from '../auth.ts';
import { ErrorNote, formatTime, Loading } from '../components/ui.tsx';

/**
 * An invitation's link (/invite#token=…, shown once to the admin who invited): says who it is for,
 * in which MSP and with which role, and lets that person choose a password, which signs them in.
 */
export function InvitePage() {
  const [token] = useState(fragmentToken);
  const invitation = useQuery({
    queryKey: ['invitation', token],
    queryFn: () => api.post<InviteInspection>('/api/invites/inspect', { token }),
    enabled: token !== null,
    retry: false,
    staleTime: Number.POSITIVE_INFINITY,
  });

  if (!token) {
    return (
      <Frame>
        <div className="note note-info">
          This page opens from the invitation link an admin of your MSP sent you. It looks like <code className="wrap-anywhere">https://your-deskhand/invite#token=…</code>: open
          the whole link.
        </div>
      </Frame>
    );
  }
  if (invitation.isPending) return <Loading what="the invitation" />;
  if (invitation.error) {
    const unusable = invitation.error instanceof ApiError && [400, 404, 410].includes(invitation.error.status);
    return (
      <Frame>
        {unusable ? (
          <div className="note note-error" role="alert">
            This invitation link does not work any more: it was used already, it expired, or the admin withdrew it. Ask an admin of your MSP for a new invitation.
          </div>
        ) : (
          <ErrorNote error={invitation.error} title="The invitation could not be read" />
        )}
        <p>
          Already have an account?{' '}
          <Link to="/sign-in" search={{}}>
            Sign in
          </Link>
        </p>
      </Frame>
    );
  }
  return <AcceptForm token={token} invitation={invitation.data} />;
}

function Frame(props: { children: ReactNode }) {
  return (
    <main className="centered account-page">
      <p className="account-brand">deskhand</p>
      <h1>Accept the invitation</h1>
      {props.children}
    </main>
  );
}

function AcceptForm(props: { token: string; invitation: InviteInspection }) {
  const { invitation } = props;
  const signedIn = useSignedIn();
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const problem = newPasswordProblem(password, confirm);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (problem) return;
    setBusy(true);
    setError(null);
    try {
      const body: InviteAcceptBody = { token: props.token, password };
      await signedIn(await api.post<SignedIn>('/api/invites/accept', body), '/clients');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Frame>
      <dl className="facts card">
        <dt>MSP</dt>
        <dd>{invitation.mspName}</dd>
        <dt>Name</dt>
        <dd>{invitation.name}</dd>
        <dt>Email</dt>
        <dd className="wrap-anywhere">{invitation.email}</dd>
        <dt>Role</dt>
        <dd>{ROLE_LABEL[invitation.role]}</dd>
        <dt>Link works until</dt>
        <dd>{formatTime(invitation.expiresAt)}</dd>
      </dl>
      <form className="card" onSubmit={submit} noValidate>
        <p className="hint">Choose the password you will sign in with, as {invitation.email}.</p>
        {/* The email for the browser's password manager, which saves the pair. */}
        <input type="email" name="username" autoComplete="username" value={invitation.email} readOnly hidden />
        <NewPasswordFields password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} problem={problem} showProblem={tried} />
        <ErrorNote error={error} title="Not accepted" />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Set the password and sign in'}
          </button>
        </div>
      </form>
    </Frame>
  );
}
