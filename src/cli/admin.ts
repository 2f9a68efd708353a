import { readConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { verifyAuditChain } from '../store/audit.ts';
import { migrate, openDb } from '../store/db.ts';
import { createUser, issueApiToken, setPassword, setUserDisabled } from '../store/users.ts';
import { openStore } from './store.ts';

/** Run `work` against the configured database, then close everything (so the process can exit). */
async function withDb<T>(work: (db: ReturnType<typeof openDb>['db']) => Promise<T>): Promise<T> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel });
  const store = await openStore(config, logger);
  const handle = openDb({ url: store.url, maxConnections: 2 });
  try {
    await migrate(handle.db);
    return await work(handle.db);
  } finally {
    await handle.close();
    await store.close();
  }
}

export async function migrateCommand(): Promise<void> {
  await withDb(async () => {
    process.stdout.write('the schema is up to date\n');
  });
}

export async function addUser(options: { msp: string; email: string; name: string; role: string; password?: string }): Promise<void> {
  if (!['msp_admin', 'msp_technician', 'msp_billing'].includes(options.role)) {
    throw new Error('role must be msp_admin, msp_technician or msp_billing');
  }
  const user = await withDb((db) =>
    createUser(db, {
      mspId: options.msp,
      email: options.email,
      name: options.name,
      role: options.role as 'msp_admin',
      ...(options.password ? { password: options.password } : {}),
      at: new Date(),
    }),
  );
  process.stdout.write(`${JSON.stringify({ id: user.id, email: user.email, role: user.role, msp: user.msp_id })}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export async function setUserPassword(options: { email: string; password?: string }): Promise<void> {
  const password = options.password ?? (await readStdin());
  await withDb((db) => setPassword(db, options.email, password));
  process.stdout.write(`password set for ${options.email}\n`);
}

/** `deskhand user disable|enable`: disabling ends the user's sessions and revokes their API tokens. */
export async function setUserEnabled(options: { email: string }, enabled: boolean): Promise<void> {
  const result = await withDb((db) => setUserDisabled(db, { email: options.email, disabled: !enabled, actor: 'cli', at: new Date() }));
  process.stdout.write(
    `${JSON.stringify({ id: result.user.id, email: result.user.email, disabled: result.user.disabled, sessionsEnded: result.sessionsEnded, tokensRevoked: result.tokensRevoked })}\n`,
  );
}

export async function issueToken(options: { email: string; name: string }): Promise<void> {
  const token = await withDb((db) => issueApiToken(db, { email: options.email, name: options.name, at: new Date() }));
  process.stdout.write(`${JSON.stringify({ token: token.token, id: token.id, note: 'shown once: store it now' })}\n`);
}

export async function auditVerify(options: { json?: boolean }): Promise<void> {
  const results = await withDb(async (db) => {
    const msps = await db.selectFrom('msps').select('id').orderBy('id').execute();
    return Promise.all(msps.map((m) => verifyAuditChain(db, m.id)));
  });
  const ok = results.every((r) => r.ok);
  if (options.json) process.stdout.write(`${JSON.stringify({ ok, chains: results })}\n`);
  else for (const r of results) process.stdout.write(`${r.mspId}: ${r.ok ? 'ok' : `BROKEN at ${r.brokenAt}: ${r.reason}`} (${r.rows} rows)\n`);
  if (!ok) process.exitCode = 1;
}
