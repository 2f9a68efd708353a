/**
 * A process that supervises the embedded PostgreSQL of a data folder, commits one row and then waits
 * to be killed: the embedded tests use it to leave an orphaned server behind, as a crash would.
 *
 *   node --import tsx test/support/embedded-child.ts <dataDir> <value>
 *
 * Prints one JSON line once the row is committed: `{"pid":…,"port":…,"supervising":…}`.
 */
import pg from 'pg';
import { silentLogger } from '../../src/logger.ts';
import { openEmbeddedPostgres } from '../../src/store/embedded.ts';

const [dataDir, value] = process.argv.slice(2);
if (!dataDir || !value) throw new Error('usage: embedded-child.ts <dataDir> <value>');

const server = await openEmbeddedPostgres(dataDir, silentLogger);
const client = new pg.Client({ connectionString: server.url });
await client.connect();
await client.query('CREATE TABLE IF NOT EXISTS crash_rows (value text PRIMARY KEY)');
await client.query('INSERT INTO crash_rows (value) VALUES ($1)', [value]);
await client.end();
process.stdout.write(`${JSON.stringify({ pid: process.pid, port: server.port, supervising: server.supervising })}\n`);
// Wait to be killed; a plain exit would let the package stop the server.
setInterval(() => {}, 60_000);
