import { useQueryClient } from '@tanstack/react-query';
import { Link, Navigate, Outlet, useNavigate, useRouterState } from '@tanstack/react-router';
import { useState } from 'react';
import { ApiError, api, setCsrfToken } from '../api.ts';
import { ROLE_LABEL, useMe } from '../auth.ts';
import { LiveUpdates } from '../live.ts';
import { applyTheme, storedTheme, type ThemeChoice } from '../theme.ts';
import { ApprovalsNavLink } from '../pages/Approvals.tsx';
import { ErrorNote, Loading } from './ui.tsx';

/** The signed-in frame: a skip link, the top bar with navigation, the page. */
export function Layout() {
  const me = useMe();
  const location = useRouterState({ select: (state) => state.location });
  if (me.isPending) return <Loading what="deskhand" />;
  if (me.error) {
    if (me.error instanceof ApiError && me.error.status === 401) {
      return <Navigate to="/sign-in" search={{ next: location.pathname === '/' ? undefined : location.href }} replace />;
    }
    return (
      <main className="centered">
        <ErrorNote error={me.error} title="deskhand could not load" />
      </main>
    );
  }
  const { user, msp } = me.data;
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/clients" className="brand" aria-label="deskhand home">
          deskhand
        </Link>
        <span className="msp-name">{msp.name}</span>
        <nav aria-label="Main" className="main-nav">
          <Link to="/clients" className="nav-link" activeProps={{ className: 'nav-link active', 'aria-current': 'page' }}>
            Clients
          </Link>
          <Link to="/requests" className="nav-link" activeProps={{ className: 'nav-link active', 'aria-current': 'page' }}>Requests</Link>
          <Link to="/msp" className="nav-link" activeProps={{ className: 'nav-link active', 'aria-current': 'page' }}>
            MSP
          </Link>
          <ApprovalsNavLink />
          {user.role !== 'msp_billing' ? (
            <Link to="/workflows" className="nav-link" activeProps={{ className: 'nav-link active', 'aria-current': 'page' }}>
              Workflows
            </Link>
          ) : null}
          {user.role !== 'msp_billing' ? (
            <Link to="/audit" className="nav-link" activeProps={{ className: 'nav-link active', 'aria-current': 'page' }}>
              Audit
            </Link>
          ) : null}
        </nav>
        <div className="topbar-end">
          <ThemeSwitch />
          <Link to="/account" className="nav-link user-link" activeProps={{ className: 'nav-link user-link active', 'aria-current': 'page' }}>
            {user.name} <span className="role">{ROLE_LABEL[user.role]}</span>
          </Link>
          <SignOut />
        </div>
      </header>
      <LiveUpdates />
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

function ThemeSwitch() {
  const [theme, setTheme] = useState<ThemeChoice>(storedTheme());
  return (
    <label className="theme-switch">
      <span className="visually-hidden">Theme</span>
      <select
        value={theme}
        onChange={(event) => {
          const choice = event.target.value as ThemeChoice;
          applyTheme(choice);
          setTheme(choice);
        }}
      >
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

/** Sign out: end the session on the server, forget its CSRF token and every cached answer. */
export function useSignOut() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  return async () => {
    await api.delete('/api/session').catch(() => {});
    setCsrfToken(null);
    // Leave the signed-in pages first (cleared while shown, their queries would ask again), then
    // forget every answer of the session but the sign-in page's own.
    await navigate({ to: '/sign-in', search: {} });
    queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== 'setup' });
  };
}

function SignOut() {
  const signOut = useSignOut();
  return (
    <button type="button" className="button button-quiet" onClick={signOut}>
      Sign out
    </button>
  );
}
