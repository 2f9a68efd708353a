/**
 * What the identity provider tells the agent, in the product's words. Identity integrations map
 * their API objects to these; the planner reads only these.
 */
export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName?: string | null;
  surname?: string | null;
  mail?: string | null;
  jobTitle?: string | null;
  department?: string | null;
  accountEnabled?: boolean | null;
  usageLocation?: string | null;
  lastSignInDateTime?: string | null;
}

export type GroupKind = 'security' | 'distribution' | 'shared_mailbox' | 'microsoft365';

export interface DirectoryGroup {
  id: string;
  displayName: string;
  kind: GroupKind;
  description?: string | null;
  mail?: string | null;
  /** Role-assignable (it can hold directory roles): administrative, never granted by the helpdesk. */
  privileged: boolean;
}

export interface SubscribedSku {
  skuId: string;
  skuPartNumber: string;
  /** Seats bought (`prepaidUnits.enabled`). */
  total: number;
  /** Seats in use (`consumedUnits`). */
  consumed: number;
  /**
   * What the SKU contains, plan by plan (mail, chat, the desktop office apps, a reporting tool in
   * the top suite...), as the identity provider reports them. A reader that could not read them gives none.
   */
  servicePlans?: readonly ServicePlan[];
}

/** One service plan of a SKU, as the identity provider reports it. */
export interface ServicePlan {
  servicePlanId: string;
  /** The provider's name for the plan, e.g. `OFFICESUBSCRIPTION`. */
  servicePlanName: string;
  /** `Success`, `Disabled`, `PendingInput`, `PendingActivation`, `PendingProvisioning`, `Warning`. */
  provisioningStatus: string;
  /** `User` or `Company`. */
  appliesTo: string;
}

export interface AuthMethod {
  id: string;
  /** The provider's method type, e.g. an authenticator app, a phone, a passkey (its own naming). */
  type: string;
}

export interface Runbook {
  title: string;
  body: string;
  source: string;
  /** Where a technician opens it (a documentation platform's article), cited in the note; absent or null when it has none. */
  url?: string | null;
}
