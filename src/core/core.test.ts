import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  APPROVAL_TTL_MS,
  type ApprovalStatus,
  approvalExpiresAt,
  combinedDecision,
  decisionRefusal,
  isExpired,
  mayApprove,
} from './approval.ts';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { HOUR_MS } from './clock.ts';
import { canTransition, FINAL_STATES, isFinal, REQUEST_STATES, type RequestState } from './lifecycle.ts';
import { freezePlan, type PlanStep, planMatchesHash, readFrozenPlan, stepIdempotencyKey } from './plan.ts';
import { approvalsNeeded, effectiveOperatingMode, effectivePolicy, offeredTools, type PolicyOverrides } from './policy.ts';
import { policyRefusal, type ToolDefinition, type ToolKind, type ToolPolicy } from './tool.ts';

describe('canonicalJson', () => {
  it('sorts object keys, so key order never changes the text', () => {
    expect(canonicalJson({ b: 1, a: 2, c: 3 })).toBe('{"a":2,"b":1,"c":3}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
  });

  it('sorts keys at every depth, including inside arrays', () => {
    const left = { z: { y: 1, x: [{ q: 1, p: 2 }, 3] }, a: null };
    const right = { a: null, z: { x: [{ p: 2, q: 1 }, 3], y: 1 } };
    expect(canonicalJson(left)).toBe('{"a":null,"z":{"x":[{"p":2,"q":1},3],"y":1}}');
    expect(canonicalJson(left)).toBe(canonicalJson(right));
  });

  it('sorts by code point, not by locale', () => {
    // A locale sort would put "a" before "B"; code points put upper case first.
    expect(canonicalJson({ a: 1, B: 2, _: 3 })).toBe('{"B":2,"_":3,"a":1}');
  });

  it('keeps array order: arrays are sequences, not sets', () => {
    expect(canonicalJson([2, 1, 3])).toBe('[2,1,3]');
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('drops undefined members and writes undefined array items as null', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson([1, undefined, 2])).toBe('[1,null,2]');
  });

  it('writes no whitespace and writes dates as ISO strings', () => {
    expect(canonicalJson({ list: [1, 'two', true, null] })).toBe('{"list":[1,"two",true,null]}');
    expect(canonicalJson({ at: new Date('2026-01-02T03:04:05.678Z') })).toBe('{"at":"2026-01-02T03:04:05.678Z"}');
  });

  it('refuses non-finite numbers anywhere instead of writing null', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: [{ b: Number.NEGATIVE_INFINITY }] })).toThrow(/non-finite/);
  });
});

describe('sha256Hex', () => {
  it('is the SHA-256 of the UTF-8 text, in lower-case hex', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('café')).toBe(createHash('sha256').update(Buffer.from('café', 'utf8')).digest('hex'));
  });
});

const REQUEST_ID = '5b4f0f36-3c8e-4f55-9a43-1a9b0b1f6f10';

function steps(): PlanStep[] {
  return [
    {
      tool: 'm365.add_user_to_group',
      args: { user: 'alex.wilber@contoso.example', group: 'Zendesk Users' },
      resolved: { user: 'u-1', group: 'g-1' },
      reason: 'The runbook grants Zendesk through this group.',
    },
    {
      tool: 'm365.assign_license',
      args: { user: 'alex.wilber@contoso.example', sku: 'ENTERPRISEPACK' },
      resolved: { user: 'u-1', sku: 'sku-1' },
      reason: 'Zendesk sign-in needs an E3 seat.',
      requireManagerApproval: true,
    },
  ];
}

