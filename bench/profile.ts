import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * `--profile FILE`: a CPU profile of the bench process during intake at full speed (the service, its
 * worker and the emulators all run in it), written as FILE-<database>.cpuprofile (open it in Chrome
 * DevTools or speedscope), and a summary of where the CPU went: self time by area of the code and
 * the hottest functions.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export class CpuProfiler {
  private session: Session | null = null;

  async start(): Promise<void> {
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 500 });
    await this.session.post('Profiler.start');
  }

  /** Stops, writes the profile, and returns a readable summary. */
  async stop(file: string): Promise<string> {
    if (!this.session) return '';
    const { profile } = (await this.session.post('Profiler.stop')) as { profile: CpuProfile };
    this.session.disconnect();
    this.session = null;
    writeFileSync(file, JSON.stringify(profile));
    return summarise(profile, file);
  }
}

/** Which part of the system a frame belongs to, from its script URL. */
function area(url: string, functionName: string): string {
  if (url === '') return functionName === '(garbage collector)' ? 'garbage collection' : functionName === '(idle)' ? 'idle' : functionName === '(program)' ? 'V8 and native (program)' : 'Node.js I/O with no caller in JS (fetch internals, HTTP parsing, timers)';
  const rules: [RegExp, string][] = [
    [/\/src\/integrations\/[^/]+\/emulator/, 'emulators (not deskhand)'],
    [/\/bench\//, 'bench driver and baseline'],
    [/\/src\/planner\//, 'deskhand planner'],
    [/\/src\/engine\//, 'deskhand engine'],
    [/\/src\/store\//, 'deskhand store'],
    [/\/src\/api\//, 'deskhand API'],
    [/\/src\/integrations\//, 'deskhand integrations (HTTP clients)'],
    [/\/src\/core\//, 'deskhand core'],
    [/\/src\//, 'deskhand other'],
    [/node_modules\/kysely\//, 'kysely'],
    [/node_modules\/pg[^/]*\//, 'pg driver'],
    [/node_modules\/(fastify|@fastify|find-my-way|light-my-request|avvio|fast-json-stringify|ajv)[^/]*\//, 'fastify'],
    [/node_modules\/zod\//, 'zod'],
    [/node_modules\/(pino|sonic-boom|thread-stream)[^/]*\//, 'pino'],
    [/node_modules\/(tsx|esbuild)\//, 'tsx'],
    [/node_modules\/undici|node:internal\/deps\/undici/, 'fetch (undici)'],
    [/node_modules\//, 'other packages'],
    [/^node:/, 'node internals'],
  ];
  for (const [pattern, name] of rules) if (pattern.test(url)) return name;
  return 'other';
}

export function summarise(profile: CpuProfile, file: string): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  /** Built-ins and Node's own code (JSON.parse, crypto, sockets, streams) count for the code that called them. */
  const owner = (node: ProfileNode): ProfileNode => {
    let current: ProfileNode | undefined = node;
    const inner = (n: ProfileNode) =>
      (n.callFrame.url === '' || n.callFrame.url.startsWith('node:')) && !/^\((garbage collector|idle|program|root)\)$/.test(n.callFrame.functionName);
    while (current && inner(current)) {
      const up = parent.get(current.id);
      current = up === undefined ? undefined : byId.get(up);
    }
    return current ?? node;
  };
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const home = owner(node).callFrame;
    const areaName = area(home.url, home.functionName);
    areas.set(areaName, (areas.get(areaName) ?? 0) + us);
    const where = url ? `${url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'} ${where}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const busy = total - (areas.get('idle') ?? 0);
  const lines = [
    `CPU profile of intake at full speed: ${file} (${(total / 1e6).toFixed(1)} s sampled, ${((100 * busy) / total).toFixed(0)}% busy)`,
    '  self time by area (built-ins and Node internals counted for the code that called them):',
    ...[...areas.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => `    ${pct(us)}  ${name}`),
    '  hottest functions (self time):',
    ...[...functions.entries()]
      .filter(([name]) => !name.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => `    ${pct(us)}  ${name}`),
  ];
  return lines.join('\n');
}
