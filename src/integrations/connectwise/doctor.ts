import { describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, DoctorCheck, DoctorHost, DoctorReport, ToolDoctorReport } from '../module.ts';
import type { ConnectWiseClient } from './client.ts';
import { connectWiseOf } from './intake.ts';
import { DOCTOR_NEEDS, type Need, needFix, needName, SETTINGS, TOOL_NEEDS } from './permissions.ts';
import type { ConnectWiseSecurityRoleSetting } from './schemas.ts';

/**
 * `deskhand doctor` for ConnectWise: signs in, then finds out, for every tool of the module, whether
 * the API member's security role grants what it needs (permissions.ts), with the fix for each
 * missing level. Reads only.
 *
 * Reads are tried (one record of each list): a 403 is the answer. Writes cannot be tried without
 * writing, so their levels are read from the member's security role (`system/members` for its role,
 * `system/securityRoles/{id}/settings` for the levels), which needs System › Member Maintenance and
 * System › Security Roles Inquire; without them those tools are reported as `error` (could not be
 * checked), saying which setting would let the doctor see.
 */

/** A read the doctor tries, and the role setting that governs it. */
const READS: readonly { path: string; need: Pick<Need, 'setting' | 'level'>; what: string }[] = [
  { path: 'service/tickets', need: { setting: 'serviceTickets', level: 'inquire' }, what: 'read a ticket' },
  { path: 'company/companies', need: { setting: 'companyMaintenance', level: 'inquire' }, what: 'read a company' },
  { path: 'company/contacts', need: { setting: 'contacts', level: 'inquire' }, what: 'read a contact' },
  { path: 'service/boards', need: { setting: 'tableSetup', level: 'inquire' }, what: 'list service boards' },
  { path: 'system/callbacks', need: { setting: 'tableSetup', level: 'inquire' }, what: 'list callback registrations' },
];

type Outcome = { known: true; check: DoctorCheck } | { known: false; check: DoctorCheck };

export async function doctorConnectWise(integration: ConnectedIntegration, host: DoctorHost): Promise<DoctorReport> {
  const { client } = connectWiseOf(integration);
  const checks: DoctorCheck[] = [];

  const signIn = await signInCheck(client);
  checks.push(signIn.check);
  if (!signIn.check.ok) {
    // Nothing else can be looked at: every tool depends on signing in.
    const status = signIn.known ? 'missing' : 'error';
    return { ok: false, checks, tools: TOOL_NEEDS.map((t) => ({ tool: t.tool, status, missing: [signIn.check] })) };
  }

  // What each (setting, level) turned out to be: from a read tried, or from the role's settings.
  const found = new Map<string, Outcome>();
  for (const read of READS) {
    const key = needName(read.need);
    const outcome = await readCheck(client, read.path, read.need, read.what);
    // A read refused settles the level; one allowed may share its level with another read (Table Setup).
    const previous = found.get(key);
    if (!previous || (previous.check.ok && !outcome.check.ok)) found.set(key, outcome);
  }

  const role = await roleSettings(client, String(integration.settings['apiMemberIdentifier'] ?? ''));
  checks.push(role.check);
  const needed = [...new Map(TOOL_NEEDS.flatMap((t) => t.needs).map((n) => [needName(n), n])).values()];
  for (const need of needed) {
    const key = needName(need);
    if (found.has(key)) continue;
    if (!role.settings) {
      found.set(key, {
        known: false,
        check: { name: key, ok: false, detail: `could not be checked without writing: ${role.check.detail}`, ...(role.check.fix ? { fix: role.check.fix } : {}) },
      });
      continue;
    }
    found.set(key, { known: true, check: levelCheck(role.settings, need) });
  }
  for (const outcome of found.values()) checks.push(outcome.check);

  const tools: ToolDoctorReport[] = TOOL_NEEDS.map((tool) => {
    const outcomes = [...new Map(tool.needs.map((n) => [needName(n), found.get(needName(n))!])).values()];
    const failed = outcomes.filter((o) => !o.check.ok);
    const status = failed.length === 0 ? 'ok' : failed.some((o) => o.known) ? 'missing' : 'error';
    return { tool: tool.tool, status, missing: failed.map((o) => o.check) };
  });
  const ok = tools.every((t) => t.status === 'ok');
  if (!ok) host.logger.info({ integration: integration.name, missing: tools.filter((t) => t.status !== 'ok').map((t) => t.tool) }, 'ConnectWise doctor: some tools lack what they need');
  return { ok, checks, tools };
}

