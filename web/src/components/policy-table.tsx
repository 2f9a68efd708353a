import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { ClientToolPolicyBody, Policy, ToolPolicy, ToolPolicyBody, ToolPolicyList } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { Badge, ErrorNote, formatTime, Loading } from './ui.tsx';

/**
 * The tool policy table of an integration: each tool the integration gives the agent, read or
 * write, and whether the agent may call it on its own (auto), only after an approval
 * (approval_needed, optionally a manager's), or not at all (disabled). On a client's page the same
 * table shows where each policy comes from, and a change there is the client's own override.
 */

export const POLICY_LABEL: Record<Policy, string> = { auto: 'Auto', approval_needed: 'Approval needed', disabled: 'Disabled' };
const SOURCE_LABEL: Record<ToolPolicy['source'], string> = { client: 'Client override', integration: 'MSP policy', default: 'Default' };

export function policiesKey(integrationId: string, clientId?: string) {
  return clientId ? ['policies', 'client', clientId, integrationId] : ['policies', 'integration', integrationId];
}

export function PolicyTable(props: { integrationId: string; clientId?: string; canEdit: boolean; integrationScope: 'msp' | 'client' }) {
  const { integrationId, clientId } = props;
  const path = clientId ? `/api/clients/${encodeURIComponent(clientId)}/policies?integration=${encodeURIComponent(integrationId)}` : `/api/integrations/${encodeURIComponent(integrationId)}/policies`;
  const policies = useQuery({ queryKey: policiesKey(integrationId, clientId), queryFn: () => api.get<ToolPolicyList>(path) });
  if (policies.isPending) return <Loading what="the tool policies" />;
  if (policies.error) return <ErrorNote error={policies.error} title="The tool policies could not load" />;
  // GET /api/clients/:id/policies may answer every integration's tools: keep this one's.
  // The tools that change something first: their policies are the ones an MSP sets; reads are nearly always auto.
  const tools = policies.data.tools.filter((tool) => tool.integrationId === integrationId).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'write' ? -1 : 1));
  if (tools.length === 0) {
    return <p className="note note-info">This integration gives the agent no tool to call: it carries tickets and approval notices, so there is no policy to set.</p>;
  }
  const sourceLabel = (source: ToolPolicy['source']) => (source === 'integration' && props.integrationScope === 'client' ? 'Integration policy' : SOURCE_LABEL[source]);
  return (
    <>
      <PolicyExplainer client={clientId !== undefined} />
      {props.canEdit ? null : <p className="hint">Only an admin changes policies.</p>}
      <div className="table-wrap">
      <table className="table policy-table">
        <caption className="visually-hidden">Tool policies</caption>
        <thead>
          <tr>
            <th scope="col">Tool</th>
            <th scope="col">Kind</th>
            <th scope="col">Policy</th>
            {clientId ? <th scope="col">Source</th> : null}
            <th scope="col">Last change</th>
          </tr>
        </thead>
        <tbody>
          {tools.map((tool) => (
            <PolicyRow key={tool.tool} tool={tool} clientId={clientId} integrationId={integrationId} canEdit={props.canEdit} sourceLabel={sourceLabel(tool.source)} />
          ))}
        </tbody>
      </table>
      </div>
    </>
  );
}

function PolicyRow(props: { tool: ToolPolicy; clientId?: string | undefined; integrationId: string; canEdit: boolean; sourceLabel: string }) {
  const { clientId, integrationId } = props;
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const change = useMutation({
    mutationFn: (body: ClientToolPolicyBody | ToolPolicyBody) =>
      clientId
        ? api.put<ToolPolicy>(`/api/clients/${encodeURIComponent(clientId)}/policies/${encodeURIComponent(tool.tool)}`, body)
        : api.put<ToolPolicy>(`/api/integrations/${encodeURIComponent(integrationId)}/policies/${encodeURIComponent(tool.tool)}`, body),
    onMutate: () => setError(null),
    onError: (cause) => setError(cause),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['policies'] }),
  });
  // While a change is on its way, the row shows it (a select or checkbox that snapped back would look refused).
  const pending = change.isPending && change.variables && change.variables.policy !== 'inherit' ? change.variables : null;
  const tool: ToolPolicy = pending && pending.policy !== 'inherit' ? { ...props.tool, policy: pending.policy, requireManagerApproval: pending.requireManagerApproval ?? false } : props.tool;
  const selectId = `policy-${tool.tool}`;
  const busy = change.isPending;
  return (
    <tr>
      <td>
        <code className="tool-name">{tool.tool}</code>
        {tool.description ? <div className="tool-description">{tool.description}</div> : null}
        {error ? <ErrorNote error={error} title={`${tool.tool} was not changed`} /> : null}
      </td>
      <td className="fit">
        <Badge tone={tool.kind === 'write' ? 'warn' : 'neutral'}>{tool.kind === 'write' ? 'Write' : 'Read'}</Badge>
      </td>
      <td className="policy-cell">
        {props.canEdit ? (
          <div className="policy-controls">
            <select
              id={selectId}
              aria-label={`Policy for ${tool.tool}`}
              value={tool.policy}
              disabled={busy}
              onChange={(event) => {
                const policy = event.target.value as Policy;
                change.mutate({ policy, requireManagerApproval: policy === 'approval_needed' ? tool.requireManagerApproval : false });
              }}
            >
              <option value="auto">{POLICY_LABEL.auto}</option>
              <option value="approval_needed">{POLICY_LABEL.approval_needed}</option>
              <option value="disabled">{POLICY_LABEL.disabled}</option>
            </select>
            {tool.policy === 'approval_needed' ? (
              <label className="check-label">
                <input type="checkbox" aria-label={`Require manager approval for ${tool.tool}`} checked={tool.requireManagerApproval} disabled={busy} onChange={(event) => change.mutate({ policy: 'approval_needed', requireManagerApproval: event.target.checked })} />
                Require manager approval
              </label>
            ) : null}
          </div>
        ) : (
          <span>
            {POLICY_LABEL[tool.policy]}
            {tool.policy === 'approval_needed' && tool.requireManagerApproval ? <span className="muted"> · manager approval required</span> : null}
          </span>
        )}
      </td>
      {clientId ? (
        <td className="source-cell">
          <Badge tone={tool.source === 'client' ? 'info' : 'neutral'}>{props.sourceLabel}</Badge>
          {props.canEdit && tool.source === 'client' ? (
            <button
              type="button"
              className="button revert"
              disabled={busy}
              aria-label={`Use the MSP's policy for ${tool.tool}`}
              onClick={() => change.mutate({ policy: 'inherit', requireManagerApproval: false })}
            >
              Use the MSP's policy
            </button>
          ) : null}
        </td>
      ) : null}
      <td className="last-change">
        {tool.updatedAt ? (
          <>
            <span className="nowrap">{formatTime(tool.updatedAt)}</span>
            {tool.updatedBy ? <div className="muted updated-by">by {tool.updatedBy}</div> : null}
          </>
        ) : (
          <span className="muted">never changed</span>
        )}
      </td>
    </tr>
  );
}

/** When a change takes effect (DESIGN.md): said once above the table. */
function PolicyExplainer(props: { client: boolean }) {
  return (
    <p className="hint policy-explainer">
      <strong>Auto</strong>: the agent calls the tool on its own. <strong>Approval needed</strong>: a technician (or, if required, a manager) approves first.{' '}
      <strong>Disabled</strong>: never called. Loosening a policy applies to the next plan; tightening also applies to plans not yet started.
      {props.client ? " A change here is this client's own override; the MSP's policy stays as it is for every other client." : null}
    </p>
  );
}
