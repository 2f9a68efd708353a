import { createHash } from 'node:crypto';
import { type World, type WorldClient, type WorldEmployee, type WorldGroup, type WorldMsp, worldSchema } from './fixture.ts';

/**
 * A larger world shaped like the demo fixture, for benchmarks: N MSPs (ConnectWise as PSA, Execute
 * Mode by default), each with M clients that look like Contoso (the same kinds of groups, licenses,
 * runbooks and tool policies) with generated employees in a CEO → department head → staff tree.
 * Deterministic: the same options always give the same world (names, groups, licenses, managers),
 * so the emulators derive the same ids on every run.
 */
export interface GenerateWorldOptions {
  /** MSPs, each with its own ConnectWise instance and audit chain. Default 3. */
  msps?: number;
  /** Clients of each MSP. Default 3. */
  clientsPerMsp?: number;
  /** Employees of each client (at least 4: a CEO and department heads come first). Default 20. */
  employeesPerClient?: number;
  /** Changes every name and choice; default `deskhand-bench`. */
  seed?: string;
}

/** Applications every generated client manages through a security group (as Contoso's runbook lists them). */
export const GENERATED_APPS: readonly { app: string; group: string; restriction?: string }[] = [
  { app: 'Zendesk', group: 'SG-App-Zendesk' },
  { app: 'Salesforce', group: 'SG-App-Salesforce' },
  { app: 'Adobe Creative Cloud', group: 'SG-App-AdobeCC', restriction: "paid seat: the requester's manager must approve" },
  { app: 'Figma', group: 'SG-App-Figma' },
  { app: 'GitHub', group: 'SG-App-GitHub', restriction: 'Engineering department only; anyone else: escalate' },
  { app: 'Tableau', group: 'SG-App-Tableau' },
  { app: 'DocuSign', group: 'SG-App-DocuSign' },
  { app: 'VPN', group: 'SG-VPN-Users' },
];

/** Apps any employee may get with a technician's approval alone (no department rule, no manager approval). */
export const FREELY_GRANTED_APPS: readonly { app: string; group: string }[] = GENERATED_APPS.filter(
  (a) => !a.restriction && a.app !== 'VPN',
);

const FIRST_NAMES = [
  'Aaron', 'Abigail', 'Adrian', 'Aisha', 'Alana', 'Alberto', 'Alice', 'Amara', 'Andre', 'Anika', 'Arjun', 'Astrid', 'Beatriz', 'Benedict',
  'Bianca', 'Bruno', 'Caleb', 'Camila', 'Carmen', 'Cedric', 'Chloe', 'Colin', 'Dalia', 'Damian', 'Dana', 'Darius', 'Elena', 'Elliot',
  'Emeka', 'Esther', 'Fatima', 'Felix', 'Fiona', 'Gabriel', 'Grace', 'Hana', 'Hector', 'Helena', 'Hugo', 'Ingrid', 'Isaac', 'Ivy',
  'Jasper', 'Julia', 'Kai', 'Kamala', 'Kenji', 'Laila', 'Leon', 'Lucia', 'Malik', 'Mara', 'Mateo', 'Maya', 'Nadia', 'Nikolai', 'Nora',
  'Oliver', 'Olga', 'Oscar', 'Paloma', 'Quentin', 'Rafael', 'Rania', 'Rohan', 'Rosa', 'Samir', 'Sofia', 'Tariq', 'Tessa', 'Tobias',
  'Uma', 'Victor', 'Wanda', 'Xavier', 'Yara', 'Yusuf', 'Zara', 'Zoltan',
];

const LAST_NAMES = [
  'Abbott', 'Achebe', 'Alvarez', 'Andersen', 'Baker', 'Banerjee', 'Bauer', 'Becker', 'Brennan', 'Castillo', 'Chen', 'Costa', 'Dahl',
  'Delgado', 'Dubois', 'Eriksen', 'Fischer', 'Fontaine', 'Garcia', 'Gallagher', 'Haddad', 'Hansen', 'Holm', 'Ibrahim', 'Ito', 'Jansen',
  'Kaur', 'Keller', 'Kowalski', 'Larsen', 'Lindqvist', 'Lopez', 'Marsh', 'Meyer', 'Moreau', 'Nakamura', 'Novak', 'Okafor', 'Olsen',
  'Park', 'Patel', 'Petrov', 'Quinn', 'Ramos', 'Reyes', 'Rossi', 'Sato', 'Schmidt', 'Silva', 'Singh', 'Sorensen', 'Tanaka', 'Torres',
  'Varga', 'Vogel', 'Walsh', 'Weber', 'Wong', 'Yilmaz', 'Young', 'Zhang', 'Zimmermann',
];

