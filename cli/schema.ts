// ipitrace schema: prints the documented schema (the tables people query).
import type { CommandModule } from 'yargs';
import { schemaText } from '../store/db.js';

export const schemaCommand: CommandModule = {
  command: 'schema',
  describe: 'print the database schema, documented column by column',
  handler: () => {
    process.stdout.write(schemaText());
  },
};
