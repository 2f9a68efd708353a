import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Resident memory from /proc: deskhand's own processes (the bench process, and worker processes
 * when they run) and, apart, the database server's processes. RSS of PostgreSQL processes counts
 * the shared buffers once per process that touched them, so the sum over-counts; PSS (proportional
 * set size, from smaps_rollup) shares them out and sums correctly. Both are reported.
 */

const KB_PER_MB = 1024;

function statusField(pid: number, field: string): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function rssKb(pid: number): number | null {
  return statusField(pid, 'VmRSS');
}

export function pssKb(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: the fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

/** The postmaster of a data directory (first line of postmaster.pid) and its children; null when unreadable. */
export function postgresProcesses(dataDirectory: string): number[] | null {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(path.join(dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  if (!Number.isInteger(postmaster) || postmaster <= 0 || rssKb(postmaster) === null) return null;
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (parentOf(pid) === postmaster) pids.push(pid);
  }
  return pids;
}

export interface MemoryPeaks {
  /** deskhand's processes (bench process + workers), summed per sample, peak over samples. */
  deskhandRssMb: number;
  /** The database's processes: RSS summed per sample, peak over samples. */
  dbRssMb: number | null;
  /** The database's processes: PSS summed, read once when the load ends (reading it is costly). */
  dbPssMb: number | null;
}

/**
 * Samples resident memory every `intervalMs` while a load runs and keeps the peaks. Cheap on
 * purpose, since it runs in the measured process: RSS only from /proc/<pid>/status, the list of
 * database processes refreshed every few seconds, PSS (smaps_rollup walks page tables) once at the end.
 */
export class MemorySampler {
  private timer: NodeJS.Timeout | null = null;
  private peaks: MemoryPeaks = { deskhandRssMb: 0, dbRssMb: null, dbPssMb: null };
  private sampling = false;
  private dbList: { pids: number[] | null; at: number } = { pids: null, at: 0 };

  constructor(
    private readonly childPids: () => number[],
    private readonly dbPids: () => Promise<number[] | null>,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.peaks = { deskhandRssMb: 0, dbRssMb: null, dbPssMb: null };
    this.dbList = { pids: null, at: 0 };
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  async stop(): Promise<MemoryPeaks> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sample(true);
    return { ...this.peaks };
  }

  private async databasePids(fresh: boolean): Promise<number[] | null> {
    if (fresh || Date.now() - this.dbList.at > 5_000) {
      this.dbList = { pids: await this.dbPids().catch(() => null), at: Date.now() };
    }
    return this.dbList.pids;
  }

  private async sample(last = false): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      let own = process.memoryUsage().rss / 1024;
      for (const pid of this.childPids()) own += rssKb(pid) ?? 0;
      this.peaks.deskhandRssMb = Math.max(this.peaks.deskhandRssMb, own / KB_PER_MB);
      const pids = await this.databasePids(last);
      if (pids && pids.length > 0) {
        let rss = 0;
        for (const pid of pids) rss += rssKb(pid) ?? 0;
        this.peaks.dbRssMb = Math.max(this.peaks.dbRssMb ?? 0, rss / KB_PER_MB);
        if (last) {
          let pss = 0;
          for (const pid of pids) {
            const p = pssKb(pid);
            if (p === null) return;
            pss += p;
          }
          this.peaks.dbPssMb = pss / KB_PER_MB;
        }
      }
    } finally {
      this.sampling = false;
    }
  }
}

/** CPU time of a process (user + system) in ms, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

export interface CpuUse {
  /** This process (service, emulators, bench driver) and worker processes, ms. */
  deskhandMs: number;
  /** The database server's processes of this bench, ms (null when not readable). */
  dbMs: number | null;
}

/**
 * CPU time spent between start() and stop(): this process, the given child processes, and the
 * database's processes (backends that exit in between are not counted, so the figure is a floor).
 */
export class CpuMeter {
  private startOwn = 0;
  private startChildren = new Map<number, number>();
  private startDb = new Map<number, number>();
  private dbReadable = true;

  constructor(
    private readonly childPids: () => number[],
    private readonly dbPids: () => Promise<number[] | null>,
  ) {}

  async start(): Promise<void> {
    const usage = process.cpuUsage();
    this.startOwn = (usage.user + usage.system) / 1000;
    this.startChildren = new Map(this.childPids().map((pid) => [pid, cpuMs(pid) ?? 0]));
    const db = await this.dbPids().catch(() => null);
    this.dbReadable = db !== null;
    this.startDb = new Map((db ?? []).map((pid) => [pid, cpuMs(pid) ?? 0]));
  }

  async stop(): Promise<CpuUse> {
    const usage = process.cpuUsage();
    let deskhandMs = (usage.user + usage.system) / 1000 - this.startOwn;
    for (const pid of this.childPids()) deskhandMs += (cpuMs(pid) ?? 0) - (this.startChildren.get(pid) ?? 0);
    const db = await this.dbPids().catch(() => null);
    if (!db || !this.dbReadable) return { deskhandMs, dbMs: null };
    let dbMs = 0;
    for (const pid of db) dbMs += Math.max(0, (cpuMs(pid) ?? 0) - (this.startDb.get(pid) ?? 0));
    return { deskhandMs, dbMs };
  }
}
