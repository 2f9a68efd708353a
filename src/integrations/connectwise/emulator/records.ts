import type { CompanyRecord, ContactRecord, InstanceSeed, MemberRecord, StatusRecord } from './data.ts';

/**
 * The emulator's records (what it stores per emulated ConnectWise) and their read forms: the JSON
 * ConnectWise answers with, references carrying `{id, name|identifier, _info}` as on the real API.
 */

/** Builds an absolute API URL for `_info` links: `{site}/{codebase}apis/3.0/{path}`. */
export type Href = (path: string) => string;

export interface NoteState {
  id: number;
  ticketId: number;
  text: string;
  detailDescriptionFlag: boolean;
  internalAnalysisFlag: boolean;
  resolutionFlag: boolean;
  customerUpdatedFlag: boolean;
  processNotifications: boolean;
  memberId: number;
  contactId: number | null;
  dateCreated: string;
  createdBy: string;
}

export interface TicketState {
  id: number;
  summary: string;
  companyId: number;
  contactId: number | null;
  contactEmailAddress: string | null;
  /** The creator's own reference (ConnectWise's "External Reference"); deskhand's marker. */
  externalXRef: string | null;
  boardId: number;
  statusId: number;
  closedFlag: boolean;
  closedDate: string | null;
  closedBy: string | null;
  dateEntered: string;
  enteredBy: string;
  lastUpdated: string;
  updatedBy: string;
  notes: NoteState[];
}

export interface CallbackState {
  id: number;
  url: string;
  description: string;
  objectId: number;
  type: string;
  level: string;
  memberId: number;
  inactiveFlag: boolean;
  isSelfSuppressedFlag: boolean;
  connectWiseID: string;
  lastUpdated: string;
  updatedBy: string;
}

export interface Instance {
  seed: InstanceSeed;
  tickets: Map<number, TicketState>;
  callbacks: Map<number, CallbackState>;
}

export function renderTicket(href: Href, instance: Instance, t: TicketState): Record<string, unknown> {
  const { seed } = instance;
  const company = seed.companies.find((c) => c.id === t.companyId)!;
  const status = seed.statuses.find((s) => s.id === t.statusId)!;
  const board = seed.boards.find((b) => b.id === t.boardId)!;
  const contact = t.contactId === null ? undefined : seed.contacts.find((c) => c.id === t.contactId);
  return {
    id: t.id,
    summary: t.summary,
    recordType: 'ServiceTicket',
    board: { id: board.id, name: board.name, _info: { board_href: href(`service/boards/${board.id}`) } },
    status: { id: status.id, name: status.name, Sort: status.sortOrder, _info: { status_href: href(`service/boards/${board.id}/statuses/${status.id}`) } },
    company: { id: company.id, identifier: company.identifier, name: company.name, _info: { company_href: href(`company/companies/${company.id}`) } },
    ...(contact
      ? {
          contact: { id: contact.id, name: `${contact.firstName} ${contact.lastName}`.trim(), _info: { contact_href: href(`company/contacts/${contact.id}`) } },
          contactName: `${contact.firstName} ${contact.lastName}`.trim(),
        }
      : {}),
    ...(t.contactEmailAddress ? { contactEmailAddress: t.contactEmailAddress } : {}),
    ...(t.externalXRef ? { externalXRef: t.externalXRef } : {}),
    priority: { id: seed.priority.id, name: seed.priority.name, sort: 6, _info: {} },
    severity: 'Medium',
    impact: 'Medium',
    closedFlag: t.closedFlag,
    ...(t.closedDate ? { closedDate: t.closedDate, closedBy: t.closedBy } : {}),
    _info: {
      lastUpdated: t.lastUpdated,
      updatedBy: t.updatedBy,
      dateEntered: t.dateEntered,
      enteredBy: t.enteredBy,
      notes_href: href(`service/tickets/${t.id}/notes`),
    },
  };
}

