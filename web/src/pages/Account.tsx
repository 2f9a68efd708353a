import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { ApiToken, ApiTokenCreated, ApiTokenList } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { ROLE_LABEL, useMe } from '../auth.ts';
import { ShownOnce } from '../components/account-shown-once.tsx';
import { useSignOut } from '../components/Layout.tsx';
import { EmptyState, ErrorNote, Field, formatTime, Loading, PageHeader } from '../components/ui.tsx';

/** Your account: who you are, your role, your personal API tokens, sign-out. */
export function AccountPage() {
  const me = useMe();
  const signOut = useSignOut();
  if (!me.data) return <Loading what="your account" />;
  const { user, msp, sessionExpiresAt } = me.data;
  return (
    <>
      <PageHeader
        title="Your account"
        actions={
          <button type="button" className="button" onClick={signOut}>
            Sign out
          </button>
        }
      />
      <div className="grid-2">
        <section className="card" aria-labelledby="who-title">
          <h2 id="who-title">Who you are</h2>
          <dl className="facts">
            <dt>Name</dt>
            <dd>{user.name}</dd>
            <dt>Email</dt>
            <dd className="wrap-anywhere">{user.email}</dd>
            <dt>Role</dt>
            <dd>{ROLE_LABEL[user.role]}</dd>
            <dt>MSP</dt>
            <dd>{msp.name}</dd>
            <dt>This session ends</dt>
            <dd>{sessionExpiresAt ? formatTime(sessionExpiresAt) : 'when the token is revoked'}</dd>
          </dl>
          <p className="hint">An admin of your MSP changes names and roles.</p>
        </section>
        <ApiTokens />
      </div>
    </>
  );
}

function ApiTokens() {
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => api.get<ApiTokenList>('/api/me/tokens') });
  const [name, setName] = useState('');
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const create = useMutation({
    mutationFn: (tokenName: string) => api.post<ApiTokenCreated>('/api/me/tokens', { name: tokenName }),
    onSuccess: async (answer) => {
      setCreated(answer);
      setName('');
      await queryClient.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreated(null);
    create.mutate(name.trim());
  };
  return (
    <section className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Personal API tokens</h2>
      <p className="hint">
        For scripts that call deskhand's API as you, with your role: send <code>Authorization: Bearer &lt;token&gt;</code>. Revoke a token you no longer use.
      </p>
      {created ? (
        <ShownOnce
          label={`API token “${created.token.name}”`}
          value={created.secret}
          warning="Copy it now into your script's secret store. deskhand keeps only a hash of it and will not show it again."
          onDone={() => setCreated(null)}
        />
      ) : (
        <form onSubmit={submit} noValidate className="inline-form">
          <Field id="token-name" label="New token's name" hint="What uses it, e.g. “nightly report”.">
            <input id="token-name" type="text" maxLength={100} value={name} aria-describedby="token-name-hint" onChange={(event) => setName(event.target.value)} />
          </Field>
          <button type="submit" className="button button-primary" disabled={create.isPending || name.trim() === ''}>
            {create.isPending ? 'Creating…' : 'Create token'}
          </button>
        </form>
      )}
      <ErrorNote error={create.error} title="No token created" />
      {tokens.isPending ? <Loading what="your tokens" /> : null}
      <ErrorNote error={tokens.error} title="Your tokens could not be loaded" />
      {tokens.data ? <TokenTable tokens={tokens.data.tokens} /> : null}
    </section>
  );
}

function TokenTable(props: { tokens: ApiToken[] }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<string | null>(null);
  const revoke = useMutation({
    mutationFn: (token: ApiToken) => api.delete<unknown>(`/api/me/tokens/${encodeURIComponent(token.id)}`),
    onSuccess: () => setConfirming(null),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['tokens'] }),
  });
  if (props.tokens.length === 0) return <EmptyState title="No API tokens">Create one above when a script needs to call deskhand as you.</EmptyState>;
  return (
    <>
      <ErrorNote error={revoke.error} title="Not revoked" />
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.tokens.map((token) => (
              <tr key={token.id}>
                <td>{token.name}</td>
                <td>{formatTime(token.createdAt)}</td>
                <td>{token.lastUsedAt ? formatTime(token.lastUsedAt) : 'Never'}</td>
                <td className="actions">
                  {confirming === token.id ? (
                    <fieldset className="confirm">
                      <legend className="visually-hidden">Revoke {token.name}?</legend>
                      <span className="hint">Revoke it? Scripts using it stop working.</span>
                      <button type="button" className="button button-small button-danger" disabled={revoke.isPending} onClick={() => revoke.mutate(token)}>
                        Yes, revoke
                      </button>
                      <button type="button" className="button button-small" onClick={() => setConfirming(null)}>
                        Keep it
                      </button>
                    </fieldset>
                  ) : (
                    <button type="button" className="button button-small" onClick={() => setConfirming(token.id)}>
                      Revoke<span className="visually-hidden"> {token.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
