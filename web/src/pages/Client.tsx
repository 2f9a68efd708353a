import { Outlet } from '@tanstack/react-router';

export function ClientPage() {
  return <Outlet />;
}
export function ClientOverviewTab() {
  return <h2>Overview</h2>;
}
export function ClientIntegrationsTab() {
  return <h2>Integrations</h2>;
}
export function ClientActivityTab() {
  return <h2>Activity</h2>;
}
