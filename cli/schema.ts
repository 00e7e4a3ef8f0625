// ipitrace schema: prints the documented schema (the tables people query).
import type { CommandModule } from 'yargs';

export const schemaCommand: CommandModule = {
  command: 'schema',
  describe: 'print the database schema, documented column by column',
  handler: async () => {
    const { schemaText } = await import('../store/db.js');
    process.stdout.write(schemaText());
  },
};
