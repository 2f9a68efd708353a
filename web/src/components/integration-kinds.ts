import { useQuery } from '@tanstack/react-query';
import type { IntegrationKind, IntegrationKindList } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import type { JsonSchema } from './schema-form.tsx';

/** Every system deskhand can connect (GET /api/integration-kinds): read once, it changes with a release. */
export function useIntegrationKinds() {
  return useQuery({ queryKey: ['integration-kinds'], queryFn: () => api.get<IntegrationKindList>('/api/integration-kinds'), staleTime: Number.POSITIVE_INFINITY });
}

export const schemaOf = (kind: IntegrationKind, which: 'settings' | 'secrets'): JsonSchema => (which === 'settings' ? kind.settingsSchema : kind.secretsSchema) as JsonSchema;

/** What a capability means to an admin picking a system. */
export const PROVIDES_LABEL: Record<string, string> = {
  ticket: 'PSA: tickets',
  approvalNotice: 'Approval notices',
  identity: 'Users and mailboxes',
  tools: 'Agent tools',
  knowledge: 'Documentation',
  planner: 'Planner (language model)',
};

export const providesLabel = (capability: string) => PROVIDES_LABEL[capability] ?? capability;

/** The group a system is listed under on the "Connect a system" page: what it mainly is. */
export function groupOf(kind: { provides: readonly string[] }): string {
  if (kind.provides.includes('ticket')) return 'PSA';
  if (kind.provides.includes('knowledge')) return 'Documentation';
  if (kind.provides.includes('identity')) return 'Identity and email';
  if (kind.provides.includes('approvalNotice')) return 'Approval channels';
  if (kind.provides.includes('planner')) return 'Language models';
  return 'Other';
}
