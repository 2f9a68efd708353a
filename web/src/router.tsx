import type { QueryClient } from '@tanstack/react-query';
import { createRootRouteWithContext, createRoute, createRouter, Outlet, redirect } from '@tanstack/react-router';
import { Layout } from './components/Layout.tsx';
import { NotFound } from './components/ui.tsx';
import { AccountPage } from './pages/Account.tsx';
import { ApprovalPage } from './pages/Approval.tsx';
import { ApprovalsPage } from './pages/Approvals.tsx';
import { AuditPage } from './pages/Audit.tsx';
import { ClientActivityTab, ClientIntegrationsTab, ClientOverviewTab, ClientPage, ClientPlannerTab } from './pages/Client.tsx';
import { ClientsPage } from './pages/Clients.tsx';
import { IntegrationPage } from './pages/Integration.tsx';
import { InvitePage } from './pages/Invite.tsx';
import { MspOverviewTab, MspPage, MspPlannerTab, MspStatusesTab, MspUsersTab } from './pages/Msp.tsx';
import { MspIntegrationsTab } from './pages/MspIntegrations.tsx';
import { NewIntegrationPage } from './pages/NewIntegration.tsx';
import { PlanReviewPage } from './pages/PlanReview.tsx';
import { RequestPage } from './pages/Request.tsx';
import { RequestsPage, requestFiltersFromSearch } from './pages/Requests.tsx';
import { SetupPage } from './pages/Setup.tsx';
import { SignInPage } from './pages/SignIn.tsx';
import { NewWorkflowPage, WorkflowPage, WorkflowsPage } from './pages/Workflows.tsx';

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
const clientPlannerRoute = createRoute({ getParentRoute: () => clientRoute, path: '/planner', component: ClientPlannerTab });
const clientIntegrationRoute = createRoute({ getParentRoute: () => appRoute, path: '/clients/$clientId/integrations/$integrationId', component: IntegrationPage });

const mspRoute = createRoute({ getParentRoute: () => appRoute, path: '/msp', component: MspPage });
const mspOverviewRoute = createRoute({ getParentRoute: () => mspRoute, path: '/', component: MspOverviewTab });
const mspIntegrationsRoute = createRoute({ getParentRoute: () => mspRoute, path: '/integrations', component: MspIntegrationsTab });
const mspUsersRoute = createRoute({ getParentRoute: () => mspRoute, path: '/users', component: MspUsersTab });
const mspStatusesRoute = createRoute({ getParentRoute: () => mspRoute, path: '/statuses', component: MspStatusesTab });
const mspPlannerRoute = createRoute({ getParentRoute: () => mspRoute, path: '/planner', component: MspPlannerTab });
const integrationRoute = createRoute({ getParentRoute: () => appRoute, path: '/integrations/$integrationId', component: IntegrationPage });
const newIntegrationRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/integrations/new',
  validateSearch: (search: Record<string, unknown>): { kind?: string; clientId?: string } => ({ kind: text(search['kind']), clientId: text(search['clientId']) }),
  component: NewIntegrationPage,
});
// Requests (issue 12): the queue with its filters in the URL, a request's story, a client's Plan Mode review
const requestsRoute = createRoute({ getParentRoute: () => appRoute, path: '/requests', validateSearch: requestFiltersFromSearch, component: RequestsPage });
const requestRoute = createRoute({ getParentRoute: () => appRoute, path: '/requests/$requestId', component: RequestPage });
const planReviewRoute = createRoute({ getParentRoute: () => appRoute, path: '/clients/$clientId/plan-review', component: PlanReviewPage });
const accountRoute = createRoute({ getParentRoute: () => appRoute, path: '/account', component: AccountPage });
// Approvals and the audit log
const approvalsRoute = createRoute({ getParentRoute: () => appRoute, path: '/approvals', component: ApprovalsPage });
const approvalRoute = createRoute({ getParentRoute: () => appRoute, path: '/approvals/$approvalId', component: ApprovalPage });
const auditRoute = createRoute({ getParentRoute: () => appRoute, path: '/audit', component: AuditPage });
// Workflows (issue 14): how the MSP wants a kind of request handled
const workflowsRoute = createRoute({ getParentRoute: () => appRoute, path: '/workflows', component: WorkflowsPage });
const newWorkflowRoute = createRoute({ getParentRoute: () => appRoute, path: '/workflows/new', component: NewWorkflowPage });
const workflowRoute = createRoute({ getParentRoute: () => appRoute, path: '/workflows/$workflowId', component: WorkflowPage });

const routeTree = rootRoute.addChildren([
  signInRoute,
  setupRoute,
  inviteRoute,
  appRoute.addChildren([
    homeRoute,
    clientsRoute,
    clientRoute.addChildren([clientOverviewRoute, clientIntegrationsRoute, clientActivityRoute, clientPlannerRoute]),
    clientIntegrationRoute,
    mspRoute.addChildren([mspOverviewRoute, mspIntegrationsRoute, mspUsersRoute, mspStatusesRoute, mspPlannerRoute]),
    newIntegrationRoute,
    integrationRoute,
    accountRoute,
    requestsRoute,
    requestRoute,
    planReviewRoute,
    approvalsRoute,
    approvalRoute,
    auditRoute,
    workflowsRoute,
    newWorkflowRoute,
    workflowRoute,
  ]),
]);

export const router = createRouter({ routeTree, context: { queryClient: undefined! }, defaultPreload: false, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
