import { randomUUID } from 'node:crypto';
import { describeError } from '../../../core/errors.ts';
import { settingUrl } from '../../http.ts';
import type { DoctorCheck } from '../../module.ts';
import { resourceTokens } from '../client.ts';
import { ExchangeOnlineClient, exchangeErrorOf } from './client.ts';
import { EXCHANGE_SCOPE } from './scope.ts';

/**
 * The Exchange Online part of the m365 doctor, for one client tenant: the setting, the sign-in for
 * Exchange's scope, a harmless read (`Get-OrganizationConfig` on the documented v2.0 endpoint), and
 * whether the app's Exchange role lets it change memberships: `Remove-DistributionGroupMember` of a
 * group that cannot exist (a random name), which Exchange refuses by RBAC (401) before it looks for
 * the group when the role does not allow it, and answers "not found" when it does. Nothing changes.
 *
 * The tools that need it: `m365.add_user_to_group` and `m365.remove_user_from_group` on distribution
 * lists and mail-enabled security groups (shared-mailbox access).
 */

const NEEDED_BY = 'm365.add_user_to_group and m365.remove_user_from_group on distribution lists and mail-enabled security groups (shared mailboxes)';
const ROLE_FIX =
  "In the client's tenant, assign the Exchange Administrator role to the app's service principal (Entra admin center > Roles and administrators > Exchange Administrator > Add assignments), then wait for a new token (up to an hour).";
const PERMISSION_FIX =
  'Add the application permission Exchange.ManageAsApp of "Office 365 Exchange Online" to the app registration, then have the client\'s admin consent: https://login.microsoftonline.com/{tenantId}/adminconsent?client_id={appId}';

export async function exchangeDoctorChecks(input: { settings: Record<string, unknown>; secrets: Record<string, string>; tenantId: string }): Promise<DoctorCheck[]> {
  const setting = input.settings['exchangeOnline'] as { enabled?: unknown; baseUrl?: unknown } | undefined;
  if (setting?.enabled !== true) {
    return [
      {
        name: 'Exchange Online access (setting exchangeOnline.enabled)',
        ok: false,
        detail: `not switched on: ${NEEDED_BY} escalate to a technician`,
        fix: 'Do the Exchange Online set-up of the m365 README in each client tenant, then set exchangeOnline.enabled to true in the Microsoft 365 integration.',
      },
    ];
  }
  const integration = { id: 'doctor', name: 'Microsoft 365', kind: 'm365' };
  const credential = input.secrets['certificatePrivateKey']
    ? { certificate: { privateKeyPem: input.secrets['certificatePrivateKey'], thumbprint: input.secrets['certificateThumbprint'] ?? '' } }
    : { clientSecret: input.secrets['clientSecret'] ?? '' };
  const checks: DoctorCheck[] = [];
  let client: ExchangeOnlineClient;
  try {
    const baseUrl = settingUrl(integration, { 'exchangeOnline.baseUrl': setting.baseUrl, developmentLoopback: input.settings['developmentLoopback'] }, 'exchangeOnline.baseUrl');
    const loginBaseUrl = settingUrl(integration, input.settings, 'loginBaseUrl');
    const clientId = String(input.settings['clientId'] ?? '');
    const common = { tenantId: input.tenantId, clientId, ...credential, ...(loginBaseUrl ? { loginBaseUrl } : {}) };
    await resourceTokens({ ...common, scope: EXCHANGE_SCOPE }).token();
    checks.push({ name: 'Sign-in for Exchange Online (https://outlook.office365.com/.default)', ok: true, detail: `token issued for tenant ${input.tenantId}` });
    client = new ExchangeOnlineClient({ ...common, ...(baseUrl ? { baseUrl } : {}), http: { maxAttempts: 1 } });
  } catch (error) {
    checks.push({
      name: 'Sign-in for Exchange Online (https://outlook.office365.com/.default)',
      ok: false,
      detail: describeError(error),
      fix: "Check the app's credential and that the client's admin consented to the app in this tenant.",
    });
    return checks;
  }
  try {
    await client.organizationConfig();
    checks.push({ name: 'Exchange.ManageAsApp and an Exchange role (Get-OrganizationConfig)', ok: true, detail: 'Exchange Online answers the app in this tenant' });
  } catch (error) {
    const info = exchangeErrorOf((error as { cause?: unknown }).cause ?? error);
    const rbac = info?.status === 401 && /not allowed to call/i.test(info.text);
    checks.push(
      rbac
        ? { name: 'Exchange role of the app (Exchange Administrator)', ok: false, detail: describeError(error), fix: ROLE_FIX }
        : info?.status === 401
          ? { name: 'Application permission Exchange.ManageAsApp (Office 365 Exchange Online)', ok: false, detail: describeError(error), fix: PERMISSION_FIX }
          : { name: 'Exchange Online reachable (Get-OrganizationConfig)', ok: false, detail: describeError(error), fix: 'Check the exchangeOnline.baseUrl setting and that the tenant has Exchange Online.' },
    );
    return checks;
  }
  const probe = `deskhand-doctor-${randomUUID()}`;
  try {
    await client.writes.remove(probe, probe);
    checks.push({ name: 'Exchange role allows membership changes (Remove-DistributionGroupMember)', ok: true, detail: 'allowed' });
  } catch (error) {
    const info = exchangeErrorOf((error as { cause?: unknown }).cause ?? error);
    if (info?.exceptionType?.endsWith('ManagementObjectNotFoundException')) {
      checks.push({ name: 'Exchange role allows membership changes (Remove-DistributionGroupMember)', ok: true, detail: 'allowed (checked on a group that does not exist: nothing changed)' });
    } else {
      checks.push({ name: 'Exchange role allows membership changes (Remove-DistributionGroupMember)', ok: false, detail: describeError(error), fix: ROLE_FIX });
    }
  }
  return checks;
}
