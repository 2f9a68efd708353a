import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import type { ClientLink, ClientLinkList } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { useIntegrationKinds } from './integration-kinds.ts';
import { Badge, EmptyState, ErrorNote, Loading } from './ui.tsx';

/**
 * A client's links to the MSP's systems: its company in the PSA, its Microsoft 365 tenant (with the
 * admin consent link of the MSP's multi-tenant app), its documentation organisation. Without its
 * link, the MSP's integration cannot serve the client.
 */
export function ClientLinks(props: { clientId: string; admin: boolean }) {
  const links = useQuery({ queryKey: ['client-links', props.clientId], queryFn: () => api.get<ClientLinkList>(`/api/clients/${encodeURIComponent(props.clientId)}/links`) });
  return (
    <section aria-labelledby="links-heading">
      <h2 id="links-heading">Links to the MSP's systems</h2>
      {links.isPending ? (
        <Loading what="the links" />
      ) : links.error ? (
        <ErrorNote error={links.error} title="The links could not load" />
      ) : links.data.links.length === 0 ? (
        <EmptyState title="Nothing to link">
          <p>None of the MSP's integrations needs a per-client link (a PSA company, a Microsoft 365 tenant, a documentation organisation).</p>
        </EmptyState>
      ) : (
        <div className="link-list">
          {links.data.links.map((link) => (
            <LinkCard key={link.integrationId} clientId={props.clientId} link={link} admin={props.admin} />
          ))}
        </div>
      )}
    </section>
  );
}

function LinkCard(props: { clientId: string; link: ClientLink; admin: boolean }) {
  const { link, clientId } = props;
  const queryClient = useQueryClient();
  const [value, setValue] = useState(link.externalId ?? '');
  const [copied, setCopied] = useState(false);
  useEffect(() => setValue(link.externalId ?? ''), [link.externalId]);
  const path = `/api/clients/${encodeURIComponent(clientId)}/links/${encodeURIComponent(link.integrationId)}`;
  const refresh = () => Promise.all([queryClient.invalidateQueries({ queryKey: ['client-links', clientId] }), queryClient.invalidateQueries({ queryKey: ['integrations'] })]);
  const save = useMutation({ mutationFn: (externalId: string) => api.put<ClientLink>(path, { externalId }), onSuccess: refresh });
  const unlink = useMutation({ mutationFn: () => api.delete<unknown>(path), onSuccess: refresh });
  const inputId = `link-${link.integrationId}`;
  return (
    <div className="card link-card">
      <div className="card-head">
        <h3>{link.integration}</h3>
        {link.externalId ? <Badge tone="ok">Linked</Badge> : <Badge tone="warn">Not linked</Badge>}
      </div>
      {props.admin ? (
        <form
          className="link-form"
          onSubmit={(event) => {
            event.preventDefault();
            save.mutate(value.trim());
          }}
        >
          <label htmlFor={inputId}>{link.label}</label>
          <input id={inputId} type="text" value={value} spellCheck={false} autoComplete="off" onChange={(event) => setValue(event.target.value)} />
          <button type="submit" className="button button-primary" disabled={save.isPending || value.trim() === '' || value.trim() === (link.externalId ?? '')}>
            Save
          </button>
          {link.externalId ? (
            <button type="button" className="button button-danger" disabled={unlink.isPending} onClick={() => unlink.mutate()}>
              Unlink
            </button>
          ) : null}
        </form>
      ) : (
        <p>
          {link.label}: {link.externalId ? <code>{link.externalId}</code> : <span className="muted">not linked</span>}
        </p>
      )}
      <ErrorNote error={save.error ?? unlink.error} title="Not saved" />
      {save.isSuccess && !save.isPending ? (
        <p className="hint" role="status">
          Saved.
        </p>
      ) : null}
      {link.consentUrl ? (
        <div className="consent">
          <p className="hint">
            The client's Microsoft 365 admin opens this link once to consent to the MSP's app in their tenant; until then deskhand cannot reach it.
          </p>
          <div className="consent-row">
            <a className="button" href={link.consentUrl} target="_blank" rel="noreferrer noopener">
              Open the admin consent link
            </a>
            <button
              type="button"
              className="button"
              onClick={async () => {
                try {
                  await navigator.clipboard.writeText(link.consentUrl ?? '');
                  setCopied(true);
                } catch {
                  // No clipboard (an insecure origin): the link is shown below to copy by hand.
                }
              }}
            >
              {copied ? 'Copied' : 'Copy link'}
            </button>
          </div>
          <code className="consent-url">{link.consentUrl}</code>
        </div>
      ) : null}
    </div>
  );
}

/** "Connect this client's own …": the systems a client may connect with its own credentials. */
export function ConnectOwn(props: { clientId: string; clientName: string }) {
  const kinds = useIntegrationKinds();
  if (!kinds.data) return null;
  const own = kinds.data.kinds.filter((kind) => kind.scope === 'client' || kind.clientOverride);
  if (own.length === 0) return null;
  return (
    <section aria-labelledby="own-heading">
      <h2 id="own-heading">{props.clientName}'s own systems</h2>
      <p className="hint">When the client has its own account of a system (its own Microsoft 365 app, its own documentation), connect it for this client only.</p>
      <div className="page-actions">
        {own.map((kind) => (
          <Link key={kind.kind} className="button" to="/integrations/new" search={{ kind: kind.kind, clientId: props.clientId }}>
            Connect this client's own {kind.label}
          </Link>
        ))}
      </div>
    </section>
  );
}
