import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { InviteBody, InviteCreated, Role, User, UserList, UserPatchBody } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, ROLE_LABEL, useMe } from '../auth.ts';
import { ShownOnce } from './account-shown-once.tsx';
import { Badge, EmptyState, ErrorNote, Field, formatTime, Loading } from './ui.tsx';

const ROLES: Role[] = ['msp_admin', 'msp_technician', 'msp_billing'];
const ROLE_EXPLAINED: Record<Role, string> = {
  msp_admin: 'configures everything: integrations, policies, modes, users',
  msp_technician: 'approves plans and reads everything, changes no configuration',
  msp_billing: 'sees clients, request lists, outcomes and counts; never a request’s details or a secret',
};

/** Users: admins list, invite, change roles, deactivate; other roles are told who manages users. */
export function MspUsersTab() {
  const me = useMe();
  if (!can.configure(me.data?.user.role)) {
    return (
      <section className="card" aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        <p>Your MSP's admins invite users and set their roles. What each role may do:</p>
        <RoleList />
        <p className="hint">Your own account and personal API tokens are on your account page.</p>
      </section>
    );
  }
  return <UsersAdmin selfId={me.data?.user.id ?? ''} />;
}

function RoleList() {
  return (
    <dl className="facts">
      {ROLES.map((role) => (
        <div key={role} className="facts-row">
          <dt>{ROLE_LABEL[role]}</dt>
          <dd>{ROLE_EXPLAINED[role]}</dd>
        </div>
      ))}
    </dl>
  );
}

function UsersAdmin(props: { selfId: string }) {
  const users = useQuery({ queryKey: ['users'], queryFn: () => api.get<UserList>('/api/users') });
  return (
    <>
      <InviteForm />
      <section aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        {users.isPending ? <Loading what="the users" /> : null}
        <ErrorNote error={users.error} title="The users could not be loaded" />
        {users.data ? <UserTable users={users.data.users} selfId={props.selfId} /> : null}
      </section>
      <details className="roles-explained">
        <summary>What each role may do</summary>
        <RoleList />
      </details>
    </>
  );
}

function UserTable(props: { users: User[]; selfId: string }) {
  const queryClient = useQueryClient();
  const change = useMutation({
    mutationFn: (input: { user: User; body: UserPatchBody }) => api.patch<User>(`/api/users/${encodeURIComponent(input.user.id)}`, input.body),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['users'] }),
  });
  if (props.users.length === 0) return <EmptyState title="No users yet">Invite your technicians above.</EmptyState>;
  const failed = change.error ? change.variables : undefined;
  return (
    <>
      {failed ? (
        <div className="note note-error" role="alert">
          <strong>{failed.user.name} was not changed: </strong>
          {change.error instanceof Error ? change.error.message : String(change.error)}
        </div>
      ) : null}
      <div className="table-wrap">
        <table className="table users-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.users.map((user) => (
              <tr key={user.id}>
                <td>
                  {user.name}
                  {user.id === props.selfId ? <span className="hint"> (you)</span> : null}
                </td>
                <td className="nowrap">{user.email}</td>
                <td>
                  <select
                    aria-label={`Role of ${user.name}`}
                    value={user.role}
                    disabled={change.isPending}
                    onChange={(event) => change.mutate({ user, body: { role: event.target.value as Role } })}
                  >
                    {ROLES.map((role) => (
                      <option key={role} value={role}>
                        {ROLE_LABEL[role]}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <UserStatusBadge user={user} />
                </td>
                <td className="actions">
                  {user.status === 'deactivated' ? (
                    <button type="button" className="button button-small" disabled={change.isPending} onClick={() => change.mutate({ user, body: { status: 'active' } })}>
                      Reactivate<span className="visually-hidden"> {user.name}</span>
                    </button>
                  ) : (
                    <button type="button" className="button button-small button-danger" disabled={change.isPending} onClick={() => change.mutate({ user, body: { status: 'deactivated' } })}>
                      Deactivate<span className="visually-hidden"> {user.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="hint">A deactivated user can no longer sign in, and their sessions and API tokens stop working. An MSP always keeps one active admin.</p>
    </>
  );
}

function UserStatusBadge(props: { user: User }) {
  const { user } = props;
  if (user.status === 'active') return <Badge tone="ok">Active</Badge>;
  if (user.status === 'deactivated') return <Badge tone="bad">Deactivated</Badge>;
  const expired = user.inviteExpiresAt !== null && new Date(user.inviteExpiresAt).getTime() < Date.now();
  return (
    <Badge tone={expired ? 'warn' : 'info'} title={user.inviteExpiresAt ? `link until ${formatTime(user.inviteExpiresAt)}` : undefined}>
      {expired ? 'Invitation expired' : 'Invited'}
    </Badge>
  );
}

function InviteForm() {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('msp_technician');
  const [created, setCreated] = useState<InviteCreated | null>(null);
  const invite = useMutation({
    mutationFn: (body: InviteBody) => api.post<InviteCreated>('/api/users/invites', body),
    onSuccess: async (answer) => {
      setCreated(answer);
      setEmail('');
      setName('');
      await queryClient.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreated(null);
    invite.mutate({ email: email.trim(), name: name.trim(), role });
  };
  return (
    <section className="card" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite a user</h2>
      {created ? (
        <ShownOnce
          label={`Invitation link for ${created.user.name}`}
          value={created.link}
          warning={`Send this link to ${created.user.email} yourself (deskhand sends no mail for it). deskhand keeps only a hash of it and will not show it again; it works once, until ${formatTime(created.user.inviteExpiresAt)}.`}
          onDone={() => setCreated(null)}
        />
      ) : (
        <form onSubmit={submit} noValidate className="invite-form">
          <Field id="invite-email" label="Email">
            <input id="invite-email" type="email" required autoComplete="off" value={email} onChange={(event) => setEmail(event.target.value)} />
          </Field>
          <Field id="invite-name" label="Name">
            <input id="invite-name" type="text" required autoComplete="off" value={name} onChange={(event) => setName(event.target.value)} />
          </Field>
          <Field id="invite-role" label="Role">
            <select id="invite-role" value={role} onChange={(event) => setRole(event.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {ROLE_LABEL[r]}
                </option>
              ))}
            </select>
          </Field>
          <div className="form-actions invite-submit">
            <button type="submit" className="button button-primary" disabled={invite.isPending || email.trim() === '' || name.trim() === ''}>
              {invite.isPending ? 'Inviting…' : 'Create the invitation link'}
            </button>
          </div>
          <div className="invite-error">
            <ErrorNote error={invite.error} title="Not invited" />
          </div>
        </form>
      )}
    </section>
  );
}
