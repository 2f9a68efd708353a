import { useMutation, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import type { ClientDetail, Integration, IntegrationCreateBody, IntegrationKind } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { groupOf, providesLabel, schemaOf, useIntegrationKinds } from '../components/integration-kinds.ts';
import { cleanValues, initialValues, SchemaFields, SecretFields, typedSecrets } from '../components/schema-form.tsx';
import { EmptyState, ErrorNote, Field, Loading, PageHeader } from '../components/ui.tsx';

/**
 * "Connect a system": pick what to connect, then fill in its form, drawn from the system's own
 * settings and secrets schemas. With ?clientId= it is that client's own connection.
 */
export function NewIntegrationPage() {
  const search = useSearch({ strict: false }) as { kind?: string; clientId?: string };
  const me = useMe();
  const kinds = useIntegrationKinds();
  const client = useQuery({
    queryKey: ['client', search.clientId],
    queryFn: () => api.get<ClientDetail>(`/api/clients/${encodeURIComponent(search.clientId ?? '')}`),
    enabled: search.clientId !== undefined,
  });
  const back = search.clientId ? { to: '/clients/$clientId/integrations', params: { clientId: search.clientId }, label: client.data?.name ?? 'The client' } : { to: '/msp/integrations', label: 'MSP integrations' };
  const title = client.data ? `Connect a system for ${client.data.name}` : 'Connect a system';
  if (!can.configure(me.data?.user.role)) {
    return (
      <div>
        <PageHeader title={title} back={back} />
        <EmptyState title="Only an admin connects systems">Ask an admin of your MSP.</EmptyState>
      </div>
    );
  }
  if (kinds.isPending || (search.clientId && client.isPending)) return <Loading what="the systems" />;
  if (kinds.error) return <ErrorNote error={kinds.error} title="The systems could not load" />;
  if (client.error) return <ErrorNote error={client.error} title="The client could not load" />;
  const available = kinds.data.kinds.filter((k) => (search.clientId ? k.scope === 'client' || k.clientOverride : true));
  const kind = available.find((k) => k.kind === search.kind);
  return (
    <div>
      <PageHeader title={title} back={back} subtitle={search.clientId ? "With the client's own credentials, used for this client only." : 'For the MSP: used for every client it links.'} />
      {kind ? <ConnectForm kind={kind} clientId={search.clientId} /> : <KindPicker kinds={available} clientId={search.clientId} />}
    </div>
  );
}

function KindPicker(props: { kinds: IntegrationKind[]; clientId?: string | undefined }) {
  if (props.kinds.length === 0) return <EmptyState title="No system to connect">This deskhand has no integration module for this.</EmptyState>;
  const groups = new Map<string, IntegrationKind[]>();
  for (const kind of props.kinds) groups.set(groupOf(kind), [...(groups.get(groupOf(kind)) ?? []), kind]);
  return (
    <div className="kind-groups">
      {[...groups].map(([group, kinds]) => (
        <section key={group} aria-labelledby={`group-${group}`}>
          <h2 id={`group-${group}`}>{group}</h2>
          <ul className="kind-list">
            {kinds.map((kind) => (
              <li key={kind.kind}>
                <Link className="kind-card" to="/integrations/new" search={{ kind: kind.kind, clientId: props.clientId }}>
                  <strong>{kind.label}</strong>
                  <span className="muted small">
                    {kind.provides.map(providesLabel).join(' · ')}
                    {kind.scope === 'client' ? ' · per client' : ''}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

function ConnectForm(props: { kind: IntegrationKind; clientId?: string | undefined }) {
  const { kind } = props;
  const navigate = useNavigate();
  const settingsSchema = schemaOf(kind, 'settings');
  const secretsSchema = schemaOf(kind, 'secrets');
  const [name, setName] = useState(kind.label);
  const [settings, setSettings] = useState<Record<string, unknown>>(() => initialValues(settingsSchema));
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  useEffect(() => {
    setName(kind.label);
    setSettings(initialValues(settingsSchema));
    setSecrets({});
  }, [kind, settingsSchema]);
  const create = useMutation({
    mutationFn: (body: IntegrationCreateBody) => api.post<Integration>('/api/integrations', body),
    onSuccess: async (integration) => {
      if (props.clientId) await navigate({ to: '/clients/$clientId/integrations/$integrationId', params: { clientId: props.clientId, integrationId: integration.id } });
      else await navigate({ to: '/integrations/$integrationId', params: { integrationId: integration.id } });
    },
  });
  return (
    <form
      className="card connect-form"
      aria-labelledby="connect-heading"
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate({ kind: kind.kind, name, clientId: props.clientId ?? null, settings: cleanValues(settingsSchema, settings), secrets: typedSecrets(secrets) });
      }}
    >
      <div className="card-head">
        <h2 id="connect-heading">{kind.label}</h2>
        <Link to="/integrations/new" search={{ clientId: props.clientId }}>
          Pick another system
        </Link>
      </div>
      <p className="hint">
        Fields marked <span aria-hidden="true">*</span> (required) must be filled in. Secrets are stored encrypted and never shown again.
      </p>
      <Field id="connect-name" label="Name" hint="How this connection is called in the dashboard and the audit log.">
        <input id="connect-name" type="text" required value={name} onChange={(event) => setName(event.target.value)} />
      </Field>
      <fieldset>
        <legend>Settings</legend>
        <SchemaFields schema={settingsSchema} values={settings} onChange={setSettings} idPrefix="connect-setting" />
      </fieldset>
      <fieldset>
        <legend>Secrets</legend>
        <SecretFields schema={secretsSchema} values={secrets} onChange={setSecrets} idPrefix="connect-secret" />
      </fieldset>
      <ErrorNote error={create.error} title="Not connected" />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          {create.isPending ? 'Connecting…' : 'Connect'}
        </button>
        <span className="hint">Next: Test connection on its page.</span>
      </div>
    </form>
  );
}
