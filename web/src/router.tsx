import type { QueryClient } from '@tanstack/react-query';
import { createRootRouteWithContext, createRoute, createRouter, Outlet, redirect } from '@tanstack/react-router';
import { Layout } from './components/Layout.tsx';
import { NotFound } from './components/ui.tsx';
import { AccountPage } from './pages/Account.tsx';
import { ApprovalPage } from './pages/Approval.tsx';
import { ClientActivityTab, ClientIntegrationsTab, ClientOverviewTab, ClientPage } from './pages/Client.tsx';
import { ClientsPage } from './pages/Clients.tsx';
import { IntegrationPage } from './pages/Integration.tsx';
import { InvitePage } from './pages/Invite.tsx';
import { MspOverviewTab, MspPage, MspStatusesTab, MspUsersTab } from './pages/Msp.tsx';
import { MspIntegrationsTab } from './pages/MspIntegrations.tsx';
import { NewIntegrationPage } from './pages/NewIntegration.tsx';
import { SetupPage } from './pages/Setup.tsx';
import { SignInPage } from './pages/SignIn.tsx';

/**
 * The dashboard's pages. Signed-out pages: /sign-in, /setup (the first run's link), /invite (an
 * invitation's link). Everything else sits in the layout, which sends a signed-out visitor to sign in.
 */
const rootRoute = createRootRouteWithContext<{ queryClient: QueryClient }>()({ component: Outlet, notFoundComponent: NotFound });

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/sign-in',
  validateSearch: (search: Record<string, unknown>): { next?: string } => ({ next: text(search['next']) }),
  component: SignInPage,
});
const setupRoute = createRoute({ getParentRoute: () => rootRoute, path: '/setup', component: SetupPage });
const inviteRoute = createRoute({ getParentRoute: () => rootRoute, path: '/invite', component: InvitePage });

const appRoute = createRoute({ getParentRoute: () => rootRoute, id: 'app', component: Layout });
const homeRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/clients' });
  },
});
const clientsRoute = createRoute({ getParentRoute: () => appRoute, path: '/clients', component: ClientsPage });
const clientRoute = createRoute({ getParentRoute: () => appRoute, path: '/clients/$clientId', component: ClientPage });
const clientOverviewRoute = createRoute({ getParentRoute: () => clientRoute, path: '/', component: ClientOverviewTab });
const clientIntegrationsRoute = createRoute({ getParentRoute: () => clientRoute, path: '/integrations', component: ClientIntegrationsTab });
const clientActivityRoute = createRoute({ getParentRoute: () => clientRoute, path: '/activity', component: ClientActivityTab });
const clientIntegrationRoute = createRoute({ getParentRoute: () => appRoute, path: '/clients/$clientId/integrations/$integrationId', component: IntegrationPage });

const mspRoute = createRoute({ getParentRoute: () => appRoute, path: '/msp', component: MspPage });
const mspOverviewRoute = createRoute({ getParentRoute: () => mspRoute, path: '/', component: MspOverviewTab });
const mspIntegrationsRoute = createRoute({ getParentRoute: () => mspRoute, path: '/integrations', component: MspIntegrationsTab });
const mspUsersRoute = createRoute({ getParentRoute: () => mspRoute, path: '/users', component: MspUsersTab });
const mspStatusesRoute = createRoute({ getParentRoute: () => mspRoute, path: '/statuses', component: MspStatusesTab });
const integrationRoute = createRoute({ getParentRoute: () => appRoute, path: '/integrations/$integrationId', component: IntegrationPage });
const newIntegrationRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/integrations/new',
  validateSearch: (search: Record<string, unknown>): { kind?: string; clientId?: string } => ({ kind: text(search['kind']), clientId: text(search['clientId']) }),
  component: NewIntegrationPage,
});
const accountRoute = createRoute({ getParentRoute: () => appRoute, path: '/account', component: AccountPage });
// The link in a ticket's approval note (issue 12, H5).
const approvalRoute = createRoute({ getParentRoute: () => appRoute, path: '/approvals/$approvalId', component: ApprovalPage });

const routeTree = rootRoute.addChildren([
  signInRoute,
  setupRoute,
  inviteRoute,
  appRoute.addChildren([
    homeRoute,
    clientsRoute,
    clientRoute.addChildren([clientOverviewRoute, clientIntegrationsRoute, clientActivityRoute]),
    clientIntegrationRoute,
    mspRoute.addChildren([mspOverviewRoute, mspIntegrationsRoute, mspUsersRoute, mspStatusesRoute]),
    newIntegrationRoute,
    integrationRoute,
    accountRoute,
    approvalRoute,
  ]),
]);

export const router = createRouter({ routeTree, context: { queryClient: undefined! }, defaultPreload: false, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