describe('freezePlan', () => {
  const base = freezePlan(REQUEST_ID, steps());

  it('gives the same plan the same canonical text and hash, whatever the key order', () => {
    const again = freezePlan(REQUEST_ID, steps());
    expect(again.hash).toBe(base.hash);
    expect(again.canonical).toBe(base.canonical);
    const reordered = steps().map((s) => ({
      reason: s.reason,
      resolved: Object.fromEntries(Object.entries(s.resolved).reverse()),
      args: Object.fromEntries(Object.entries(s.args).reverse()),
      tool: s.tool,
      ...(s.requireManagerApproval === undefined ? {} : { requireManagerApproval: s.requireManagerApproval }),
    }));
    expect(freezePlan(REQUEST_ID, reordered).hash).toBe(base.hash);
  });

  it('hashes the canonical text with SHA-256 and records the request id', () => {
    expect(base.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(base.hash).toBe(sha256Hex(base.canonical));
    expect(base.requestId).toBe(REQUEST_ID);
    expect(JSON.parse(base.canonical)).toMatchObject({ requestId: REQUEST_ID, version: 1 });
  });

  it('treats an absent manager flag as false', () => {
    const explicit = steps().map((s) => ({ ...s, requireManagerApproval: s.requireManagerApproval === true }));
    expect(freezePlan(REQUEST_ID, explicit).hash).toBe(base.hash);
  });

  const changes: [string, (s: PlanStep[]) => PlanStep[]][] = [
    ['the tool', (s) => [{ ...s[0]!, tool: 'm365.remove_user_from_group' }, s[1]!]],
    ['an argument value', (s) => [{ ...s[0]!, args: { ...s[0]!.args, group: 'Zendesk Admins' } }, s[1]!]],
    ['an extra argument', (s) => [{ ...s[0]!, args: { ...s[0]!.args, note: 'x' } }, s[1]!]],
    ['a resolved id', (s) => [{ ...s[0]!, resolved: { ...s[0]!.resolved, group: 'g-2' } }, s[1]!]],
    ['the order of steps', (s) => [s[1]!, s[0]!]],
    ['a step removed', (s) => [s[0]!]],
    ['the reason', (s) => [{ ...s[0]!, reason: `${s[0]!.reason} ` }, s[1]!]],
    ['requireManagerApproval turned off', (s) => [s[0]!, { ...s[1]!, requireManagerApproval: false }]],
    ['requireManagerApproval turned on', (s) => [{ ...s[0]!, requireManagerApproval: true }, s[1]!]],
  ];
  for (const [what, change] of changes) {
    it(`gives a different hash when ${what} changes`, () => {
      const changed = freezePlan(REQUEST_ID, change(steps()));
      expect(changed.hash).not.toBe(base.hash);
      expect(changed.canonical).not.toBe(base.canonical);
    });
  }

  it('gives a different hash for the same steps on another request', () => {
    expect(freezePlan('another-request', steps()).hash).not.toBe(base.hash);
  });

  it('copies the steps, so changing the caller’s objects afterwards cannot change the frozen plan', () => {
    const mine = steps();
    const frozen = freezePlan(REQUEST_ID, mine);
    mine[0]!.args['group'] = 'Domain Admins';
    mine[0]!.resolved['group'] = 'g-evil';
    expect(frozen.steps[0]!.args['group']).toBe('Zendesk Users');
    expect(frozen.steps[0]!.resolved['group']).toBe('g-1');
    expect(planMatchesHash(frozen.canonical, frozen.hash)).toBe(true);
  });
});

describe('planMatchesHash', () => {
  const frozen = freezePlan(REQUEST_ID, steps());

  it('accepts the canonical text it was frozen from', () => {
    expect(planMatchesHash(frozen.canonical, frozen.hash)).toBe(true);
  });

  it('refuses a canonical text changed after freezing', () => {
    const tampered = frozen.canonical.replace('Zendesk Users', 'Domain Admins');
    expect(tampered).not.toBe(frozen.canonical);
    expect(planMatchesHash(tampered, frozen.hash)).toBe(false);
    expect(planMatchesHash(`${frozen.canonical} `, frozen.hash)).toBe(false);
  });

  it('refuses the right text against another plan’s hash', () => {
    const other = freezePlan(REQUEST_ID, steps().slice(0, 1));
    expect(planMatchesHash(frozen.canonical, other.hash)).toBe(false);
  });
});

describe('stepIdempotencyKey', () => {
  const hash = freezePlan(REQUEST_ID, steps()).hash;

  it('names the request, the plan and the step', () => {
    expect(stepIdempotencyKey(REQUEST_ID, hash, 0)).toBe(`${REQUEST_ID}:${hash.slice(0, 16)}:step-0`);
  });

  it('is stable for the same step and differs between steps, plans and requests', () => {
    const key = stepIdempotencyKey(REQUEST_ID, hash, 1);
    expect(stepIdempotencyKey(REQUEST_ID, hash, 1)).toBe(key);
    expect(stepIdempotencyKey(REQUEST_ID, hash, 0)).not.toBe(key);
    const otherHash = freezePlan(REQUEST_ID, steps().slice(1)).hash;
    expect(stepIdempotencyKey(REQUEST_ID, otherHash, 1)).not.toBe(key);
    expect(stepIdempotencyKey('another-request', hash, 1)).not.toBe(key);
  });
});

describe('effectiveOperatingMode', () => {
  it('uses the client’s own mode when set', () => {
    expect(effectiveOperatingMode('plan', 'execute')).toBe('plan');
    expect(effectiveOperatingMode('execute', 'plan')).toBe('execute');
  });

  it('follows the MSP default when the client inherits', () => {
    expect(effectiveOperatingMode('inherit', 'plan')).toBe('plan');
    expect(effectiveOperatingMode('inherit', 'execute')).toBe('execute');
  });
});

function tool(name: string, kind: ToolKind): ToolDefinition {
  return {
    name,
    integration: 'test',
    kind,
    description: `${kind} tool ${name}`,
    args: z.record(z.string(), z.string()),
    argObjects: {},
  };
}

const readTool = tool('test.get_user', 'read');
const writeTool = tool('test.reset_password', 'write');
const otherWrite = tool('test.add_to_group', 'write');

function overrides(entries: Record<string, ToolPolicy>): PolicyOverrides {
  return new Map(Object.entries(entries));
}

describe('effectivePolicy', () => {
  it('uses the catalog defaults without a configured policy: read auto, write approval_needed', () => {
    expect(effectivePolicy(readTool, overrides({}))).toEqual({ policy: 'auto', requireManagerApproval: false });
    expect(effectivePolicy(writeTool, overrides({}))).toEqual({ policy: 'approval_needed', requireManagerApproval: false });
  });

  it('uses the configured policy for that tool only', () => {
    const configured = overrides({ [writeTool.name]: { policy: 'auto', requireManagerApproval: false } });
    expect(effectivePolicy(writeTool, configured)).toEqual({ policy: 'auto', requireManagerApproval: false });
    expect(effectivePolicy(otherWrite, configured)).toEqual({ policy: 'approval_needed', requireManagerApproval: false });
    expect(effectivePolicy(readTool, overrides({ [readTool.name]: { policy: 'disabled', requireManagerApproval: false } })).policy).toBe(
      'disabled',
    );
  });

  it('keeps the manager flag with approval_needed', () => {
    const configured = overrides({ [writeTool.name]: { policy: 'approval_needed', requireManagerApproval: true } });
    expect(effectivePolicy(writeTool, configured)).toEqual({ policy: 'approval_needed', requireManagerApproval: true });
  });

  it('ignores the manager flag on auto and disabled', () => {
    expect(effectivePolicy(writeTool, overrides({ [writeTool.name]: { policy: 'auto', requireManagerApproval: true } }))).toEqual({
      policy: 'auto',
      requireManagerApproval: false,
    });
    expect(effectivePolicy(writeTool, overrides({ [writeTool.name]: { policy: 'disabled', requireManagerApproval: true } }))).toEqual({
      policy: 'disabled',
      requireManagerApproval: false,
    });
  });
});

describe('offeredTools', () => {
  it('offers every tool that is not disabled, in catalog order', () => {
    const all = [readTool, writeTool, otherWrite];
    expect(offeredTools(all, overrides({})).map((t) => t.name)).toEqual([readTool.name, writeTool.name, otherWrite.name]);
    const configured = overrides({
      [writeTool.name]: { policy: 'disabled', requireManagerApproval: false },
      [otherWrite.name]: { policy: 'auto', requireManagerApproval: false },
    });
    expect(offeredTools(all, configured).map((t) => t.name)).toEqual([readTool.name, otherWrite.name]);
  });

  it('drops a disabled read tool too', () => {
    const configured = overrides({ [readTool.name]: { policy: 'disabled', requireManagerApproval: false } });
    expect(offeredTools([readTool, writeTool], configured).map((t) => t.name)).toEqual([writeTool.name]);
  });
});

describe('approvalsNeeded', () => {
  const auto: ToolPolicy = { policy: 'auto', requireManagerApproval: false };
  const approval: ToolPolicy = { policy: 'approval_needed', requireManagerApproval: false };
  const approvalWithManager: ToolPolicy = { policy: 'approval_needed', requireManagerApproval: true };

  it('needs nothing when every step is auto (or there are no steps)', () => {
    expect(approvalsNeeded([{ policy: auto }, { policy: auto }])).toEqual({ technician: false, manager: false });
    expect(approvalsNeeded([])).toEqual({ technician: false, manager: false });
  });

  it('needs a technician when any step is approval_needed', () => {
    expect(approvalsNeeded([{ policy: auto }, { policy: approval }])).toEqual({ technician: true, manager: false });
  });

  it('needs technician and manager when a policy asks for the manager', () => {
    expect(approvalsNeeded([{ policy: auto }, { policy: approvalWithManager }])).toEqual({ technician: true, manager: true });
  });

  it('needs technician and manager when the planner asks for the manager, even on an auto step', () => {
    expect(approvalsNeeded([{ policy: auto, plannerRequestsManagerApproval: true }])).toEqual({ technician: true, manager: true });
    expect(approvalsNeeded([{ policy: approval }, { policy: auto, plannerRequestsManagerApproval: true }])).toEqual({
      technician: true,
      manager: true,
    });
  });

  it('never asks less than the policies: the planner saying false changes nothing', () => {
    expect(approvalsNeeded([{ policy: approvalWithManager, plannerRequestsManagerApproval: false }])).toEqual({
      technician: true,
      manager: true,
    });
  });
});

describe('approval expiry', () => {
  const created = new Date('2026-03-01T09:00:00.000Z');
  const expires = approvalExpiresAt(created);

  it('expires exactly 24 hours after creation', () => {
    expect(APPROVAL_TTL_MS).toBe(24 * HOUR_MS);
    expect(expires.toISOString()).toBe('2026-03-02T09:00:00.000Z');
  });

  it('is expired at the boundary and after it, not a millisecond before', () => {
    expect(isExpired(expires, new Date(expires.getTime() - 1))).toBe(false);
    expect(isExpired(expires, expires)).toBe(true);
    expect(isExpired(expires, new Date(expires.getTime() + 1))).toBe(true);
    expect(isExpired(expires, created)).toBe(false);
  });
});

describe('decisionRefusal', () => {
  const created = new Date('2026-03-01T09:00:00.000Z');
  const planHash = 'a'.repeat(64);
  const valid = {
    status: 'pending' as ApprovalStatus,
    expiresAt: approvalExpiresAt(created),
    now: new Date(created.getTime() + HOUR_MS),
    approvalPlanHash: planHash,
    currentPlanHash: planHash,
  };

  it('allows a pending, unexpired decision on an unchanged plan', () => {
    expect(decisionRefusal(valid)).toBeNull();
    expect(decisionRefusal({ ...valid, presentedPlanHash: planHash })).toBeNull();
  });

  it('allows a decision a millisecond before expiry and refuses it at expiry', () => {
    expect(decisionRefusal({ ...valid, now: new Date(valid.expiresAt.getTime() - 1) })).toBeNull();
    expect(decisionRefusal({ ...valid, now: valid.expiresAt })?.code).toBe('expired');
  });

  it('refuses an approval already marked expired, even before its time', () => {
    expect(decisionRefusal({ ...valid, status: 'expired' })).toMatchObject({ code: 'expired' });
  });

  it('refuses a second decision', () => {
    for (const status of ['approved', 'denied', 'cancelled'] as const) {
      const refusal = decisionRefusal({ ...valid, status });
      expect(refusal?.code).toBe('conflict');
      expect(refusal?.message).toContain(status);
    }
  });

  it('refuses when the plan changed since the approval was requested', () => {
    const refusal = decisionRefusal({ ...valid, currentPlanHash: 'b'.repeat(64) });
    expect(refusal?.code).toBe('conflict');
    expect(refusal?.message).toMatch(/plan changed/);
  });

  it('refuses when the reviewer saw another plan than the one awaiting approval', () => {
    const refusal = decisionRefusal({ ...valid, presentedPlanHash: 'c'.repeat(64) });
    expect(refusal?.code).toBe('conflict');
    expect(refusal?.message).toMatch(/hash mismatch/);
  });
});

describe('combinedDecision', () => {
  const cases: [ApprovalStatus[], ReturnType<typeof combinedDecision>][] = [
    [['approved'], 'approved'],
    [['approved', 'approved'], 'approved'],
    [['approved', 'pending'], 'pending'],
    [['pending', 'pending'], 'pending'],
    [['approved', 'denied'], 'denied'],
    [['denied', 'pending'], 'denied'],
    [['pending', 'denied'], 'denied'],
    [['approved', 'expired'], 'expired'],
    [['expired', 'pending'], 'expired'],
    [['denied', 'expired'], 'denied'],
    [[], 'pending'],
  ];
  for (const [statuses, expected] of cases) {
    it(`[${statuses.join(', ')}] → ${expected}`, () => {
      expect(combinedDecision(statuses)).toBe(expected);
    });
  }
});

describe('mayApprove', () => {
  it('lets admins and technicians decide, never billing or an unknown role', () => {
    expect(mayApprove('msp_admin')).toBe(true);
    expect(mayApprove('msp_technician')).toBe(true);
    expect(mayApprove('msp_billing')).toBe(false);
    expect(mayApprove('employee')).toBe(false);
    expect(mayApprove('')).toBe(false);
  });
});

describe('request lifecycle', () => {
  const legal: [RequestState, RequestState][] = [
    ['received', 'diagnosing'],
    ['diagnosing', 'noted'],
    ['noted', 'planned'],
    ['noted', 'replied'],
    ['noted', 'escalated'],
    ['noted', 'awaiting_approval'],
    ['noted', 'executing'],
    ['awaiting_approval', 'executing'],
    ['awaiting_approval', 'replied'],
    ['executing', 'replied'],
    ['executing', 'failed'],
    // Before the first step: the plan no longer checks out or a tool became disabled ...
    ['executing', 'escalated'],
    // ... or a policy tightened since freezing: the missing approval is asked for the same plan.
    ['executing', 'awaiting_approval'],
    // The diagnosis note could not be delivered: nothing changed, a technician takes it.
    ['diagnosing', 'escalated'],
  ];
  const illegal: [RequestState, RequestState][] = [
    // Rule 2: nothing changes before the note.
    ['received', 'executing'],
    ['diagnosing', 'executing'],
    ['diagnosing', 'awaiting_approval'],
    ['received', 'replied'],
    // Approval never goes back to planning.
    ['awaiting_approval', 'noted'],
    ['executing', 'noted'],
    ['executing', 'executing'],
    ['replied', 'executing'],
    ['planned', 'executing'],
    ['failed', 'received'],
    ['escalated', 'replied'],
  ];
  for (const [from, to] of legal) it(`allows ${from} → ${to}`, () => expect(canTransition(from, to)).toBe(true));
  for (const [from, to] of illegal) it(`refuses ${from} → ${to}`, () => expect(canTransition(from, to)).toBe(false));

  it('has exactly four final states, and none of them leads anywhere', () => {
    expect([...FINAL_STATES].sort()).toEqual(['escalated', 'failed', 'planned', 'replied']);
    for (const state of REQUEST_STATES) {
      const final = ['planned', 'replied', 'escalated', 'failed'].includes(state);
      expect(isFinal(state)).toBe(final);
      if (final) for (const to of REQUEST_STATES) expect(canTransition(state, to)).toBe(false);
      else expect(REQUEST_STATES.some((to) => canTransition(state, to))).toBe(true);
    }
  });
});

describe('readFrozenPlan: what executes is read from the hashed plan', () => {
  const step: PlanStep = {
    tool: 'm365.add_user_to_group',
    args: { user: 'alex@contoso.example', group: 'SG-App-Zendesk' },
    resolved: { user: 'u-1', group: 'g-1' },
    reason: 'asked for Zendesk',
  };
  const frozen = freezePlan('req-1', [step]);

  it('gives back the frozen steps from the canonical text', () => {
    const read = readFrozenPlan({ requestId: 'req-1', canonical: frozen.canonical, hash: frozen.hash, shownSteps: frozen.steps });
    expect(read).toEqual({ ok: true, steps: frozen.steps });
  });

  it('accepts the shown copy whatever its key order (as jsonb stores it)', () => {
    const shown = frozen.steps.map((s) => ({ resolved: s.resolved, reason: s.reason, args: s.args, requireManagerApproval: false, tool: s.tool }));
    expect(readFrozenPlan({ requestId: 'req-1', canonical: frozen.canonical, hash: frozen.hash, shownSteps: shown }).ok).toBe(true);
  });

  it('refuses a canonical text that no longer hashes to the plan hash', () => {
    const canonical = frozen.canonical.replace('g-1', 'g-2');
    expect(readFrozenPlan({ requestId: 'req-1', canonical, hash: frozen.hash })).toEqual({ ok: false, problem: 'the stored plan does not match its hash' });
  });

  it("refuses another request's plan, even with its own valid hash", () => {
    expect(readFrozenPlan({ requestId: 'req-2', canonical: frozen.canonical, hash: frozen.hash })).toMatchObject({ ok: false, problem: expect.stringContaining('another request') });
  });

  it('refuses a text that hashes right but is not canonical or not a plan', () => {
    const spaced = JSON.stringify(JSON.parse(frozen.canonical), null, 1);
    expect(readFrozenPlan({ requestId: 'req-1', canonical: spaced, hash: sha256Hex(spaced) })).toMatchObject({ ok: false });
    const extra = canonicalJson({ version: 1, requestId: 'req-1', steps: [], run: 'rm -rf' });
    expect(readFrozenPlan({ requestId: 'req-1', canonical: extra, hash: sha256Hex(extra) })).toMatchObject({ ok: false });
    expect(readFrozenPlan({ requestId: 'req-1', canonical: 'not json', hash: sha256Hex('not json') })).toMatchObject({ ok: false });
  });

  it('refuses when the copy shown to technicians differs from the hashed steps', () => {
    const shown = [{ ...frozen.steps[0]!, args: { ...step.args, group: 'SG-Admins-Privileged' } }];
    expect(readFrozenPlan({ requestId: 'req-1', canonical: frozen.canonical, hash: frozen.hash, shownSteps: shown })).toMatchObject({
      ok: false,
      problem: expect.stringContaining('differs'),
    });
    expect(readFrozenPlan({ requestId: 'req-1', canonical: frozen.canonical, hash: frozen.hash, shownSteps: [] }).ok).toBe(false);
  });
});

describe('a tool whose result is a secret for a technician', () => {
  const secretTool = { name: 'm365.reset_password', integration: 'm365', kind: 'write' as const, description: '', args: z.record(z.string(), z.string()), argObjects: {}, secretResult: true };

  it('cannot be set to auto, and the refusal says why', () => {
    expect(policyRefusal(secretTool, 'auto')).toMatch(/cannot be auto.*approving technician/);
    expect(policyRefusal(secretTool, 'approval_needed')).toBeNull();
    expect(policyRefusal(secretTool, 'disabled')).toBeNull();
    expect(policyRefusal({ ...secretTool, secretResult: false }, 'auto')).toBeNull();
  });

  it('is never effectively auto, whatever a stored row says', () => {
    const overrides: PolicyOverrides = new Map([[secretTool.name, { policy: 'auto', requireManagerApproval: false }]]);
    expect(effectivePolicy(secretTool, overrides)).toEqual({ policy: 'approval_needed', requireManagerApproval: false });
  });
});
