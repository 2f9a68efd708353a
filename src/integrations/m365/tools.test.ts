import { describe, expect, it } from 'vitest';
import { m365ToolByName, m365Tools } from './tools.ts';

/** TOOLS.md, as a table: these names, kinds and arguments are a contract. */
const contract: [name: string, kind: 'read' | 'write', args: string[]][] = [
  ['m365.get_user', 'read', ['user']],
  ['m365.get_manager', 'read', ['user']],
  ['m365.list_user_groups', 'read', ['user']],
  ['m365.list_user_licenses', 'read', ['user']],
  ['m365.list_licenses', 'read', []],
  ['m365.list_auth_methods', 'read', ['user']],
  ['m365.find_group', 'read', ['query']],
  ['m365.add_user_to_group', 'write', ['user', 'group']],
  ['m365.remove_user_from_group', 'write', ['user', 'group']],
  ['m365.reset_password', 'write', ['user']],
  ['m365.revoke_sessions', 'write', ['user']],
  ['m365.reset_mfa', 'write', ['user']],
  ['m365.assign_license', 'write', ['user', 'sku']],
  ['m365.remove_license', 'write', ['user', 'sku']],
  ['m365.disable_account', 'write', ['user']],
  ['m365.enable_account', 'write', ['user']],
  // Added beside the contract: the planner looks people up by name.
  ['m365.find_user', 'read', ['query']],
];

const sampleValues: Record<string, string> = {
  user: 'alex.wilber@contoso.example',
  group: 'SG-App-Zendesk',
  sku: 'SPE_E3',
  query: 'Zendesk',
};

const expectedObjects: Record<string, string> = { user: 'user', group: 'group', sku: 'sku', query: 'text' };

describe('the m365 tool catalog', () => {
  it('has exactly the tools of TOOLS.md plus m365.find_user', () => {
    expect(m365Tools.map((t) => t.name).sort()).toEqual(contract.map(([name]) => name).sort());
  });

  it.each(contract)('%s is a %s tool taking %j', (name, kind, args) => {
    const tool = m365ToolByName(name);
    expect(tool).toBeDefined();
    expect(tool!.kind).toBe(kind);
    expect(tool!.integration).toBe('m365');
    expect(Object.keys(tool!.argObjects).sort()).toEqual([...args].sort());
    for (const arg of args) expect(tool!.argObjects[arg]).toBe(expectedObjects[arg]);

    const valid = Object.fromEntries(args.map((a) => [a, sampleValues[a]!]));
    expect(tool!.args.safeParse(valid).success).toBe(true);
    // Strict: no extra argument, none missing.
    expect(tool!.args.safeParse({ ...valid, extra: 'x' }).success).toBe(false);
    for (const arg of args) {
      const { [arg]: _omitted, ...missing } = valid;
      expect(tool!.args.safeParse(missing).success).toBe(false);
    }
  });

  it('accepts UPN-shaped users only, including guest UPNs', () => {
    const schema = m365ToolByName('m365.get_user')!.args;
    expect(schema.safeParse({ user: "o'brien@contoso.example" }).success).toBe(true);
    expect(schema.safeParse({ user: 'jane_fabrikam.com#EXT#@contoso.onmicrosoft.com' }).success).toBe(true);
    for (const bad of ['Alex Wilber', 'alex@', '@contoso.example', 'alex@contoso', '', 'a b@contoso.example']) {
      expect(schema.safeParse({ user: bad }).success, bad).toBe(false);
    }
    expect(schema.safeParse({ user: 42 }).success).toBe(false);
  });

  it('checks group names, SKU part numbers and queries', () => {
    const addToGroup = m365ToolByName('m365.add_user_to_group')!.args;
    expect(addToGroup.safeParse({ user: sampleValues['user'], group: 'All Adatum' }).success).toBe(true);
    expect(addToGroup.safeParse({ user: sampleValues['user'], group: '   ' }).success).toBe(false);
    expect(addToGroup.safeParse({ user: sampleValues['user'], group: 'x'.repeat(257) }).success).toBe(false);

    const assign = m365ToolByName('m365.assign_license')!.args;
    expect(assign.safeParse({ user: sampleValues['user'], sku: 'O365_BUSINESS_PREMIUM' }).success).toBe(true);
    expect(assign.safeParse({ user: sampleValues['user'], sku: 'Microsoft 365 E3' }).success).toBe(false);

    const find = m365ToolByName('m365.find_group')!.args;
    expect(find.safeParse({ query: '' }).success).toBe(false);
    expect(find.safeParse({ query: ' ' }).success).toBe(false);
  });

  it('answers undefined for an unknown tool', () => {
    expect(m365ToolByName('m365.delete_tenant')).toBeUndefined();
  });
});
