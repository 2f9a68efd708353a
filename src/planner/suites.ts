import { normalise } from './text.ts';

/**
 * Well-known suites of other vendors and the applications that come with them. Employees ask for
 * the application ("Photoshop", "FigJam"); the client's tenant and runbooks grant the suite
 * ("Adobe Creative Cloud: SG-App-AdobeCC"). An application of a suite counts only where the
 * client has a group for the suite: this table never invents access, it only recognises that
 * "Photoshop" is asked through the suite's group, so someone already in it needs nothing.
 *
 * Microsoft's own suites are read from the licences' service plans instead (service-plans.ts).
 *
 * Kept small and to suites whose apps are not licensed one by one in the usual MSP client's setup;
 * add a suite here when a client's runbook grants one.
 */
export interface Suite {
  /** The suite's names, as runbooks and group descriptions write them. */
  readonly names: readonly string[];
  /** The applications it brings, as employees write them. */
  readonly apps: readonly string[];
}

export const SUITES: readonly Suite[] = [
  {
    names: ['Adobe Creative Cloud', 'Creative Cloud', 'Adobe CC'],
    apps: [
      'Photoshop', 'Illustrator', 'InDesign', 'Premiere Pro', 'Premiere', 'After Effects', 'Lightroom', 'Acrobat Pro', 'Acrobat',
      'Adobe XD', 'Audition', 'Animate', 'Dreamweaver', 'Adobe Express', 'Adobe Fonts', 'Substance 3D', 'Media Encoder', 'InCopy',
    ],
  },
  { names: ['Figma'], apps: ['FigJam', 'Figma Slides', 'Figma Dev Mode'] },
  {
    names: ['Google Workspace', 'G Suite'],
    apps: ['Gmail', 'Google Drive', 'Google Docs', 'Google Sheets', 'Google Slides', 'Google Meet', 'Google Calendar', 'Google Chat'],
  },
  { names: ['Autodesk AEC Collection', 'AEC Collection'], apps: ['AutoCAD', 'Revit', 'Civil 3D', 'Navisworks', '3ds Max', 'InfraWorks'] },
  {
    names: ['JetBrains All Products Pack', 'JetBrains'],
    apps: ['IntelliJ IDEA', 'IntelliJ', 'PyCharm', 'WebStorm', 'Rider', 'GoLand', 'DataGrip', 'PhpStorm', 'CLion', 'RubyMine'],
  },
  { names: ['Zendesk Suite', 'Zendesk'], apps: ['Zendesk Support', 'Zendesk Guide', 'Zendesk Talk', 'Zendesk Chat', 'Zendesk Messaging'] },
  { names: ['Zoho One'], apps: ['Zoho CRM', 'Zoho Books', 'Zoho Desk', 'Zoho Projects', 'Zoho Mail'] },
  { names: ['Atlassian Cloud', 'Atlassian'], apps: ['Jira', 'Confluence', 'Trello', 'Bitbucket'] },
];

/** The apps of the suite a name (a runbook's, a group description's) stands for; none when it is no suite. */
export function appsOfSuite(name: string): readonly string[] {
  const n = normalise(name);
  return SUITES.find((s) => s.names.some((suiteName) => normalise(suiteName) === n))?.apps ?? [];
}

/** The suite an app belongs to, by its name as written, for notes ("Photoshop is part of Adobe Creative Cloud"). */
export function suiteOfApp(app: string): string | null {
  const n = normalise(app);
  return SUITES.find((s) => s.apps.some((a) => normalise(a) === n))?.names[0] ?? null;
}
