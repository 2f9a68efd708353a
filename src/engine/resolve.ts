import type { ArgumentObject } from '../core/tool.ts';
import type { DiagnosisReader } from '../planner/types.ts';

/**
 * Resolve a plan's arguments to object ids from what this diagnosis already read (users by UPN,
 * the tenant's groups, its SKUs), instead of asking the directory again: the same answers, read a
 * moment earlier through the same recorded reads. Unknown or ambiguous names are problems.
 */
export async function resolveThroughReader(
  reader: DiagnosisReader,
  argObjects: Readonly<Record<string, ArgumentObject>>,
  args: Record<string, string>,
): Promise<{ resolved: Record<string, string>; problems: string[] }> {
  const resolved: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, kind] of Object.entries(argObjects)) {
    if (kind === 'text' || kind === 'id') continue;
    const value = args[name]?.trim();
    if (!value) {
      problems.push(`the ${name} argument is missing`);
      continue;
    }
    const outcome = kind === 'user' ? await user(reader, value) : kind === 'group' ? await group(reader, value) : await sku(reader, value);
    if ('id' in outcome) resolved[name] = outcome.id;
    else problems.push(outcome.problem);
  }
  return { resolved, problems };
}

type Outcome = { id: string } | { problem: string };

async function user(reader: DiagnosisReader, upn: string): Promise<Outcome> {
  const found = await reader.getUser(upn);
  return found ? { id: found.id } : { problem: `no user ${upn} in the client's directory` };
}

async function group(reader: DiagnosisReader, name: string): Promise<Outcome> {
  const wanted = name.toLowerCase();
  const matches = (await reader.findGroups('')).filter((g) => g.displayName.toLowerCase() === wanted);
  if (matches.length === 1) return { id: matches[0]!.id };
  if (matches.length === 0) return { problem: `no group named "${name}" in the client's directory` };
  return { problem: `${matches.length} groups are named "${name}" (ids ${matches.map((g) => g.id).join(', ')}); a technician must pick one` };
}

async function sku(reader: DiagnosisReader, partNumber: string): Promise<Outcome> {
  const skus = await reader.listLicenses();
  const wanted = partNumber.toLowerCase();
  const found = skus.find((s) => s.skuPartNumber.toLowerCase() === wanted);
  if (found) return { id: found.skuId };
  return { problem: `the tenant has no subscription to ${partNumber} (it has: ${skus.map((s) => s.skuPartNumber).join(', ') || 'none'})` };
}
