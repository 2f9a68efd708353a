import { Outlet } from '@tanstack/react-router';

export function MspPage() {
  return <Outlet />;
}
export function MspOverviewTab() {
  return <h2>Overview</h2>;
}
export function MspUsersTab() {
  return <h2>Users</h2>;
}
export function MspStatusesTab() {
  return <h2>Ticket statuses</h2>;
}