/** Signing in is the first read: 401 is the keys, a 400 naming the clientId is the clientId. */
async function signInCheck(client: ConnectWiseClient): Promise<Outcome> {
  const name = 'ConnectWise API sign-in (company id, public and private key, clientId)';
  try {
    await client.probe('service/tickets');
    return { known: true, check: { name, ok: true, detail: `signed in to ${new URL(client.siteUrl).host}` } };
  } catch (error) {
    const status = statusOf(error);
    // A 403 here is the role, not the keys: signed in.
    if (status === 403) return { known: true, check: { name, ok: true, detail: `signed in to ${new URL(client.siteUrl).host}` } };
    if (status === 401) {
      return {
        known: true,
        check: {
          name,
          ok: false,
          detail: 'the API keys were refused (HTTP 401)',
          fix: "Check the company id (the one you sign in to ConnectWise with) and the API member's public and private keys (System › Members › API Members › the member › API Keys; a private key is shown only once: make a new pair if it is lost).",
        },
      };
    }
    if (status === 400 && /client\s*id/i.test(describeError(error))) {
      return {
        known: true,
        check: { name, ok: false, detail: 'the clientId was refused (HTTP 400)', fix: 'Register the integration at https://developer.connectwise.com/ClientID and configure its clientId.' },
      };
    }
    return { known: false, check: { name, ok: false, detail: `could not reach ConnectWise: ${describeError(error)}`, fix: 'Check the site URL and the codebase, and that ConnectWise answers from this server.' } };
  }
}

async function readCheck(client: ConnectWiseClient, path: string, need: Pick<Need, 'setting' | 'level'>, what: string): Promise<Outcome> {
  const name = needName(need);
  try {
    await client.probe(path);
    return { known: true, check: { name, ok: true, detail: `can ${what} (GET ${path})` } };
  } catch (error) {
    if (statusOf(error) === 403) return { known: true, check: { name, ok: false, detail: `cannot ${what}: the security role refuses it (GET ${path}: HTTP 403)`, fix: needFix(need) } };
    return { known: false, check: { name, ok: false, detail: `could not check (GET ${path}): ${describeError(error)}` } };
  }
}

/** The API member's security role settings, or why they could not be read. */
async function roleSettings(client: ConnectWiseClient, memberIdentifier: string): Promise<{ check: DoctorCheck; settings?: ConnectWiseSecurityRoleSetting[] }> {
  const name = "The API member's security role (read to check the levels that only a write would show)";
  if (memberIdentifier === '') {
    return { check: { name, ok: false, detail: "the integration does not name its API member's identifier", fix: "Set the integration's API member identifier (the Member ID of deskhand's API member)." } };
  }
  try {
    const member = await client.getMember(memberIdentifier);
    if (!member) return { check: { name, ok: false, detail: `no member ${memberIdentifier} in ConnectWise`, fix: "Set the integration's API member identifier to the Member ID of the API member whose keys it uses." } };
    const roleId = member.securityRole?.id;
    if (roleId === undefined) return { check: { name, ok: false, detail: `member ${memberIdentifier} has no security role in ConnectWise's answer` } };
    const settings = await client.listSecurityRoleSettings(roleId);
    return { check: { name, ok: true, detail: `role ${member.securityRole?.name ?? roleId} of member ${memberIdentifier}` }, settings };
  } catch (error) {
    if (statusOf(error) === 403) {
      return {
        check: {
          name,
          ok: false,
          detail: 'the security role does not let the doctor read members and security roles (HTTP 403)',
          fix: `So that the doctor can check the levels that only a write would show, grant ${DOCTOR_NEEDS.map((n) => needName(n)).join(' and ')} at All; or check the role's levels by hand against the list in the ConnectWise README.`,
        },
      };
    }
    return { check: { name, ok: false, detail: `could not read the security role: ${describeError(error)}` } };
  }
}

/** Whether the role grants this level at All (Mine is not enough: deskhand acts on every ticket). */
function levelCheck(settings: readonly ConnectWiseSecurityRoleSetting[], need: Need): DoctorCheck {
  const name = needName(need);
  const wanted = SETTINGS[need.setting].moduleFunction.toLowerCase();
  const setting = settings.find((s) => s.moduleFunctionName.toLowerCase() === wanted);
  const level = setting?.[`${need.level}Level`] ?? 'None';
  if (String(level).toLowerCase() === 'all') return { name, ok: true, detail: `granted (All): ${need.why}` };
  return { name, ok: false, detail: `the role grants ${level || 'None'}: deskhand cannot ${need.why}`, fix: needFix(need) };
}

function statusOf(error: unknown): number | undefined {
  const status = isDeskhandError(error) ? error.details?.['status'] : undefined;
  return typeof status === 'number' ? status : undefined;
}