const MSP_NAMES = [
  ['harbor', 'Harbor IT Partners'],
  ['summit', 'Summit Managed IT'],
  ['bluepeak', 'Blue Peak Technology Services'],
  ['ironbridge', 'Ironbridge Networks'],
  ['lakeside', 'Lakeside IT Services'],
  ['northstar', 'Northstar Managed Services'],
  ['redwood', 'Redwood Tech Partners'],
  ['cobalt', 'Cobalt IT Solutions'],
] as const;

const CLIENT_NAMES = [
  ['proseware', 'Proseware Inc'],
  ['relecloud', 'Relecloud'],
  ['wingtip', 'Wingtip Toys'],
  ['lucerne', 'Lucerne Publishing'],
  ['fourthcoffee', 'Fourth Coffee'],
  ['coho', 'Coho Winery'],
  ['trey', 'Trey Research'],
  ['southridge', 'Southridge Video'],
  ['humongous', 'Humongous Insurance'],
  ['margies', "Margie's Travel"],
  ['alpineski', 'Alpine Ski House'],
  ['blueyonder', 'Blue Yonder Airlines'],
  ['wideworld', 'Wide World Importers'],
  ['tailwind', 'Tailwind Traders'],
  ['graphicdesign', 'Graphic Design Institute'],
  ['firstup', 'First Up Consultants'],
] as const;

interface Department {
  name: string;
  head: string;
  staff: readonly string[];
  list?: string;
  /** Groups the department's people usually hold. */
  usual: readonly string[];
}

const DEPARTMENTS: readonly Department[] = [
  { name: 'Sales', head: 'VP Sales', staff: ['Account Executive', 'Sales Development Rep', 'Account Manager'], list: 'DL-Sales', usual: ['SG-App-Salesforce'] },
  { name: 'Marketing', head: 'Marketing Manager', staff: ['Marketing Assistant', 'Designer', 'Content Writer'], list: 'DL-Marketing', usual: ['SG-App-Figma'] },
  { name: 'Engineering', head: 'Engineering Manager', staff: ['Software Engineer', 'QA Engineer', 'DevOps Engineer'], list: 'DL-Engineering', usual: ['SG-App-GitHub', 'SG-VPN-Users'] },
  { name: 'Finance', head: 'Finance Director', staff: ['Accountant', 'Accounts Payable Clerk', 'Financial Analyst'], list: 'DL-Finance', usual: ['SG-Finance-Share'] },
  { name: 'Support', head: 'Support Lead', staff: ['Support Agent', 'Customer Success Specialist'], usual: ['SG-App-Zendesk', 'SM-Support-Inbox'] },
  { name: 'Operations', head: 'Operations Manager', staff: ['Field Technician', 'Office Coordinator'], usual: ['SG-VPN-Users'] },
];

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same sequence everywhere. */
function prng(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}`);
  return n;
}

export function generateWorld(options: GenerateWorldOptions = {}): World {
  const mspCount = positiveInt(options.msps, 3, 'msps');
  const clientsPerMsp = positiveInt(options.clientsPerMsp, 3, 'clientsPerMsp');
  const employeesPerClient = positiveInt(options.employeesPerClient, 20, 'employeesPerClient', 4);
  if (employeesPerClient > FIRST_NAMES.length * LAST_NAMES.length) throw new Error('too many employees per client for the name pools');
  const seed = options.seed ?? 'deskhand-bench';
  const msps: WorldMsp[] = [];
  const clients: WorldClient[] = [];
  const usedStaffEmails = new Set<string>();
  for (let m = 0; m < mspCount; m++) {
    const random = prng(`${seed}/msp/${m}`);
    const [baseId, baseName] = MSP_NAMES[m % MSP_NAMES.length]!;
    const round = Math.floor(m / MSP_NAMES.length);
    const mspId = round === 0 ? baseId : `${baseId}${round + 1}`;
    const mspName = round === 0 ? baseName : `${baseName} ${round + 1}`;
    const mailDomain = `${mspId}-it.example`;
    const roles = ['msp_admin', 'msp_technician', 'msp_technician', 'msp_billing'];
    const users = roles.map((role) => {
      let name = '';
      let email = '';
      do {
        name = `${pick(random, FIRST_NAMES)} ${pick(random, LAST_NAMES)}`;
        email = `${name.toLowerCase().replace(/\s+/g, '.')}@${mailDomain}`;
      } while (usedStaffEmails.has(email));
      usedStaffEmails.add(email);
      return { email, name, role };
    });
    const clientIds: string[] = [];
    for (let c = 0; c < clientsPerMsp; c++) {
      const index = m * clientsPerMsp + c;
      const [baseSlug, baseClientName] = CLIENT_NAMES[index % CLIENT_NAMES.length]!;
      const clientRound = Math.floor(index / CLIENT_NAMES.length);
      const slug = clientRound === 0 ? baseSlug : `${baseSlug}${clientRound + 1}`;
      const name = clientRound === 0 ? baseClientName : `${baseClientName} ${clientRound + 1}`;
      clients.push(generateClient({ seed, mspId, slug, name, employees: employeesPerClient }));
      clientIds.push(slug);
    }
    msps.push({
      id: mspId,
      name: mspName,
      defaultOperatingMode: 'execute',
      psa: 'connectwise',
      approvalChannels: ['connectwise'],
      users,
      clients: clientIds,
    });
  }
  return worldSchema.parse({
    about: `A generated world for benchmarks (seed ${seed}): ${mspCount} MSPs on ConnectWise, ${clientsPerMsp} clients each, ${employeesPerClient} employees per client, shaped like the demo fixture's Contoso.`,
    msps,
    clients,
  });
}

