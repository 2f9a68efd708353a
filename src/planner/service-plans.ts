/**
 * Which Microsoft products an employee names are provided by which service plans, so that the
 * planner can tell a request for "Excel" or "Teams" is already met by the suite the employee holds
 * (Microsoft 365 E3 carries `OFFICESUBSCRIPTION` and `TEAMS1`) instead of asking for a licence.
 *
 * Plan names are Graph's `servicePlanName`, as Microsoft publishes them in "Product names and service
 * plan identifiers for licensing" (the emulator's `service-plans.ts` holds the demo world's SKUs).
 * A product is provided when any one of its plans is among the employee's. The lists are
 * deliberately narrow where a suite carries a lesser cousin of a product:
 * - Exchange is a mailbox plan, never `EXCHANGE_S_FOUNDATION` (the plumbing every SKU carries);
 * - Power BI Pro is `BI_AZURE_P2` only (`BI_AZURE_P0` is Power BI (free));
 * - Visio is the desktop app, `VISIO_CLIENT_SUBSCRIPTION` only (`VISIOONLINE` is Visio for the web);
 * - Project is the desktop app, `PROJECT_CLIENT_SUBSCRIPTION` only (`PROJECT_O365_P*` in the
 *   Office suites is "Project for Office", not Project);
 * - Intune is `INTUNE_A` or `INTUNE_SMBIZ`, not `INTUNE_O365` (basic mobility for Office 365);
 * - OneDrive comes with SharePoint in the suites, or as its own plan; not `ONEDRIVE_BASIC` (the 2 GB
 *   that Visio brings along);
 * - the Office desktop apps are `OFFICESUBSCRIPTION` (Microsoft 365 Apps for enterprise) and
 *   `OFFICE_BUSINESS` (for business), never `SHAREPOINTWAC` (Office for the web).
 *
 * Names are what employees type, matched without regard to case; where names overlap ("Excel" and
 * "Excel Online") the longest name found in the text is the one meant.
 */

export interface MicrosoftProduct {
  /** The product as Microsoft sells it, for notes and plans. */
  readonly product: string;
  /** What employees write for it: the full name and the common short forms. */
  readonly names: readonly string[];
  /** Service plans any one of which provides it (Graph's `servicePlanName`). */
  readonly plans: readonly string[];
  /**
   * Its short name is also an everyday English word ("Word", "Access", "Project", "To Do"): the
   * planner counts a mention only next to a cue (`PRODUCT_CUES`, or capitalised after a request verb:
   * "I need Project"). A name that holds a cue itself ("MS Word", `carriesCue`) is its own.
   */
  readonly needsContext?: boolean;
}

/** Words that mark a `needsContext` name as the product: "the Microsoft Forms app", "a Planner licence". */
export const PRODUCT_CUES: readonly string[] = ['Microsoft', 'MS', 'Office', 'app', 'application', 'desktop', 'licence', 'license', 'subscription', 'seat'];

/** Whether a name holds a cue word itself ("Microsoft Word", "MS Project", "Project desktop"): no other cue needed. */
export function carriesCue(name: string): boolean {
  const words = name.toLowerCase().split(/[^a-z0-9]+/);
  return PRODUCT_CUES.some((cue) => words.includes(cue.toLowerCase()));
}

const OFFICE_DESKTOP = ['OFFICESUBSCRIPTION', 'OFFICE_BUSINESS'];

