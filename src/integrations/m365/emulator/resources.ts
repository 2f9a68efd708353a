import { z } from 'zod';
import type { ODataRecord } from './odata.ts';
import type { EmulatedGroup, EmulatedUser } from './tenant.ts';

/**
 * Graph's shapes as the emulator speaks them: each resource type's properties (and the defaults
 * returned without `$select`), what may be filtered and searched, how an emulated object looks as a
 * Graph resource, and the request bodies Graph accepts.
 */

export interface ResourceType {
  name: string;
  properties: ReadonlySet<string>;
  defaults: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Graph resource types: properties, defaults without $select, filterable and searchable ones
// ---------------------------------------------------------------------------------------------

export const userType: ResourceType = {
  name: 'user',
  properties: new Set([
    'id',
    'userPrincipalName',
    'displayName',
    'givenName',
    'surname',
    'mail',
    'mailNickname',
    'jobTitle',
    'department',
    'businessPhones',
    'mobilePhone',
    'officeLocation',
    'preferredLanguage',
    'accountEnabled',
    'usageLocation',
    'userType',
    'createdDateTime',
    'signInActivity',
    'signInSessionsValidFromDateTime',
    'lastPasswordChangeDateTime',
    'assignedLicenses',
    'onPremisesSyncEnabled',
  ]),
  defaults: [
    'businessPhones',
    'displayName',
    'givenName',
    'id',
    'jobTitle',
    'mail',
    'mobilePhone',
    'officeLocation',
    'preferredLanguage',
    'surname',
    'userPrincipalName',
  ],
};
export const userFilterable = new Set(['id', 'displayName', 'givenName', 'surname', 'userPrincipalName', 'mail', 'accountEnabled', 'department', 'jobTitle', 'usageLocation']);
export const userSearchable = new Set(['displayName', 'mail', 'userPrincipalName', 'givenName', 'surname', 'jobTitle', 'department']);

export const groupType: ResourceType = {
  name: 'group',
  properties: new Set([
    'id',
    'displayName',
    'description',
    'mail',
    'mailNickname',
    'mailEnabled',
    'securityEnabled',
    'groupTypes',
    'isAssignableToRole',
    'createdDateTime',
    'visibility',
    'onPremisesSyncEnabled',
  ]),
  defaults: [
    'id',
    'createdDateTime',
    'description',
    'displayName',
    'groupTypes',
    'isAssignableToRole',
    'mail',
    'mailEnabled',
    'mailNickname',
    'securityEnabled',
    'visibility',
  ],
};
export const groupFilterable = new Set(['id', 'displayName', 'mail', 'mailNickname', 'mailEnabled', 'securityEnabled', 'isAssignableToRole']);
export const groupSearchable = new Set(['displayName', 'description', 'mail', 'mailNickname']);

export const skuType: ResourceType = {
  name: 'subscribedSku',
  properties: new Set(['id', 'accountId', 'accountName', 'appliesTo', 'capabilityStatus', 'consumedUnits', 'prepaidUnits', 'servicePlans', 'skuId', 'skuPartNumber', 'subscriptionIds']),
  defaults: ['id', 'accountId', 'accountName', 'appliesTo', 'capabilityStatus', 'consumedUnits', 'prepaidUnits', 'servicePlans', 'skuId', 'skuPartNumber', 'subscriptionIds'],
};

export const licenseDetailType: ResourceType = {
  name: 'licenseDetails',
  properties: new Set(['id', 'skuId', 'skuPartNumber', 'servicePlans']),
  defaults: ['id', 'skuId', 'skuPartNumber', 'servicePlans'],
};

/** Outlook messages (Sent Items). Without `$select` Graph returns them whole; `subject` can be filtered. */
const messageProperties = [
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'receivedDateTime',
  'sentDateTime',
  'subject',
  'bodyPreview',
  'body',
  'importance',
  'isDraft',
  'isRead',
  'from',
  'sender',
  'toRecipients',
  'ccRecipients',
  'parentFolderId',
  'conversationId',
  'internetMessageId',
] as const;
export const messageType: ResourceType = {
  name: 'message',
  properties: new Set(messageProperties),
  // Whole: every property is a default.
  defaults: messageProperties,
};
export const messageFilterable = new Set(['subject', 'isRead', 'isDraft', 'importance']);

/** A mail as it sits in the sender's Sent Items. */
export interface StoredMessage {
  id: string;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  contentType: string;
  content: string;
  sentAt: string;
  folderId: string;
}

export function messageResource(message: StoredMessage): ODataRecord {
  const address = (a: string) => ({ emailAddress: { address: a, name: a } });
  return {
    id: message.id,
    createdDateTime: message.sentAt,
    lastModifiedDateTime: message.sentAt,
    receivedDateTime: message.sentAt,
    sentDateTime: message.sentAt,
    subject: message.subject,
    bodyPreview: message.content.replace(/\s+/g, ' ').trim().slice(0, 255),
    body: { contentType: message.contentType.toLowerCase() === 'html' ? 'html' : 'text', content: message.content },
    importance: 'normal',
    isDraft: false,
    isRead: true,
    from: address(message.from),
    sender: address(message.from),
    toRecipients: message.to.map(address),
    ccRecipients: message.cc.map(address),
    parentFolderId: message.folderId,
    conversationId: `conv-${message.id}`,
    internetMessageId: `<${message.id}@emulator.graph>`,
  };
}

export function userResource(user: EmulatedUser): ODataRecord {
  return {
    id: user.id,
    userPrincipalName: user.userPrincipalName,
    displayName: user.displayName,
    givenName: user.givenName,
    surname: user.surname,
    mail: user.mail,
    mailNickname: user.mailNickname,
    jobTitle: user.jobTitle,
    department: user.department,
    businessPhones: user.businessPhones,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: 'en-US',
    accountEnabled: user.accountEnabled,
    usageLocation: user.usageLocation,
    userType: 'Member',
    createdDateTime: user.createdDateTime,
    signInSessionsValidFromDateTime: user.signInSessionsValidFromDateTime,
    lastPasswordChangeDateTime: user.lastPasswordChangeDateTime,
    assignedLicenses: [...user.licenses].map((skuId) => ({ skuId, disabledPlans: [] })),
    // Graph: true for an object synced from on-premises, null for a cloud-only one.
    onPremisesSyncEnabled: user.onPremisesSyncEnabled ? true : null,
    signInActivity: {
      lastSignInDateTime: user.lastSignInDateTime,
      lastSignInRequestId: null,
      lastNonInteractiveSignInDateTime: user.lastSignInDateTime,
      lastNonInteractiveSignInRequestId: null,
    },
  };
}

export function groupResource(group: EmulatedGroup): ODataRecord {
  return {
    id: group.id,
    displayName: group.displayName,
    description: group.description,
    mail: group.mail,
    mailNickname: group.mailNickname,
    mailEnabled: group.mailEnabled,
    securityEnabled: group.securityEnabled,
    groupTypes: group.groupTypes,
    isAssignableToRole: group.isAssignableToRole,
    createdDateTime: group.createdDateTime,
    visibility: group.groupTypes.includes('Unified') ? 'Private' : null,
    onPremisesSyncEnabled: group.onPremisesSyncEnabled ? true : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Request bodies Graph accepts, parsed at the edge
// ---------------------------------------------------------------------------------------------

export const refBody = z.object({ '@odata.id': z.string() });

export const assignLicenseBody = z.object({
  addLicenses: z.array(z.object({ skuId: z.string(), disabledPlans: z.array(z.string()).optional() })),
  removeLicenses: z.array(z.string()),
});

export const patchUserBody = z.strictObject({
  accountEnabled: z.boolean().optional(),
  passwordProfile: z
    .strictObject({
      password: z.string(),
      forceChangePasswordNextSignIn: z.boolean().optional(),
      forceChangePasswordNextSignInWithMfa: z.boolean().optional(),
    })
    .optional(),
});

const recipient = z.object({ emailAddress: z.object({ address: z.string().min(3), name: z.string().optional() }) });
export const sendMailBody = z.object({
  message: z.object({
    subject: z.string(),
    body: z.object({ contentType: z.string().regex(/^(text|html)$/i), content: z.string() }),
    toRecipients: z.array(recipient).min(1),
    ccRecipients: z.array(recipient).optional(),
  }),
  saveToSentItems: z.boolean().optional(),
});

/** The token endpoint's form (client credentials grant, with a client secret or a client assertion). */
export const tokenForm = z.object({
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  client_assertion_type: z.string().optional(),
  client_assertion: z.string().optional(),
  scope: z.string().optional(),
});
