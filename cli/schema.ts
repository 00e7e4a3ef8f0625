// ipitrace schema: prints the documented schema (the tables people query).
import { schemaText } from '../store/db.js';

/** `ipitrace schema` (cli/commands.ts has its options). */
export async function schemaHandler(): Promise<void> {
  process.stdout.write(schemaText());
}