function generateClient(input: { seed: string; mspId: string; slug: string; name: string; employees: number }): WorldClient {
  const random = prng(`${input.seed}/client/${input.slug}`);
  const domain = `${input.slug}.example`;
  const groups: WorldGroup[] = [
    ...GENERATED_APPS.map((a) => ({ name: a.group, kind: 'security' as const, app: a.app })),
    { name: 'SG-Finance-Share', kind: 'security', app: 'Finance file share' },
    { name: 'SG-Admins-Privileged', kind: 'security', privileged: true },
    { name: 'DL-All-Staff', kind: 'distribution' },
    ...DEPARTMENTS.filter((d) => d.list).map((d) => ({ name: d.list!, kind: 'distribution' as const })),
    { name: 'SM-Accounts-Payable', kind: 'shared_mailbox', mailbox: `ap@${domain}` },
    { name: 'SM-Support-Inbox', kind: 'shared_mailbox', mailbox: `support@${domain}` },
  ];
  const taken = new Set<string>();
  const person = (): { name: string; upn: string } => {
    for (;;) {
      const name = `${pick(random, FIRST_NAMES)} ${pick(random, LAST_NAMES)}`;
      const upn = `${name.toLowerCase().replace(/\s+/g, '.')}@${domain}`;
      if (!taken.has(upn)) {
        taken.add(upn);
        return { name, upn };
      }
    }
  };
  const phone = (i: number) => `+1 425 555 ${String(1000 + ((i * 37 + input.slug.length * 101) % 9000)).padStart(4, '0')}`;
  const employees: WorldEmployee[] = [];
  const ceo = person();
  employees.push({
    upn: ceo.upn,
    name: ceo.name,
    title: 'Chief Executive Officer',
    department: 'Executive',
    manager: null,
    groups: ['DL-All-Staff', 'SG-VPN-Users', 'SG-App-Salesforce', 'SG-Admins-Privileged'],
    licenses: ['SPE_E3'],
    phone: phone(0),
    authMethods: ['password', 'microsoftAuthenticator', 'phone'],
    usageLocation: 'US',
  });
  const departmentCount = Math.min(DEPARTMENTS.length, Math.max(2, Math.round((input.employees - 1) / 4)), input.employees - 1);
  const departments = DEPARTMENTS.slice(0, departmentCount);
  const heads = new Map<string, string>();
  const powerBiSeats = 10;
  let powerBiUsed = 0;
  for (let i = 1; i < input.employees; i++) {
    const department = departments[(i - 1) % departments.length]!;
    const isHead = !heads.has(department.name);
    const who = person();
    if (isHead) heads.set(department.name, who.upn);
    const groupSet = new Set<string>(['DL-All-Staff']);
    if (department.list) groupSet.add(department.list);
    for (const usual of department.usual) if (isHead || random() < 0.7) groupSet.add(usual);
    if (isHead) groupSet.add('SG-VPN-Users');
    // A few extra applications, so that who lacks what differs from person to person.
    for (const app of FREELY_GRANTED_APPS) if (random() < 0.12) groupSet.add(app.group);
    const licenses = ['SPE_E3'];
    if ((isHead || random() < 0.15) && powerBiUsed < powerBiSeats - 2) {
      licenses.push('POWER_BI_PRO');
      powerBiUsed++;
    }
    employees.push({
      upn: who.upn,
      name: who.name,
      title: isHead ? department.head : pick(random, department.staff),
      department: department.name,
      manager: isHead ? ceo.upn : heads.get(department.name)!,
      groups: [...groupSet],
      licenses,
      phone: phone(i),
      authMethods: random() < 0.2 ? ['password', 'microsoftAuthenticator', 'phone'] : ['password', 'microsoftAuthenticator'],
      usageLocation: 'US',
    });
  }
  return {
    id: input.slug,
    msp: input.mspId,
    name: input.name,
    domain,
    operatingMode: 'inherit',
    licenses: [
      { sku: 'SPE_E3', name: 'Microsoft 365 E3', total: input.employees + 5 },
      { sku: 'VISIOCLIENT', name: 'Visio Plan 2', total: 3 },
      { sku: 'PROJECTPROFESSIONAL', name: 'Project Plan 3', total: 3 },
      { sku: 'POWER_BI_PRO', name: 'Power BI Pro', total: powerBiSeats },
    ],
    groups,
    employees,
    runbooks: runbooks(domain),
    toolPolicies: {
      'm365.revoke_sessions': { policy: 'auto' },
      'm365.reset_password': { policy: 'approval_needed', requireManagerApproval: true },
      'm365.reset_mfa': { policy: 'approval_needed', requireManagerApproval: true },
    },
    senderMailbox: `it-helpdesk@${domain}`,
  };
}

