/**
 * What deskhand's ConnectWise API member needs, in ConnectWise's words: a security role's settings
 * are per module function ("Service Desk › Service Tickets") with an Add, Edit, Delete and Inquire
 * level each (All, Mine or None in the UI: System › Security Roles). The doctor checks these, the
 * emulator enforces them, and the README lists them; one table for the three.
 *
 * Sources: the module-function names and levels as integrators publish them for ConnectWise PSA
 * (N-able N-central's "API Member security matrix", Rewst's "least privilege" page, MSP360's
 * "required permissions": Service Tickets, Close Service Tickets, Company Maintenance, Contacts,
 * Member Maintenance, Table Setup with its Service Board table); the security-role settings API
 * (`GET system/securityRoles/{id}/settings`: `moduleFunctionName`, `addLevel`, `editLevel`,
 * `deleteLevel`, `inquireLevel`) from ConnectWise's OpenAPI document.
 *
 * Unverified (ConnectWise publishes no per-endpoint table): that adding a ticket note needs
 * Service Tickets Edit (rather than Add), and that `system/callbacks` is governed by System ›
 * Table Setup (Inquire to list, Add/Edit/Delete to register, update and remove). The doctor reads
 * what the role grants; an MSP whose ConnectWise answers differently sees the 403 in deskhand's log
 * and the note on the request.
 */

export type Level = 'add' | 'edit' | 'delete' | 'inquire';

export interface RoleSetting {
  /** The security role's module, as the UI shows it ("Service Desk"). */
  module: string;
  /** The module function ("Service Tickets"), `moduleFunctionName` in the API. */
  moduleFunction: string;
}

export const SETTINGS = {
  serviceTickets: { module: 'Service Desk', moduleFunction: 'Service Tickets' },
  closeServiceTickets: { module: 'Service Desk', moduleFunction: 'Close Service Tickets' },
  companyMaintenance: { module: 'Companies', moduleFunction: 'Company Maintenance' },
  contacts: { module: 'Companies', moduleFunction: 'Contacts' },
  tableSetup: { module: 'System', moduleFunction: 'Table Setup' },
  memberMaintenance: { module: 'System', moduleFunction: 'Member Maintenance' },
  securityRoles: { module: 'System', moduleFunction: 'Security Roles' },
} as const satisfies Record<string, RoleSetting>;

export type SettingKey = keyof typeof SETTINGS;

export interface Need {
  setting: SettingKey;
  level: Level;
  /** Why deskhand needs it, in a few words. */
  why: string;
}

export interface ToolNeeds {
  /** The name the doctor reports it under. */
  tool: string;
  /** What stops working without it. */
  what: string;
  needs: readonly Need[];
}

/** Every tool of the ConnectWise module and what its role must grant (level All). */
export const TOOL_NEEDS: readonly ToolNeeds[] = [
  {
    tool: 'ticket.read',
    what: 'taking tickets in (callbacks and the poll), reading the request, its requester and its company',
    needs: [
      { setting: 'serviceTickets', level: 'inquire', why: 'read tickets and their notes' },
      { setting: 'companyMaintenance', level: 'inquire', why: "read a ticket's company" },
      { setting: 'contacts', level: 'inquire', why: "read a ticket's contact (the requester's email)" },
    ],
  },
  {
    tool: 'ticket.note',
    what: 'the internal notes (diagnosis, plan, approval notice, decision) and the reply to the employee',
    needs: [{ setting: 'serviceTickets', level: 'edit', why: 'add notes to tickets' }],
  },
  {
    tool: 'ticket.status',
    what: "moving a ticket through the MSP's statuses (waiting, in progress, resolved)",
    needs: [
      { setting: 'serviceTickets', level: 'edit', why: "change a ticket's status" },
      { setting: 'closeServiceTickets', level: 'edit', why: 'move a ticket to a closed status (Resolved)' },
    ],
  },
  {
    tool: 'boards.read',
    what: "listing boards and their statuses (the status mapping per board; status ids differ per board)",
    needs: [{ setting: 'tableSetup', level: 'inquire', why: 'list service boards and their statuses (Table Setup: Service Board)' }],
  },
  {
    tool: 'callbacks',
    what: 'callbacks: new tickets come in at once instead of at the next poll',
    needs: [
      { setting: 'tableSetup', level: 'inquire', why: 'list callback registrations' },
      { setting: 'tableSetup', level: 'add', why: 'register the callback' },
      { setting: 'tableSetup', level: 'edit', why: 'update the callback (its URL, switching it back on)' },
      { setting: 'tableSetup', level: 'delete', why: 'remove an old callback of this integration' },
    ],
  },
];

/** What the doctor itself reads (optional: without them it cannot see the write levels, and says so). */
export const DOCTOR_NEEDS: readonly Need[] = [
  { setting: 'memberMaintenance', level: 'inquire', why: "read the API member (to find its security role) — for the doctor only" },
  { setting: 'securityRoles', level: 'inquire', why: "read the security role's settings — for the doctor only" },
];

/** "Service Desk › Service Tickets: Edit" */
export function needName(need: Pick<Need, 'setting' | 'level'>): string {
  const setting = SETTINGS[need.setting];
  return `${setting.module} › ${setting.moduleFunction}: ${need.level[0]!.toUpperCase()}${need.level.slice(1)}`;
}

/** The fix for a missing need, in the words of ConnectWise's UI. */
export function needFix(need: Pick<Need, 'setting' | 'level'>): string {
  const setting = SETTINGS[need.setting];
  const level = `${need.level[0]!.toUpperCase()}${need.level.slice(1)} Level`;
  return `In ConnectWise, System › Security Roles › (the API member's role) › ${setting.module} › ${setting.moduleFunction}: set ${level} to All.`;
}
