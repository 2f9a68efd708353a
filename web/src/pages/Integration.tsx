import { useQuery } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import type { ClientDetail, Integration } from '../../../src/api/contract.ts';
import { ApiError, api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { ImportClients } from '../components/integration-import.tsx';
import { providesLabel } from '../components/integration-kinds.ts';
import { IntegrationSettings } from '../components/integration-settings.tsx';
import { TestConnection } from '../components/integration-test.tsx';
import { PolicyTable } from '../components/policy-table.tsx';
import { Badge, ErrorNote, formatTime, HealthBadge, Loading, NotFound, PageHeader } from '../components/ui.tsx';

/**
 * An integration's page, from the MSP's Integrations tab (/integrations/:id) or from a client's
 * (/clients/:clientId/integrations/:id, which shows that client's policies and overrides): its
 * health, Test connection, its settings, a PSA's import, and the tool policy table.
 */
export function IntegrationPage() {
  const params = useParams({ strict: false }) as { integrationId: string; clientId?: string };
  const { integrationId, clientId } = params;
  const me = useMe();
  const role = me.data?.user.role;
  const integration = useQuery({ queryKey: ['integrations', 'one', integrationId], queryFn: () => api.get<Integration>(`/api/integrations/${encodeURIComponent(integrationId)}`) });
  const client = useQuery({
    queryKey: ['client', clientId],
    queryFn: () => api.get<ClientDetail>(`/api/clients/${encodeURIComponent(clientId ?? '')}`),
    enabled: clientId !== undefined,
  });
  if (integration.isPending || (clientId !== undefined && client.isPending)) return <Loading what="the integration" />;
  const failed = integration.error ?? client.error;
  if (failed instanceof ApiError && (failed.status === 404 || failed.status === 400)) return <NotFound />;
  if (failed || !integration.data) return <ErrorNote error={failed} title="The integration could not load" />;
  const data = integration.data;
  const forClient = client.data;
  // A client's own integration belongs to that client only: reached through another client's URL, it is not there.
  if (forClient && data.client && data.client.id !== forClient.id) return <NotFound />;
  const admin = can.configure(role);
  const isPsa = data.provides.includes('ticket') && data.scope === 'msp';
  const back = forClient ? { to: '/clients/$clientId/integrations', params: { clientId: forClient.id }, label: forClient.name } : { to: '/msp/integrations', label: 'MSP integrations' };

  return (
    <div className="integration-page">
      <PageHeader
        title={data.name}
        back={back}
        subtitle={
          <>
            {data.label} · {data.scope === 'msp' ? 'for every client of the MSP' : `${data.client?.name ?? 'a client'}'s own`}
            {forClient ? ` · policies for ${forClient.name}` : ''}
          </>
        }
        actions={
          <>
            <HealthBadge status={data.health.status} />
            {data.enabled ? null : <Badge tone="warn">Disabled</Badge>}
          </>
        }
      />
      <div className="integration-grid">
        <section className="card" aria-labelledby="health-heading">
          <h2 id="health-heading">Health</h2>
          <dl className="details-list">
            <dt>Status</dt>
            <dd>
              <HealthBadge status={data.health.status} />
            </dd>
            <dt>Last checked</dt>
            <dd>
              {formatTime(data.health.checkedAt)}
              {data.health.checkedBy ? <span className="muted"> ({data.health.checkedBy === 'doctor' ? 'Test connection' : 'live traffic'})</span> : null}
            </dd>
            <dt>Last success</dt>
            <dd>{formatTime(data.health.lastSuccessAt)}</dd>
            <dt>Provides</dt>
            <dd>{data.provides.map(providesLabel).join(', ') || '—'}</dd>
          </dl>
          {data.health.lastError ? (
            // Kept after a later success: then it is history, not an alarm.
            <div className={`note ${data.health.status === 'unhealthy' ? 'note-error' : 'note-info'}`}>
              <strong>{data.health.status === 'unhealthy' ? 'Last error' : 'Earlier error, since resolved'}</strong> ({formatTime(data.health.lastErrorAt)}): {data.health.lastError}
            </div>
          ) : null}
        </section>
        {admin ? <TestConnection integrationId={data.id} /> : null}
      </div>

      {/* A PSA's own work here is importing its companies: before its (tool-less) policies. */}
      {admin && isPsa && !forClient ? <ImportClients integrationId={data.id} /> : null}

      <section aria-labelledby="policies-heading" className="policies-section">
        <h2 id="policies-heading">Tool policies{forClient ? ` for ${forClient.name}` : ''}</h2>
        <PolicyTable integrationId={data.id} clientId={forClient?.id} canEdit={admin} integrationScope={data.scope} />
      </section>

      {admin ? <IntegrationSettings integrationId={data.id} /> : null}
    </div>
  );
}
