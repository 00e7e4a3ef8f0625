// ipitrace query [--db F] [--json|--csv] "SQL": read-only; the database is the interface.
import type { CommandModule } from 'yargs';
import { z } from 'zod';
import { dbOption, validateOptions } from './options.js';

const QueryArgs = z.object({
  db: z.string().min(1),
  sql: z.string().min(1),
  json: z.boolean().default(false),
  csv: z.boolean().default(false),
});

export const queryCommand: CommandModule = {
  command: 'query <sql>',
  describe: 'run SQL on the database (read-only); aligned table, --json or --csv',
  builder: (y) => y
    .positional('sql', { type: 'string', describe: 'one SQL statement' })
    .options({
      ...dbOption,
      json: { type: 'boolean', describe: 'print a JSON array of row objects, nothing else' },
      csv: { type: 'boolean', describe: 'print CSV with a header row' },
    })
    .conflicts('json', 'csv')
    .example(`$0 query "SELECT kind, count(*) FROM events GROUP BY kind"`, 'events per kind'),
  handler: async (argv) => {
    const args = validateOptions(QueryArgs, argv);
    const { openReadOnly } = await import('../store/db.js');
    const { runQuery, formatTable, formatCsv, formatJson } = await import('../store/query.js');
    const db = openReadOnly(args.db);
    const result = runQuery(db, args.sql);
    db.close();
    const text = args.json ? formatJson(result.rows) : args.csv ? formatCsv(result) : formatTable(result);
    process.stdout.write(text + '\n');
  },
};