export function renderNote(instance: Instance, n: NoteState): Record<string, unknown> {
  const member = instance.seed.members.find((m) => m.id === n.memberId);
  const contact = n.contactId === null ? undefined : instance.seed.contacts.find((c) => c.id === n.contactId);
  return {
    id: n.id,
    ticketId: n.ticketId,
    text: n.text,
    detailDescriptionFlag: n.detailDescriptionFlag,
    internalAnalysisFlag: n.internalAnalysisFlag,
    resolutionFlag: n.resolutionFlag,
    issueFlag: false,
    ...(member ? { member: { id: member.id, identifier: member.identifier, name: `${member.firstName} ${member.lastName}`.trim(), _info: {} } } : {}),
    ...(contact ? { contact: { id: contact.id, name: `${contact.firstName} ${contact.lastName}`.trim(), _info: {} } } : {}),
    customerUpdatedFlag: n.customerUpdatedFlag,
    processNotifications: n.processNotifications,
    dateCreated: n.dateCreated,
    createdBy: n.createdBy,
    internalFlag: n.internalAnalysisFlag,
    externalFlag: n.detailDescriptionFlag || n.resolutionFlag,
    _info: { lastUpdated: n.dateCreated, updatedBy: n.createdBy },
  };
}

export function renderCompany(href: Href, c: CompanyRecord): Record<string, unknown> {
  return {
    id: c.id,
    identifier: c.identifier,
    name: c.name,
    status: { id: 1, name: 'Active', _info: {} },
    types: [{ id: 1, name: 'Client', _info: {} }],
    website: c.website,
    deletedFlag: false,
    _info: { lastUpdated: '2024-01-01T00:00:00Z', updatedBy: 'deskhand', contacts_href: href(`company/contacts?conditions=company/id=${c.id}`) },
  };
}

export function renderContact(instance: Instance, c: ContactRecord): Record<string, unknown> {
  const company = instance.seed.companies.find((co) => co.id === c.companyId)!;
  const items: Record<string, unknown>[] = [
    { id: c.emailItemId, type: { id: 1, name: 'Email', _info: {} }, value: c.email, defaultFlag: true, communicationType: 'Email' },
  ];
  if (c.phone) items.push({ id: c.phoneItemId, type: { id: 2, name: 'Direct', _info: {} }, value: c.phone, defaultFlag: true, communicationType: 'Phone' });
  return {
    id: c.id,
    firstName: c.firstName,
    lastName: c.lastName,
    company: { id: company.id, identifier: company.identifier, name: company.name, _info: {} },
    title: c.title,
    inactiveFlag: false,
    ...(c.phone ? { defaultPhoneType: 'Direct', defaultPhoneNbr: c.phone } : {}),
    communicationItems: items,
    _info: { lastUpdated: '2024-01-01T00:00:00Z', updatedBy: 'deskhand' },
  };
}

export function renderMember(m: MemberRecord, roles: readonly { id: number; name: string }[] = []): Record<string, unknown> {
  const role = roles.find((r) => r.id === m.securityRoleId);
  // Keys never leave the emulator through the API, as in ConnectWise.
  return {
    id: m.id,
    identifier: m.identifier,
    firstName: m.firstName,
    lastName: m.lastName,
    officeEmail: m.officeEmail,
    title: m.title,
    inactiveFlag: m.inactiveFlag,
    securityRole: role ? { id: role.id, name: role.name, _info: {} } : null,
    _info: {},
  };
}

export function renderBoard(href: Href, instance: Instance, board: InstanceSeed['board'] = instance.seed.board): Record<string, unknown> {
  return { id: board.id, name: board.name, inactiveFlag: false, _info: { statuses_href: href(`service/boards/${board.id}/statuses`) } };
}

export function renderStatus(instance: Instance, s: StatusRecord): Record<string, unknown> {
  const board = instance.seed.boards.find((b) => b.id === s.boardId)!;
  return {
    id: s.id,
    name: s.name,
    board: { id: board.id, name: board.name, _info: {} },
    sortOrder: s.sortOrder,
    closedStatus: s.closedStatus,
    defaultFlag: s.defaultFlag,
    inactiveFlag: false,
    _info: {},
  };
}

export function renderCallback(c: CallbackState): Record<string, unknown> {
  return {
    id: c.id,
    description: c.description,
    url: c.url,
    objectId: c.objectId,
    type: c.type,
    level: c.level,
    memberId: c.memberId,
    payloadVersion: '3.0.0',
    inactiveFlag: c.inactiveFlag,
    isSoapCallbackFlag: false,
    isSelfSuppressedFlag: c.isSelfSuppressedFlag,
    connectWiseID: c.connectWiseID,
    _info: { lastUpdated: c.lastUpdated, updatedBy: c.updatedBy },
  };
}
