import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, Outlet } from '@tanstack/react-router';
import { type FormEvent, useEffect, useState } from 'react';
import type { MspDetail, MspPatchBody, OperatingMode } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { MODE_EXPLAINED, OperatingModeChoice } from '../components/msp-operating-mode.tsx';
import { WelcomeNote } from '../components/msp-welcome.tsx';
import { PlannerPromptCard } from '../components/planner-prompt.tsx';
import { EmptyState, ErrorNote, Field, Loading, PageHeader, SuccessNote, Tabs } from '../components/ui.tsx';

export { MspStatusesTab } from '../components/msp-ticket-statuses.tsx';
export { MspUsersTab } from '../components/msp-users.tsx';

/** The MSP's page: its settings, integrations, users and the PSA's ticket statuses, each a tab (a URL). */
export function MspPage() {
  const me = useMe();
  return (
    <>
      <PageHeader title={me.data?.msp.name ?? 'MSP'} subtitle="Your MSP's settings: what applies to every client unless the client says otherwise." />
      <Tabs
        label="MSP sections"
        tabs={[
          { to: '/msp', label: 'Overview' },
          { to: '/msp/integrations', label: 'Integrations' },
          { to: '/msp/users', label: 'Users' },
          { to: '/msp/statuses', label: 'Ticket statuses' },
          // What the MSP tells the planner is not billing's business (the API refuses it too).
          ...(can.readDetails(me.data?.user.role) ? [{ to: '/msp/planner', label: 'Planner' }] : []),
        ]}
      />
      <Outlet />
    </>
  );
}

const mspQuery = { queryKey: ['msp'], queryFn: () => api.get<MspDetail>('/api/msp') };

/** Overview: the MSP's name and default operating mode (admins change them), and its approval channels. */
export function MspOverviewTab() {
  const me = useMe();
  const msp = useQuery(mspQuery);
  const admin = can.configure(me.data?.user.role);
  if (msp.isPending) return <Loading what="the MSP" />;
  if (msp.error) return <ErrorNote error={msp.error} title="The MSP could not be loaded" />;
  return (
    <>
      <WelcomeNote />
      <div className="grid-2 msp-overview">
        {admin ? <MspSettingsForm msp={msp.data} /> : <MspSettingsRead msp={msp.data} />}
        <ApprovalChannels msp={msp.data} admin={admin} />
      </div>
    </>
  );
}

function MspSettingsRead(props: { msp: MspDetail }) {
  const mode = props.msp.defaultOperatingMode;
  return (
    <section className="card" aria-labelledby="msp-settings-title">
      <h2 id="msp-settings-title">Settings</h2>
      <dl className="facts">
        <dt>MSP name</dt>
        <dd>{props.msp.name}</dd>
        <dt>Default operating mode</dt>
        <dd>
          <strong>{mode === 'plan' ? 'Plan' : 'Execute'}</strong>
          <span className="hint mode-hint">{MODE_EXPLAINED[mode]}</span>
        </dd>
      </dl>
      <p className="hint">Clients set to Inherit run in this mode. Only an admin of your MSP changes these settings.</p>
    </section>
  );
}

function MspSettingsForm(props: { msp: MspDetail }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(props.msp.name);
  const [mode, setMode] = useState<OperatingMode>(props.msp.defaultOperatingMode);
  // A reload of the MSP (another tab, another admin) resets the form to what is saved.
  useEffect(() => {
    setName(props.msp.name);
    setMode(props.msp.defaultOperatingMode);
  }, [props.msp.name, props.msp.defaultOperatingMode]);
  const save = useMutation({
    mutationFn: (body: MspPatchBody) => api.patch<unknown>('/api/msp', body),
    onSuccess: async () => {
      await Promise.all([queryClient.invalidateQueries({ queryKey: ['msp'] }), queryClient.invalidateQueries({ queryKey: ['me'] }), queryClient.invalidateQueries({ queryKey: ['clients'] })]);
    },
  });
  const changed = name.trim() !== props.msp.name || mode !== props.msp.defaultOperatingMode;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const body: MspPatchBody = {};
    if (name.trim() !== props.msp.name) body.name = name.trim();
    if (mode !== props.msp.defaultOperatingMode) body.defaultOperatingMode = mode;
    save.mutate(body);
  };
  return (
    <section className="card" aria-labelledby="msp-settings-title">
      <h2 id="msp-settings-title">Settings</h2>
      <form onSubmit={submit} noValidate>
        <Field id="msp-name" label="MSP name" error={name.trim() === '' ? 'The MSP needs a name.' : null}>
          <input id="msp-name" type="text" required value={name} onChange={(event) => setName(event.target.value)} />
        </Field>
        <OperatingModeChoice legend="Default operating mode" value={mode} onChange={setMode} />
        <p className="hint">Clients set to Inherit run in this mode; a client's own Plan or Execute wins over it.</p>
        <ErrorNote error={save.error} title="Not saved" />
        {save.isSuccess && !changed ? <SuccessNote>Saved.</SuccessNote> : null}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={!changed || name.trim() === '' || save.isPending}>
            {save.isPending ? 'Saving…' : 'Save'}
          </button>
          {changed ? (
            <button
              type="button"
              className="button"
              onClick={() => {
                setName(props.msp.name);
                setMode(props.msp.defaultOperatingMode);
              }}
            >
              Undo changes
            </button>
          ) : null}
        </div>
      </form>
    </section>
  );
}

function ApprovalChannels(props: { msp: MspDetail; admin: boolean }) {
  const channels = props.msp.approvalChannels;
  return (
    <section className="card" aria-labelledby="approval-channels-title">
      <h2 id="approval-channels-title">Approval channels</h2>
      <p className="hint">Where deskhand announces a plan that waits for a technician's approval.</p>
      {channels.length === 0 ? (
        <EmptyState title="No approval channel yet">
          Approvals still work from the dashboard and the API. Connect a PSA (a note on the ticket) or a chat system
          {props.admin ? (
            <>
              {' '}
              on the <Link to="/msp/integrations">Integrations tab</Link>
            </>
          ) : null}
          .
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Integration</th>
                <th scope="col">System</th>
                <th scope="col">How</th>
              </tr>
            </thead>
            <tbody>
              {channels.map((channel) => (
                <tr key={channel.integrationId}>
                  <td>
                    <Link to="/integrations/$integrationId" params={{ integrationId: channel.integrationId }}>
                      {channel.integration}
                    </Link>
                  </td>
                  <td>{channel.label}</td>
                  <td>{channel.how}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Planner: the MSP's own prompt to a language-model planner (admins edit, technicians read). */
export function MspPlannerTab() {
  const me = useMe();
  const role = me.data?.user.role;
  if (!me.data) return null;
  if (!can.readDetails(role)) return <p className="note note-info">The planner's prompts are for admins and technicians.</p>;
  return (
    <>
      <PlannerPromptCard path="/api/msp/prompt" whose="msp" name={me.data.msp.name} admin={can.configure(role)} />
      <p className="hint planner-more">
        Each client can add its own prompt on its Planner tab. How a kind of request is handled step by step is written as a <Link to="/workflows">workflow</Link>.
      </p>
    </>
  );
}
