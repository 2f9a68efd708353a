import { z } from 'zod';

/**
 * The ConnectWise PSA (Manage) objects deskhand reads and writes, as the REST API 3.0 returns them.
 * Objects are loose (unknown fields are kept) because every tenant's ConnectWise returns more than we
 * use, and a new field must never break intake. The client parses every response with these; the
 * emulator builds its answers in the same shape.
 */

/** A reference to another record: `{id}` on write, `{id, name|identifier, _info}` on read. */
export const referenceSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().optional(),
  identifier: z.string().optional(),
});
export type ConnectWiseReference = z.infer<typeof referenceSchema>;

const infoSchema = z.record(z.string(), z.unknown()).optional();

export const ticketSchema = z.looseObject({
  id: z.number().int(),
  summary: z.string(),
  recordType: z.string().optional(),
  closedFlag: z.boolean().optional(),
  company: referenceSchema.optional(),
  contact: referenceSchema.nullish(),
  contactName: z.string().nullish(),
  contactEmailAddress: z.string().nullish(),
  /** The creator's own reference ("External Reference"): where deskhand puts a ticket's marker. */
  externalXRef: z.string().nullish(),
  board: referenceSchema.optional(),
  status: referenceSchema.optional(),
  priority: referenceSchema.optional(),
  _info: infoSchema,
});
export type ConnectWiseTicket = z.infer<typeof ticketSchema>;

export const noteSchema = z.looseObject({
  id: z.number().int(),
  ticketId: z.number().int(),
  text: z.string().nullish(),
  detailDescriptionFlag: z.boolean().optional(),
  internalAnalysisFlag: z.boolean().optional(),
  resolutionFlag: z.boolean().optional(),
  internalFlag: z.boolean().optional(),
  externalFlag: z.boolean().optional(),
  member: referenceSchema.nullish(),
  contact: referenceSchema.nullish(),
  dateCreated: z.string().optional(),
  createdBy: z.string().optional(),
  _info: infoSchema,
});
export type ConnectWiseNote = z.infer<typeof noteSchema>;

export const companySchema = z.looseObject({
  id: z.number().int(),
  identifier: z.string(),
  name: z.string(),
  status: referenceSchema.optional(),
  deletedFlag: z.boolean().optional(),
  _info: infoSchema,
});
export type ConnectWiseCompany = z.infer<typeof companySchema>;

export const communicationItemSchema = z.looseObject({
  id: z.number().int().optional(),
  type: referenceSchema.optional(),
  value: z.string(),
  defaultFlag: z.boolean().optional(),
  communicationType: z.string().optional(),
});
export type ConnectWiseCommunicationItem = z.infer<typeof communicationItemSchema>;

export const contactSchema = z.looseObject({
  id: z.number().int(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  company: referenceSchema.nullish(),
  title: z.string().nullish(),
  inactiveFlag: z.boolean().optional(),
  communicationItems: z.array(communicationItemSchema).optional(),
  _info: infoSchema,
});
export type ConnectWiseContact = z.infer<typeof contactSchema>;

export const memberSchema = z.looseObject({
  id: z.number().int(),
  identifier: z.string(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  officeEmail: z.string().nullish(),
  inactiveFlag: z.boolean().optional(),
  /** Its security role (System › Security Roles). */
  securityRole: referenceSchema.nullish(),
  _info: infoSchema,
});
export type ConnectWiseMember = z.infer<typeof memberSchema>;

/** One setting of a security role: the levels it grants on one module function ("SecurityRoleSetting"). */
export const securityRoleSettingSchema = z.looseObject({
  id: z.number().int().optional(),
  moduleName: z.string().optional(),
  moduleFunctionName: z.string(),
  addLevel: z.string().nullish(),
  editLevel: z.string().nullish(),
  deleteLevel: z.string().nullish(),
  inquireLevel: z.string().nullish(),
});
export type ConnectWiseSecurityRoleSetting = z.infer<typeof securityRoleSettingSchema>;

export const boardSchema = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  inactiveFlag: z.boolean().optional(),
});
export type ConnectWiseBoard = z.infer<typeof boardSchema>;

export const boardStatusSchema = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  board: referenceSchema.optional(),
  closedStatus: z.boolean().optional(),
  defaultFlag: z.boolean().optional(),
  inactiveFlag: z.boolean().optional(),
});
export type ConnectWiseBoardStatus = z.infer<typeof boardStatusSchema>;

/** A callback registration ("CallbackEntry" in ConnectWise's docs). */
export const callbackEntrySchema = z.looseObject({
  id: z.number().int(),
  url: z.string(),
  objectId: z.number().int(),
  type: z.string(),
  level: z.string(),
  description: z.string().nullish(),
  memberId: z.number().int().optional(),
  payloadVersion: z.string().optional(),
  inactiveFlag: z.boolean().optional(),
  isSoapCallbackFlag: z.boolean().optional(),
  isSelfSuppressedFlag: z.boolean().optional(),
  connectWiseID: z.string().optional(),
});
export type ConnectWiseCallbackEntry = z.infer<typeof callbackEntrySchema>;

/** `GET /login/companyinfo/{companyId}`: how a site names its codebase. */
export const companyInfoSchema = z.looseObject({
  CompanyName: z.string().optional(),
  Codebase: z.string(),
  VersionCode: z.string().optional(),
  CompanyID: z.string().optional(),
  IsCloud: z.boolean().optional(),
  SiteUrl: z.string().optional(),
});
export type ConnectWiseCompanyInfo = z.infer<typeof companyInfoSchema>;

export const signingKeyResponseSchema = z.object({ signing_key: z.string().min(1) });

/** ConnectWise's error body: `{code, message, errors[]}`. */
export const errorBodySchema = z.looseObject({
  code: z.string().optional(),
  message: z.string().optional(),
  errors: z
    .array(
      z.looseObject({
        code: z.string().optional(),
        message: z.string().optional(),
        resource: z.string().optional(),
        field: z.string().optional(),
      }),
    )
    .nullish(),
});
export type ConnectWiseErrorBody = z.infer<typeof errorBodySchema>;
