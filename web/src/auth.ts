import { useQuery } from '@tanstack/react-query';
import type { Me, Role } from '../../src/api/contract.ts';
import { api } from './api.ts';

/** Who is signed in (GET /api/me); the layout and every page read it from the same query. */
export function useMe() {
  return useQuery({ queryKey: ['me'], queryFn: () => api.get<Me>('/api/me'), staleTime: 60_000 });
}

/** What each role may do in the dashboard (the API enforces the same, this only shapes the pages). */
export const can = {
  configure: (role: Role | undefined) => role === 'msp_admin',
  approve: (role: Role | undefined) => role === 'msp_admin' || role === 'msp_technician',
  readDetails: (role: Role | undefined) => role === 'msp_admin' || role === 'msp_technician',
};

export const ROLE_LABEL: Record<Role, string> = { msp_admin: 'Admin', msp_technician: 'Technician', msp_billing: 'Billing' };