/** The fixture's Contoso runbooks, in the same words, for another client. */
function runbooks(domain: string): { title: string; body: string }[] {
  const appLines = GENERATED_APPS.map((a) => `${a.app}: ${a.group}${a.restriction ? ` (${a.restriction})` : ''}`);
  return [
    {
      title: 'Application access',
      body: [
        "Access to business applications is granted by membership of the application's security group in Microsoft 365.",
        ...appLines,
        'Finance file share (the F: drive): SG-Finance-Share (Finance department only; anyone else: escalate)',
        'Applications not listed here are not managed by the helpdesk: escalate to a technician.',
        'Never add anyone to SG-Admins-Privileged or any other administrative group through the helpdesk: escalate to Security.',
      ].join('\n'),
    },
    {
      title: 'Shared mailboxes and distribution lists',
      body:
        "Shared mailbox access is granted through the mailbox's group: Accounts Payable (ap@) is SM-Accounts-Payable, Support inbox (support@) is SM-Support-Inbox.\n" +
        `Distribution lists: DL-All-Staff, ${DEPARTMENTS.filter((d) => d.list).map((d) => d.list).join(', ')}. Employees may join or leave their own department's list; other lists need the request to come from their manager.`,
    },
    {
      title: 'Passwords and MFA',
      body:
        'Self-reported forgotten password: reset the password with change required at next sign-in, and the technician gives the temporary password to the employee by phone or in person, never in the ticket.\n' +
        'Lost or replaced phone: remove the registered authentication methods other than the password so the employee can register again, and revoke sign-in sessions.\n' +
        'Suspected compromise (phishing link clicked, unknown sign-ins): reset the password AND revoke all sessions at once (do not wait for Security), and say in the note that Security must review the account.\n' +
        'Still signed in on a shared or borrowed computer, no sign of compromise: revoke all sign-in sessions.',
    },
    {
      title: 'Licenses',
      body: 'Microsoft 365 E3 is the standard license. Visio Plan 2, Project Plan 3 and Power BI Pro are assigned on request when a seat is free. If no seat is free, escalate: the account manager buys more.',
    },
    {
      title: 'Leavers',
      body:
        "When HR or the leaver's manager reports a leaver: block sign-in (disable the account) and revoke all sessions the same day. Licenses are removed after 30 days by a technician, not by the helpdesk.\n" +
        'Returners (back from leave, rehired), reported by HR or their manager: enable the account.',
    },
    {
      title: 'Printers and hardware',
      body: `Printers: Floor 2 HP LaserJet M607 (PRN-F2), Floor 3 Canon iR-ADV C5840 (PRN-F3). Paper jams and hardware faults are handled on site: escalate to a field technician. Laptops are Dell Latitude 7440; hardware faults go to Dell warranty via a technician. Questions about ${domain} equipment go to the office coordinator.`,
    },
  ];
}
