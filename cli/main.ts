#!/usr/bin/env node
// ipitrace command line: thin commands over library functions (ingest/, replay/, detect/).
// Exit codes: 0 ok / no finding at --fail-on, 1 findings at or above --fail-on, 2 usage or input error.
// cli/commands.ts holds the commands' options; each handler imports its command's module (cli/X.ts)
// when it runs, so that one command does not load (compile) every other command's code at start-up.
import './v8-flags.js';
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isIpitraceError } from '../store/errors.js';
import { packagePath } from '../store/paths.js';
import { guardStream } from '../store/terminal-text.js';
import { analyzeCommand, batchCommand, detectCommand, exportCommand, ingestCommand, queryCommand, recordCommand, schemaCommand, timelineCommand } from './commands.js';
import { markArgs } from './options.js';

// Text from logs reaches stdout and stderr in many places (query cells, function names in findings,
// unparsed samples in ingest messages): whatever a formatter forgot, no escape sequence from a log
// reaches the terminal (store/terminal-text.ts).
guardStream(process.stdout);
guardStream(process.stderr);
// `ipitrace query ... | head`: a reader that has seen enough is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// yargs drops a lone '-' (stdin) from positionals and reads '-x.log' after '--' as nothing: carry
// both through with markers (cli/options.ts).
const argv = markArgs(hideBin(process.argv));
const debug = argv.includes('--debug');
// The bundled modules have source maps (scripts/bundle.mjs): with --debug, stack traces name the .ts
// files and lines of the modules loaded from here on (every command's code).
if (debug) process.setSourceMapsEnabled(true);

function fail(message: string): never {
  process.stderr.write(`ipitrace: ${message}\n`);
  process.exit(2);
}

/**
 * Our version, from our package.json: yargs would look for the package.json above its own folder in
 * node_modules, which the bundled CLI (dist/cli/main.js, see scripts/bundle.mjs) is not in.
 */
function version(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const parser = yargs(argv)
    .scriptName('ipitrace')
    .usage('$0 <command> [options]\n\nWhy did this QEMU boot hang? Which CPU sent an IPI or cross-call to an offline or nonexistent CPU, and which CSD lock was never released?')
    .command(ingestCommand)
    .command(detectCommand)
    .command(queryCommand)
    .command(schemaCommand)
    .command(analyzeCommand).command(timelineCommand)
    .command(batchCommand).command(exportCommand)
    .command(recordCommand)
    .option('debug', { type: 'boolean', describe: 'show stack traces of internal errors', global: true })
    .epilog('Files whose names start with - go after --: ipitrace ingest -- -x.log. IPITRACE_BUSY_TIMEOUT=S: how long to wait for another process writing the same database before giving up (default 60 s).')
    .demandCommand(1, 'give a command (see --help)')
    .strict()
    .recommendCommands()
    .fail((message, error) => {
      if (error) throw error;
      fail(`${message.replace(/\s*\n\s*/g, ' ')} (see --help)`);
    })
    .help()
    .version(version());
  // Once a command's handler has started, yargs renders that command's whole help text (cliui's
  // string widths, Intl.Segmenter: 25 ms of `analyze` of a small console) in case the handler shows
  // help later; ours never do (.fail above prints one line), so that work is skipped. Without the
  // internal method (another yargs), nothing changes but the time.
  const usage = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
    .getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => {};
  await parser.parseAsync();
}

main().catch(async (error: unknown) => {
  if (isIpitraceError(error)) fail(error.message);
  // A full disk or another process's lock is not a bug of ipitrace: one line naming the file.
  const { storageErrorMessage } = await import('../store/db.js');
  const storage = storageErrorMessage(error);
  if (storage) {
    if (debug) process.stderr.write(`${(error as Error).stack}\n`);
    fail(storage);
  }
  if (debug) process.stderr.write(`${(error as Error).stack}\n`);
  fail(`internal error: ${(error as Error).message}${debug ? '' : ' (run with --debug for the stack)'}`);
});