export const MICROSOFT_PRODUCTS: readonly MicrosoftProduct[] = [
  { product: 'Microsoft Teams', names: ['Microsoft Teams', 'MS Teams', 'Teams'], plans: ['TEAMS1'] },
  {
    product: 'Microsoft 365 Apps',
    names: ['Microsoft 365 Apps', 'Office 365 apps', 'Office apps', 'Office desktop apps', 'Microsoft Office', 'MS Office', 'Office suite', 'Office 365', 'O365', 'Microsoft 365', 'M365'],
    plans: OFFICE_DESKTOP,
  },
  { product: 'Microsoft Excel', names: ['Microsoft Excel', 'MS Excel', 'Excel'], plans: OFFICE_DESKTOP },
  { product: 'Microsoft Word', names: ['Microsoft Word', 'MS Word', 'Word'], plans: OFFICE_DESKTOP, needsContext: true },
  { product: 'Microsoft PowerPoint', names: ['Microsoft PowerPoint', 'MS PowerPoint', 'PowerPoint', 'Power Point'], plans: OFFICE_DESKTOP },
  { product: 'Microsoft Outlook', names: ['Microsoft Outlook', 'MS Outlook', 'Outlook'], plans: OFFICE_DESKTOP },
  { product: 'Microsoft OneNote', names: ['Microsoft OneNote', 'MS OneNote', 'OneNote', 'One Note'], plans: OFFICE_DESKTOP },
  { product: 'Microsoft Access', names: ['Microsoft Access', 'MS Access', 'Access'], plans: OFFICE_DESKTOP, needsContext: true },
  // Microsoft announced Publisher's end of support for October 2026; employees still ask for it.
  { product: 'Microsoft Publisher', names: ['Microsoft Publisher', 'MS Publisher', 'Publisher'], plans: OFFICE_DESKTOP, needsContext: true },
  {
    product: 'Office for the web',
    names: ['Office for the web', 'Office Online', 'Office web apps', 'Word Online', 'Excel Online', 'PowerPoint Online', 'Word for the web', 'Excel for the web'],
    plans: ['SHAREPOINTWAC'],
  },
  // Not a bare "mailbox": "the shared mailbox" is access to someone else's, not a licence of one's own.
  { product: 'Exchange Online', names: ['Exchange Online', 'Exchange mailbox'], plans: ['EXCHANGE_S_ENTERPRISE', 'EXCHANGE_S_STANDARD'] },
  { product: 'SharePoint', names: ['SharePoint Online', 'SharePoint', 'Share Point'], plans: ['SHAREPOINTENTERPRISE', 'SHAREPOINTSTANDARD'] },
  {
    product: 'OneDrive',
    names: ['OneDrive for Business', 'OneDrive', 'One Drive'],
    plans: ['SHAREPOINTENTERPRISE', 'SHAREPOINTSTANDARD', 'ONEDRIVESTANDARD', 'ONEDRIVEENTERPRISE'],
  },
  { product: 'Microsoft Forms', names: ['Microsoft Forms', 'MS Forms', 'Forms'], plans: ['FORMS_PLAN_E1', 'FORMS_PLAN_E3', 'FORMS_PLAN_E5'], needsContext: true },
  { product: 'Microsoft Planner', names: ['Microsoft Planner', 'MS Planner', 'Planner'], plans: ['PROJECTWORKMANAGEMENT'], needsContext: true },
  { product: 'Microsoft Bookings', names: ['Microsoft Bookings', 'MS Bookings', 'Bookings'], plans: ['MICROSOFTBOOKINGS'], needsContext: true },
  {
    product: 'Microsoft Stream',
    names: ['Microsoft Stream', 'MS Stream', 'Stream'],
    plans: ['STREAM_O365_E1', 'STREAM_O365_E3', 'STREAM_O365_E5', 'STREAM_O365_SMB'],
    needsContext: true,
  },
  { product: 'Microsoft Sway', names: ['Microsoft Sway', 'Sway'], plans: ['SWAY'], needsContext: true },
  {
    product: 'Microsoft To Do',
    names: ['Microsoft To Do', 'MS To Do', 'Microsoft To-Do', 'To Do', 'To-Do', 'ToDo'],
    plans: ['BPOS_S_TODO_1', 'BPOS_S_TODO_2', 'BPOS_S_TODO_3'],
    needsContext: true,
  },
  {
    product: 'Microsoft Whiteboard',
    names: ['Microsoft Whiteboard', 'MS Whiteboard', 'Whiteboard'],
    plans: ['WHITEBOARD_PLAN1', 'WHITEBOARD_PLAN2', 'WHITEBOARD_PLAN3'],
    needsContext: true,
  },
  { product: 'Microsoft Loop', names: ['Microsoft Loop', 'MS Loop', 'Loop'], plans: ['MICROSOFT_LOOP'], needsContext: true },
  { product: 'Microsoft Clipchamp', names: ['Microsoft Clipchamp', 'Clipchamp'], plans: ['CLIPCHAMP'] },
  { product: 'Viva Engage', names: ['Viva Engage', 'Yammer'], plans: ['VIVAENGAGE_CORE', 'YAMMER_ENTERPRISE'] },
  // Pro only: a bare "Power BI" request is usually for sharing reports, which takes Pro.
  { product: 'Power BI Pro', names: ['Power BI Pro', 'Power BI', 'PowerBI'], plans: ['BI_AZURE_P2'] },
  { product: 'Power Apps', names: ['Microsoft Power Apps', 'Power Apps', 'PowerApps'], plans: ['POWERAPPS_O365_P1', 'POWERAPPS_O365_P2', 'POWERAPPS_O365_P3'] },
  {
    product: 'Power Automate',
    names: ['Microsoft Power Automate', 'Power Automate', 'PowerAutomate', 'Microsoft Flow', 'MS Flow'],
    plans: ['FLOW_O365_P1', 'FLOW_O365_P2', 'FLOW_O365_P3'],
  },
  { product: 'Teams Phone', names: ['Microsoft Teams Phone', 'Teams Phone', 'Teams Phone System', 'Phone System'], plans: ['MCOEV'] },
  { product: 'Audio Conferencing', names: ['Microsoft 365 Audio Conferencing', 'Teams Audio Conferencing', 'Audio Conferencing', 'dial-in conferencing'], plans: ['MCOMEETADV'] },
  { product: 'Microsoft Visio', names: ['Microsoft Visio', 'MS Visio', 'Visio'], plans: ['VISIO_CLIENT_SUBSCRIPTION'] },
  {
    product: 'Microsoft Project',
    names: ['Microsoft Project', 'MS Project', 'Project Professional', 'Project desktop', 'Project'],
    plans: ['PROJECT_CLIENT_SUBSCRIPTION'],
    needsContext: true,
  },
  { product: 'Microsoft Intune', names: ['Microsoft Intune', 'Intune', 'Company Portal'], plans: ['INTUNE_A', 'INTUNE_SMBIZ'] },
  {
    product: 'Microsoft Defender for Endpoint',
    names: ['Microsoft Defender for Endpoint', 'Defender for Endpoint', 'Microsoft Defender for Business', 'Defender for Business'],
    plans: ['WINDEFATP', 'MDE_LITE', 'MDE_SMB'],
  },
  {
    product: 'Microsoft Defender for Office 365',
    names: ['Microsoft Defender for Office 365', 'Defender for Office 365', 'Defender for Office'],
    plans: ['ATP_ENTERPRISE', 'THREAT_INTELLIGENCE'],
  },
  { product: 'Microsoft Entra ID P1', names: ['Microsoft Entra ID P1', 'Entra ID P1', 'Azure AD Premium P1', 'Azure AD P1'], plans: ['AAD_PREMIUM'] },
  { product: 'Microsoft Entra ID P2', names: ['Microsoft Entra ID P2', 'Entra ID P2', 'Azure AD Premium P2', 'Azure AD P2'], plans: ['AAD_PREMIUM_P2'] },
];

/** The products an employee holding these service plans already has (e.g. the plans of all their SKUs). */
export function productsProvidedBy(planNames: readonly string[]): MicrosoftProduct[] {
  const held = new Set(planNames);
  return MICROSOFT_PRODUCTS.filter((p) => p.plans.some((plan) => held.has(plan)));
}

/** The plans that provide a product, by its product name or any name an employee writes; none when unknown. */
export function plansFor(product: string): readonly string[] {
  const wanted = product.trim().toLowerCase();
  const found = MICROSOFT_PRODUCTS.find((p) => p.product.toLowerCase() === wanted || p.names.some((n) => n.toLowerCase() === wanted));
  return found?.plans ?? [];
}
