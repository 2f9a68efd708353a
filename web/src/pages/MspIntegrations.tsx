import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import type { IntegrationList } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { EmptyState, ErrorNote, HealthBadge, Loading } from '../components/ui.tsx';

/** The MSP's Integrations tab: every system connected, the MSP's and its clients' own, with health. */
export function MspIntegrationsTab() {
  const me = useMe();
  const admin = can.configure(me.data?.user.role);
  const integrations = useQuery({ queryKey: ['integrations', 'msp'], queryFn: () => api.get<IntegrationList>('/api/integrations') });
  return (
    <div>
      <div className="section-head">
        <h2>Integrations</h2>
        {admin ? (
          <Link className="button button-primary" to="/integrations/new">
            Connect a system
          </Link>
        ) : null}
      </div>
      <p className="hint">The systems deskhand works through: the PSA its tickets come from, Microsoft 365, documentation. Open one for its health, settings and tool policies.</p>
      {integrations.isPending ? (
        <Loading what="the integrations" />
      ) : integrations.error ? (
        <ErrorNote error={integrations.error} title="The integrations could not load" />
      ) : integrations.data.integrations.length === 0 ? (
        <EmptyState title="Nothing connected yet">
          <p>
            Start with your PSA (ConnectWise, Autotask or HaloPSA): its tickets become deskhand's requests and its companies your clients. Then Microsoft 365.
            {admin ? null : ' An admin connects systems.'}
          </p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Integrations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">System</th>
                <th scope="col">Scope</th>
                <th scope="col">Health</th>
                <th scope="col">Enabled</th>
              </tr>
            </thead>
            <tbody>
              {integrations.data.integrations.map((integration) => (
                <tr key={integration.id}>
                  <td>
                    <Link to="/integrations/$integrationId" params={{ integrationId: integration.id }}>
                      {integration.name}
                    </Link>
                  </td>
                  <td>{integration.label}</td>
                  <td>
                    {integration.scope === 'msp' ? (
                      'MSP'
                    ) : integration.client ? (
                      <>
                        <Link to="/clients/$clientId" params={{ clientId: integration.client.id }}>
                          {integration.client.name}
                        </Link>
                        's own
                      </>
                    ) : (
                      "A client's own"
                    )}
                  </td>
                  <td>
                    <HealthBadge status={integration.health.status} />
                    {integration.health.status === 'unhealthy' && integration.health.lastError ? (
                      <div className="muted small truncate" title={integration.health.lastError}>
                        {integration.health.lastError}
                      </div>
                    ) : null}
                  </td>
                  <td>{integration.enabled ? 'Yes' : <span className="badge badge-warn">Disabled</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
