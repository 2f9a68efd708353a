/**
 * Exchange Online as a resource of the Microsoft identity platform: the scope of an app-only token
 * for it (worldwide cloud; GCC High uses `https://outlook.office365.us/.default`, DoD
 * `https://outlook-dod.office365.us/.default`), and the routing hint app-only tenant-level calls
 * carry (`X-AnchorMailbox`), as the ExchangeOnlineManagement module and open-source callers send it.
 */
export const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
export const EXCHANGE_BASE_URL = 'https://outlook.office365.com';

/** The system mailbox an app-only call is anchored to (CIPP, ExoHelper, azure_auth; unverified against Microsoft's table). */
export function systemAnchor(tenantId: string): string {
  return `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenantId}`;
}
