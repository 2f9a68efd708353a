import { setTimeout as sleep } from 'node:timers/promises';

/** Small helpers every part of the bench shares: options, statistics, deadlines, cleanup. */

export type DatabaseKind = 'pg' | 'embedded';

export interface BenchOptions {
  json: boolean;
  latency: boolean;
  only: DatabaseKind | null;
  /** Intake at full speed: tickets opened at once. */
  tickets: number;
  /** Intake at a steady offered load: tickets and rate (tickets/s, open loop). */
  steadyTickets: number;
  rate: number;
  /** Full stories per measurement, and how many are in flight at once. */
  stories: number;
  inFlight: number;
  /** Rounds of intake and full stories, engine and baseline alternating; the best counts. */
  rounds: number;
  /** Expired approvals seeded for the sweep. */
  approvals: number;
  /** Worker process counts to measure. */
  workers: number[];
  /** Requests each worker (in-process or separate) handles at once. */
  concurrency: number;
  /** The generated world. */
  msps: number;
  clients: number;
  employees: number;
  /** Skip the separate worker processes (faster runs). */
  skipWorkers: boolean;
  /** Write a CPU profile of intake at full speed to this path (suffixed with the database). */
  profile: string | null;
}

/** Queries the bench itself sends to the bench database (watching, monitoring), to subtract from server-side counts. */
export const benchQueries = { count: 0 };

const INTEGER_FLAGS: Record<string, { key: keyof BenchOptions; min: number; max: number }> = {
  tickets: { key: 'tickets', min: 1, max: 20_000 },
  'steady-tickets': { key: 'steadyTickets', min: 1, max: 50_000 },
  rate: { key: 'rate', min: 1, max: 500 },
  stories: { key: 'stories', min: 1, max: 20_000 },
  'in-flight': { key: 'inFlight', min: 1, max: 500 },
  approvals: { key: 'approvals', min: 1, max: 1_000_000 },
  rounds: { key: 'rounds', min: 1, max: 10 },
  concurrency: { key: 'concurrency', min: 1, max: 64 },
  msps: { key: 'msps', min: 1, max: 200 },
  clients: { key: 'clients', min: 1, max: 200 },
  employees: { key: 'employees', min: 4, max: 2_000 },
};

export const USAGE = `npm run bench [-- options]
  --json                 figures as one JSON object on the last line of standard output (everything else on standard error)
  --latency              emulators answer with realistic latency (Graph 40-120 ms, ConnectWise 80-250 ms)
  --only pg|embedded     one database only
  --tickets N            intake at full speed: tickets opened at once (default 60)
  --steady-tickets N     intake at a steady offered load: tickets (default 160)
  --rate N               the steady offered load, tickets/s (default 20)
  --stories N            full stories per measurement (default 40)
  --in-flight N          stories in flight at once (default 20)
  --rounds N             rounds of intake and full stories, engine and baseline alternating; the best counts (default 2)
  --approvals N          expired approvals for the sweep (default 10000)
  --workers 1,2,4        worker process counts to measure (default 1,2,4)
  --no-workers           skip the separate worker processes
  --concurrency N        requests each worker handles at once (default 4, as deskhand worker)
  --profile FILE         CPU profile of intake at full speed: FILE-<database>.cpuprofile and a summary
  --msps N --clients N --employees N   the generated world: MSPs, clients per MSP, employees per client (default 3, 3, 20)`;

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    json: false,
    latency: false,
    only: null,
    tickets: 60,
    steadyTickets: 160,
    rate: 20,
    stories: 40,
    inFlight: 20,
    approvals: 10_000,
    rounds: 2,
    workers: [1, 2, 4],
    concurrency: 4,
    msps: 3,
    clients: 3,
    employees: 20,
    skipWorkers: false,
    profile: null,
  };
  const args = argv.flatMap((a) => (a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--json') options.json = true;
    else if (arg === '--latency') options.latency = true;
    else if (arg === '--no-workers') options.skipWorkers = true;
    else if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    else if (arg === '--profile') options.profile = value();
    else if (arg === '--only') {
      const v = value();
      if (v !== 'pg' && v !== 'embedded') throw new Error(`--only must be pg or embedded, got ${v}`);
      options.only = v;
    } else if (arg === '--workers') {
      const counts = value()
        .split(',')
        .map((s) => Number(s.trim()));
      if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) throw new Error('--workers takes counts from 1 to 16, e.g. 1,2,4');
      options.workers = [...new Set(counts)].sort((a, b) => a - b);
    } else if (arg.startsWith('--') && INTEGER_FLAGS[arg.slice(2)]) {
      const flag = INTEGER_FLAGS[arg.slice(2)]!;
      const n = Number(value());
      if (!Number.isInteger(n) || n < flag.min || n > flag.max) throw new Error(`${arg} must be an integer from ${flag.min} to ${flag.max}`);
      (options as unknown as Record<string, number>)[flag.key] = n;
    } else {
      throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  options.inFlight = Math.min(options.inFlight, options.stories);
  return options;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 1): number => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : Number.NaN);

/** A failure that names the step it happened in. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
    this.name = 'StepError';
  }
}

/** Run `fn` as a named step: errors come out prefixed with the step, and nothing waits past the deadline. */
export async function step<T>(name: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepError(name, `did not finish within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (error) {
    if (error instanceof StepError) throw error;
    throw new StepError(name, error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timer);
  }
}

/** Await `promise`, but give up (with `what` in the message) after `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run `fn` over `items` with at most `limit` at once; the first failure rejects (others are left to finish). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: unknown = null;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && failed === null) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failed ??= error;
      }
    }
  });
  await Promise.all(lanes);
  if (failed !== null) throw failed;
  return results;
}

/**
 * Everything the bench starts, stopped in reverse order at the end, on an error, or on Ctrl-C:
 * worker processes, services, emulators, databases, temporary folders. Each stop is bounded.
 */
export class Cleanup {
  private readonly tasks: { name: string; run: () => Promise<void> | void }[] = [];
  private readonly childPids = new Set<number>();
  private running: Promise<void> | null = null;

  constructor(private readonly log: (line: string) => void) {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      this.log(`\n${signal}: stopping what the bench started`);
      void this.runAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    // Kept registered (not once): the embedded server's own handler steps aside while another listens.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Last resort: a child process never outlives the bench.
    process.once('exit', () => {
      for (const pid of this.childPids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    });
  }

  /** Register a stop; returns a function that runs it now (once) and unregisters it. */
  add(name: string, run: () => Promise<void> | void): () => Promise<void> {
    const task = { name, run };
    this.tasks.push(task);
    return async () => {
      const index = this.tasks.indexOf(task);
      if (index < 0) return;
      this.tasks.splice(index, 1);
      await this.runOne(task);
    };
  }

  trackChild(pid: number): void {
    this.childPids.add(pid);
  }

  untrackChild(pid: number): void {
    this.childPids.delete(pid);
  }

  async runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.tasks.length > 0) await this.runOne(this.tasks.pop()!);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runOne(task: { name: string; run: () => Promise<void> | void }): Promise<void> {
    try {
      await within(30_000, `stopping ${task.name}`, Promise.resolve().then(task.run));
    } catch (error) {
      this.log(`  could not stop ${task.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

export { sleep };
