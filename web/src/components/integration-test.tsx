import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { DoctorCheck, TestConnectionResult } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { Badge, ErrorNote } from './ui.tsx';

/**
 * *Test connection*: the integration module's doctor, run now against the system (reads only), and
 * its answer as the module gives it: each check with what it found and, for a failure, the fix;
 * then each tool the agent would call through it, ready or missing a permission.
 */
export function TestConnection(props: { integrationId: string }) {
  const queryClient = useQueryClient();
  const test = useMutation({
    mutationFn: () => api.post<TestConnectionResult>(`/api/integrations/${encodeURIComponent(props.integrationId)}/test`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['integrations'] }),
  });
  const result = test.data;
  const shown = new Set((result?.integration.checks ?? []).filter((check) => !check.ok).map(sameCheck));
  return (
    <section className="card" aria-labelledby="test-heading">
      <div className="card-head">
        <h2 id="test-heading">Test connection</h2>
        <button type="button" className="button button-primary" disabled={test.isPending} onClick={() => test.mutate()}>
          {test.isPending ? 'Testing…' : 'Test connection'}
        </button>
      </div>
      <p className="hint">Calls the system now with the stored credentials (reads only) and checks each permission the agent's tools need.</p>
      <ErrorNote error={test.error} title="The test could not run" />
      {result ? (
        <div className="test-result" role="status" aria-live="polite">
          {result.ok ? (
            <div className="note note-ok">
              <strong>Connected.</strong> Every check passed.
            </div>
          ) : !result.integration.checked ? (
            <div className="note note-info">This system has no check to run: it is listed, not tested.</div>
          ) : (
            <div className="note note-error">
              <strong>The connection has problems.</strong> The failed checks below say what to fix.
            </div>
          )}
          {result.integration.checks.length > 0 ? (
            <ul className="check-list" aria-label="Checks">
              {result.integration.checks.map((check) => (
                <CheckItem key={`${check.name}: ${check.detail}`} check={check} />
              ))}
            </ul>
          ) : null}
          {result.tools.length > 0 ? (
            <>
              <h3>Tools</h3>
              <ul className="check-list" aria-label="Tools">
                {result.tools.map((tool) => (
                  <li key={`${tool.tool}-${tool.integrationId}`} className="check-item">
                    <Badge tone={tool.status === 'ok' ? 'ok' : 'bad'}>{tool.status === 'ok' ? 'OK' : tool.status === 'missing' ? 'Missing' : 'Error'}</Badge> <code>{tool.tool}</code>
                    {tool.client ? <span className="muted"> · {tool.client}</span> : null}
                    {tool.missing.length > 0 ? (
                      <ul className="check-sublist">
                        {tool.missing.map((check) =>
                          // A failure already listed above (the sign-in every tool needs) is named, not repeated.
                          shown.has(sameCheck(check)) ? (
                            <li key={`${check.name}: ${check.detail}`} className="check-item muted">
                              {check.name}: failed, see above
                            </li>
                          ) : (
                            <CheckItem key={`${check.name}: ${check.detail}`} check={check} />
                          ),
                        )}
                      </ul>
                    ) : null}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

/** Two checks are the same failure when they say the same after their name's own qualifiers. */
function sameCheck(check: DoctorCheck): string {
  return check.detail.replace(/\s+/g, ' ').trim();
}

function CheckItem(props: { check: DoctorCheck }) {
  const { check } = props;
  return (
    <li className="check-item">
      <Badge tone={check.ok ? 'ok' : 'bad'}>{check.ok ? 'OK' : 'Failed'}</Badge> <strong>{check.name}</strong>
      <span className="check-detail">: {check.detail}</span>
      {!check.ok && check.fix ? (
        <div className="check-fix">
          <strong>Fix:</strong> {check.fix}
        </div>
      ) : null}
    </li>
  );
}
