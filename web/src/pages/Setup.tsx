import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import type { OperatingMode, SetupBody, SetupStatus, SignedIn } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { fragmentToken, NewPasswordFields, newPasswordProblem, useSignedIn } from '../components/account-password.tsx';
import { rememberWelcome } from '../components/msp-welcome.tsx';
import { OperatingModeChoice } from '../components/msp-operating-mode.tsx';
import { ErrorNote, Field, Loading } from '../components/ui.tsx';

/**
 * The first run: the one-time link printed in the service's log (/setup#token=…) opens this page,
 * which creates the MSP and its first admin, signed in. The token stays in the fragment, which the
 * browser never sends, so it is in no access log.
 */
export function SetupPage() {
  const [token] = useState(fragmentToken);
  const status = useQuery({ queryKey: ['setup'], queryFn: () => api.get<SetupStatus>('/api/setup'), retry: false });

  if (status.isPending) return <Loading what="the setup" />;
  if (status.error) {
    return (
      <main className="centered account-page">
        <h1>Set up deskhand</h1>
        <ErrorNote error={status.error} title="deskhand could not say whether it needs setting up" />
      </main>
    );
  }
  if (!status.data.needed) {
    return (
      <main className="centered account-page">
        <p className="account-brand">deskhand</p>
        <h1>deskhand is already set up</h1>
        <p>Its MSP exists, so the setup link has no use any more. Sign in with your account; to get one, ask an admin of your MSP for an invitation.</p>
        <p>
          <Link to="/sign-in" search={{}} className="button button-primary">
            Go to sign-in
          </Link>
        </p>
      </main>
    );
  }
  if (!token) {
    return (
      <main className="centered account-page">
        <p className="account-brand">deskhand</p>
        <h1>Set up deskhand</h1>
        <div className="note note-info">
          This page needs the one-time setup link that deskhand printed in its log when it started. It looks like{' '}
          <code className="wrap-anywhere">http://your-host:8080/setup#token=…</code>. Copy the whole link from the log into the address bar.
        </div>
        <p className="hint">Lost it? Restart the service: while no MSP exists, it prints a new link at every start.</p>
      </main>
    );
  }
  return <SetupForm token={token} />;
}

function SetupForm(props: { token: string }) {
  const signedIn = useSignedIn();
  const [mspName, setMspName] = useState('');
  const [mode, setMode] = useState<OperatingMode>('plan');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const problem = newPasswordProblem(password, confirm);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (problem || mspName.trim() === '' || name.trim() === '' || email.trim() === '') return;
    setBusy(true);
    setError(null);
    try {
      const body: SetupBody = { token: props.token, mspName: mspName.trim(), defaultOperatingMode: mode, admin: { name: name.trim(), email: email.trim(), password } };
      const answer = await api.post<SignedIn>('/api/setup', body);
      rememberWelcome();
      await signedIn(answer, '/msp');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const missing = (value: string, what: string) => (tried && value.trim() === '' ? `Enter ${what}.` : null);
  return (
    <main className="centered account-page setup-page">
      <p className="account-brand">deskhand</p>
      <h1>Set up deskhand</h1>
      <p className="subtitle">Create your MSP and its first admin account. You can change all of it later on the MSP page.</p>
      <form className="card" onSubmit={submit} noValidate>
        <h2>Your MSP</h2>
        <Field id="msp-name" label="MSP name" hint="As your technicians and clients know it." error={missing(mspName, "your MSP's name")}>
          <input id="msp-name" type="text" required autoComplete="organization" value={mspName} aria-describedby="msp-name-hint" onChange={(event) => setMspName(event.target.value)} />
        </Field>
        <OperatingModeChoice value={mode} onChange={setMode} legend="Default operating mode" />
        <h2>Your admin account</h2>
        <Field id="admin-name" label="Your name" error={missing(name, 'your name')}>
          <input id="admin-name" type="text" required autoComplete="name" value={name} onChange={(event) => setName(event.target.value)} />
        </Field>
        <Field id="admin-email" label="Email" hint="You sign in with it." error={missing(email, 'your email')}>
          <input id="admin-email" type="email" required autoComplete="username" value={email} aria-describedby="admin-email-hint" onChange={(event) => setEmail(event.target.value)} />
        </Field>
        <NewPasswordFields password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} problem={problem} showProblem={tried} />
        <ErrorNote error={error} title="Setup refused" />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create the MSP and sign in'}
          </button>
        </div>
      </form>
    </main>
  );
}
