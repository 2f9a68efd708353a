import { Command } from 'commander';
import { describeError } from '../core/errors.ts';

/**
 * The `deskhand` command. Commands that print JSON print it as one line, the last line of standard
 * output; logs go to standard error.
 */
const program = new Command();
program.name('deskhand').description('An AI service-desk agent for MSPs').showHelpAfterError();

program
  .command('start')
  .description('start everything: database (embedded unless DATABASE_URL), emulators with the demo world, API and worker')
  .option('--no-emulators', 'do not start the built-in emulators or load the demo world')
  .option('--no-demo', 'start the emulators but load no demo world: set up your own MSP through the setup link printed at start')
  .action(async (options: { emulators: boolean; demo: boolean }) => (await import('./start.ts')).start(options));

program
  .command('worker')
  .description('run the engine alone (several workers may share one database)')
  .option('--concurrency <n>', 'requests handled at once', '4')
  .action(async (options: { concurrency: string }) => (await import('./start.ts')).worker({ concurrency: Number(options.concurrency) }));

program
  .command('emulators')
  .description('run the built-in emulators of the outside systems, loaded with the demo world')
  .option('--state-file <path>', 'write their addresses and pid to this file')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--latency', 'add realistic latency to every answer (40-250 ms, by system)')
  .action(async (options: { stateFile?: string; host: string; latency?: boolean }) => (await import('./emulators.ts')).runEmulators(options));

program
  .command('emulator-accounts')
  .description("print the built-in emulators' demo accounts of one demo MSP, to connect a new MSP to them from the dashboard")
  .option('--msp <id>', 'the demo MSP whose accounts to print (northwind, tailspin, woodgrove)', 'northwind')
  .option('--json', 'one JSON object')
  .action(async (options: { msp: string; json?: boolean }) => (await import('./emulators.ts')).printEmulatorAccounts(options));

program
  .command('demo')
  .description('play the product stories end to end in a temporary folder and check them against the emulators')
  .option('--json', 'print one JSON object')
  .option('--story <names>', 'only these stories (comma-separated)')
  .action(async (options: { json?: boolean; story?: string }) => (await import('./demo.ts')).demo(options));

program
  .command('eval')
  .description('score the planner on a JSONL file of cases (see eval/README.md)')
  .argument('<file>', 'cases, one JSON object a line')
  .option('--json', 'print one JSON object')
  .option('--planner <name>', 'builtin (the default, offline) or llm (the model named by DESKHAND_LLM_PROVIDER, DESKHAND_LLM_MODEL, DESKHAND_LLM_API_KEY, DESKHAND_LLM_BASE_URL)', 'builtin')
  .option('--concurrency <n>', 'cases planned side by side (1 to 32)', '1')
  .action(async (file: string, options: { json?: boolean; planner?: string; concurrency?: string }) => (await import('./eval.ts')).evaluate(file, options));

program
  .command('eval-compare')
  .description('two saved `deskhand eval --json` runs side by side: which cases each planner got right')
  .argument('<a>', 'the output of one run')
  .argument('<b>', 'the output of another run of the same cases')
  .option('--json', 'print one JSON object')
  .action(async (a: string, b: string, options: { json?: boolean }) => (await import('./eval.ts')).compare(a, b, options));

program
  .command('doctor')
  .description('check every enabled integration: for each tool, whether the credentials, permissions and roles it needs are there, and the fix for each missing one')
  .option('--json', 'print one JSON object')
  .action(async (options: { json?: boolean }) => (await import('./doctor.ts')).doctor(options));

program
  .command('migrate')
  .description('bring the database schema up to date')
  .action(async () => (await import('./admin.ts')).migrateCommand());

const user = program.command('user').description('manage users of an MSP');
user
  .command('add')
  .description('add a user')
  .requiredOption('--msp <id>', 'the MSP id')
  .requiredOption('--email <email>')
  .requiredOption('--name <name>')
  .requiredOption('--role <role>', 'msp_admin, msp_technician or msp_billing')
  .option('--password <password>', 'initial password (or set it later with set-password)')
  .action(async (options) => (await import('./admin.ts')).addUser(options));
user
  .command('set-password')
  .description("set a user's password (read from --password or standard input)")
  .requiredOption('--email <email>')
  .option('--password <password>')
  .action(async (options) => (await import('./admin.ts')).setUserPassword(options));
user
  .command('disable')
  .description('disable a user: they can no longer sign in, and their sessions and API tokens end')
  .requiredOption('--email <email>')
  .action(async (options) => (await import('./admin.ts')).setUserEnabled(options, false));
user
  .command('enable')
  .description('enable a disabled user again (they sign in afresh; old sessions and tokens stay ended)')
  .requiredOption('--email <email>')
  .action(async (options) => (await import('./admin.ts')).setUserEnabled(options, true));
user
  .command('token')
  .description('issue a personal API token (shown once)')
  .requiredOption('--email <email>')
  .option('--name <name>', 'what the token is for', 'cli')
  .action(async (options) => (await import('./admin.ts')).issueToken(options));

program
  .command('audit-verify')
  .description("verify every MSP's hash-chained audit log")
  .option('--json', 'print one JSON object')
  .action(async (options: { json?: boolean }) => (await import('./admin.ts')).auditVerify(options));

const secrets = program.command('secrets').description('the keys that encrypt stored credentials: rotate them, see which are still needed');
secrets
  .command('rotate')
  .description('make a new key current and re-encrypt every stored credential under it (safe to rerun after a crash: it finishes the job)')
  .option('--new-key-env <name>', 'take the new key from this environment variable (required when DESKHAND_SECRET_KEY is set)')
  .option('--batch-size <n>', 'rows re-encrypted per transaction', '100')
  .option('--json', 'print one JSON object')
  .action(async (options: { newKeyEnv?: string; batchSize: string; json?: boolean }) => (await import('./secrets.ts')).rotate(options));
secrets
  .command('status')
  .description('the current key, stored secrets by key, and why each earlier key is still kept')
  .option('--json', 'print one JSON object')
  .action(async (options: { json?: boolean }) => (await import('./secrets.ts')).status(options));
secrets
  .command('prune')
  .description('drop earlier keys that nothing needs any more from the key file')
  .option('--json', 'print one JSON object')
  .action(async (options: { json?: boolean }) => (await import('./secrets.ts')).prune(options));

program
  .command('ticket')
  .description("open a ticket in the emulated PSA of the client's MSP as an employee would (for trying deskhand out)")
  .argument('<client>', 'client id, e.g. contoso')
  .argument('<email>', "the employee's email")
  .argument('<text>', 'what they ask for')
  .action(async (client: string, email: string, text: string) => (await import('./emulators.ts')).openTicket(client, email, text));

program
  .command('bench')
  .description('measure throughput and latency on the embedded and the machine\'s PostgreSQL (--json, --tickets N, --stories N)')
  .allowUnknownOption(true)
  .allowExcessArguments(true)
  .helpOption(false)
  .action(async () => (await import('../../bench/run.ts')).runBench(process.argv.slice(3)));

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`deskhand: ${describeError(error)}\n`);
  process.exit(1);
});
