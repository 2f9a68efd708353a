/** How long a claim holds without its heartbeat: `DESKHAND_LEASE_MS`, default 30 s (at least 1 s). */
export function configuredLeaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env['DESKHAND_LEASE_MS']);
  return Number.isInteger(fromEnv) && fromEnv >= 1_000 ? fromEnv : 30_000;
}
