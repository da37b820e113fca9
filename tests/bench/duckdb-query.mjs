// tests/bench/duckdb-query.mjs - runs one SQL statement in DuckDB (the
// engine inside npm's @duckdb/node-api) and writes the result rows to stdout
// as NDJSON arrays, so that a bench case pays for its output as fx does.
//   node tests/bench/duckdb-query.mjs 'SELECT ...'
// DUCKDB_THREADS (default: every core) caps the engine's threads.
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
	process.stderr.write('usage: duckdb-query.mjs SQL\n');
	process.exit(2);
}
const opts = process.env.DUCKDB_THREADS ? { threads: process.env.DUCKDB_THREADS } : {};
const instance = await DuckDBInstance.create(':memory:', opts);
const con = await instance.connect();
const reader = await con.runAndReadAll(sql);
const rows = reader.getRowsJson();
const chunk = [];
for (const r of rows) {
	chunk.push(JSON.stringify(r));
	if (chunk.length === 65536) {
		process.stdout.write(chunk.join('\n') + '\n');
		chunk.length = 0;
	}
}
if (chunk.length)
	process.stdout.write(chunk.join('\n') + '\n');
