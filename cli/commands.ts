// The commands as yargs sees them: name, options, examples, help text. This is all that start-up
// loads (`--version`, `--help`, parsing); each handler imports its command's module (cli/X.ts) when
// it runs, and that module imports what the command needs, so one command does not load (compile)
// another's code, nor zod (cli/args.ts) before a handler runs.
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { dbOption, maxInputSizeOption } from './options.js';

/** The options of detect, and of analyze, record and batch, which end with a detect. */
export const detectOptions = {
  boot: { type: 'string', describe: 'only this boot (default: every boot in the database)' },
  json: { type: 'boolean', default: false, describe: `print only the JSON document {format: "ipitrace-findings", version: 1, boots: [...]} (README: JSON output)` },
  junit: { type: 'string', describe: 'also write every finding as JUnit XML to this file (errors and warnings fail, info passes with its text)' },
  'fail-on': { choices: ['error', 'warning', 'never'], default: 'error', describe: 'exit 1 when a finding reaches this severity' },
  'csd-timeout': { type: 'number', default: 5, describe: 'seconds after which a released csd counts as held too long' },
  grace: { type: 'number', default: 1, describe: 'seconds the trace must go on after a queue to an online CPU before it counts as never released' },
  cpus: { type: 'number', describe: 'number of CPUs that exist (present), when the logs do not say or are wrong' },
  verbose: { type: 'boolean', default: false, describe: 'show every evidence line of each finding (default: the first 3)' },
} as const;

type Handler = (argv: ArgumentsCamelCase) => Promise<void>;

export const ingestCommand: CommandModule = {
  command: 'ingest <files..>',
  describe: 'read consoles, ftrace text and dumps, and QEMU trace logs (plain, gzip, bzip2, xz or zstd, or - for stdin) into the database',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, describe: 'input files; - reads stdin' })
    .options({
      ...dbOption,
      boot: { type: 'string', describe: 'boot name for all files (default: from the folder or file name)' },
      replace: { type: 'boolean', default: false, describe: 'ingest again files already in the database' },
      validate: { type: 'boolean', default: false, describe: 'check every record against its schema (slower)' },
      ...maxInputSizeOption,
      'parse-thread': {
        choices: ['auto', 'main', 'worker'], default: 'auto',
        describe: 'where lines are parsed: auto = a worker thread for files of 4 MiB and more on a multi-core machine',
      },
    })
    .example('$0 ingest --db run.db console.log trace.txt qemu-trace.log.gz', 'one boot: console, ftrace and QEMU log'),
  handler: (async (argv) => (await import('./ingest.js')).ingestHandler(argv)) as Handler,
};

export const detectCommand: CommandModule = {
  command: 'detect',
  describe: 'replay hotplug, queues and CSD locks, run the detectors (queries/*.sql); print the verdict, then the findings with evidence',
  builder: (y) => y.options({ ...dbOption, ...detectOptions })
    .example('$0 detect --db run.db --fail-on warning --junit findings.xml', 'CI gate')
    .epilog('Exit codes: 0 no finding at --fail-on, 1 findings at or above it, 2 usage or input errors (no such database, nothing to analyze).'),
  handler: (async (argv) => (await import('./detect.js')).detectHandler(argv)) as Handler,
};

export const queryCommand: CommandModule = {
  command: 'query [sql]',
  describe: 'run one SQL statement on the database, read-only; aligned table, --vertical, --json or --csv',
  builder: (y) => y
    .positional('sql', { type: 'string', describe: "one SQL statement; - reads it from stdin" })
    .options({
      ...dbOption,
      file: { alias: 'f', type: 'string', describe: 'read the statement from this .sql file (- for stdin), e.g. a detector from queries/' },
      param: {
        type: 'string', requiresArg: true,
        describe: 'name=value for a named parameter :name (repeatable); integers and decimals are bound as numbers, anything else as text',
      },
      json: { type: 'boolean', describe: 'print a JSON array of row objects, one per line, nothing else; exact 64-bit integers' },
      csv: { type: 'boolean', describe: 'print CSV with a header row' },
      vertical: { type: 'boolean', describe: 'one block per row, one "column | value" line per column, whole values (for wide rows)' },
      'max-width': { type: 'number', default: 60, describe: "table view: cut longer cells to this many characters, with '…' (0: never)" },
    })
    .conflicts('json', 'csv').conflicts('json', 'vertical').conflicts('csv', 'vertical')
    .example(`$0 query --db run.db "SELECT kind, count(*) FROM events GROUP BY kind"`, 'events per kind')
    .example('$0 query --db run.db -f queries/csd-never-released.sql --param boot=run', "a detector's own SQL, as it is")
    .example('$0 query --db run.db --vertical "SELECT * FROM findings"', 'wide rows, one block each')
    .epilog('Read-only: only statements that read and change nothing run (no VACUUM INTO, ATTACH or PRAGMA writes). For an interactive shell: sqlite3 DB.'),
  handler: (async (argv) => (await import('./query.js')).queryHandler(argv)) as Handler,
};

export const schemaCommand: CommandModule = {
  command: 'schema',
  describe: 'print the database schema, documented column by column',
  handler: (async () => (await import('./schema.js')).schemaHandler()) as Handler,
};

export const analyzeCommand: CommandModule = {
  command: 'analyze <files..>',
  describe: 'ingest, replay and detect in one go; print CPUs, IPI counts per CPU pair and findings per boot',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, describe: 'console logs, ftrace text, QEMU trace logs (plain, gzip, bzip2, xz or zstd, or - for stdin)' })
    .options({
      ...detectOptions,
      db: { type: 'string', describe: 'keep the database in this file (default: a temporary one, removed afterwards)' },
      boot: { type: 'string', describe: 'boot name for all files (default: files in one folder are one boot, named after the folder; else a boot per file, from its name)' },
      html: { type: 'string', describe: 'also write a self-contained HTML timeline (CPU lanes, IPIs, csds, findings) to this file' },
      ...maxInputSizeOption,
    })
    .example('$0 analyze console.log trace.txt qemu-trace.log.gz --html report.html', 'one boot, all three artifact kinds')
    .example('$0 analyze boot.log', 'a single mixed console log')
    .epilog('The first lines are the verdict: one line per root cause (ERROR/WARNING), or OK. Exit codes: 0 no finding at --fail-on, 1 findings at or above it, 2 usage or input errors (unreadable file, nothing to analyze).'),
  handler: (async (argv) => (await import('./analyze.js')).analyzeHandler(argv)) as Handler,
};

export const timelineCommand: CommandModule = {
  command: 'timeline',
  describe: 'write a self-contained HTML timeline: CPU lanes with hotplug states, IPI arrows, csd lifetimes, findings',
  builder: (y) => y.options({
    ...dbOption,
    boot: { type: 'string', describe: 'only this boot (default: every boot in the database, one section each)' },
    html: { type: 'string', demandOption: true, describe: 'the HTML file to write' },
    from: { type: 'number', describe: 'window start, seconds of the boot\'s reference clock (default: start of the boot)' },
    to: { type: 'number', describe: 'window end, seconds (default: end of the boot)' },
  }).example('$0 timeline --db run.db --boot b1 --from 3.9 --to 4.1 --html zoom.html', 'zoom on a finding at 4.0 s'),
  handler: (async (argv) => (await import('./timeline.js')).timelineHandler(argv)) as Handler,
};

export const batchCommand: CommandModule = {
  command: 'batch [paths..]',
  describe: 'analyze many boots in one run on every core: each folder (its files) or file is one boot; a line per boot',
  builder: (y) => y
    .positional('paths', { type: 'string', array: true, describe: 'boot folders (all files in one are one boot) or single-file boots' })
    .options({
      'fail-on': detectOptions['fail-on'],
      'csd-timeout': detectOptions['csd-timeout'],
      grace: detectOptions.grace,
      cpus: detectOptions.cpus,
      manifest: { type: 'string', describe: 'a file listing boots, one a line: NAME<TAB>FILE[<TAB>FILE...] (or only files)' },
      out: { type: 'string', describe: "write each boot's analyze --json document to DIR/BOOT.json (DIR/BOOT.error.txt when it failed)" },
      jobs: { type: 'number', describe: 'boots analyzed at once (default: the number of cores)' },
      json: { type: 'boolean', default: false, describe: 'print one JSON object per boot (JSON Lines): boot, files, exit_code, errors, warnings, infos, seconds, headline, error' },
      progress: { type: 'boolean', describe: 'show a progress line on stderr (default: when stderr is a terminal)' },
      export: { type: 'string', describe: 'also write every finding and a summary per boot for a warehouse: DIR/findings.EXT, DIR/boots.EXT (as ipitrace export)' },
      'export-format': { choices: ['jsonl', 'parquet'], default: 'jsonl', describe: 'format of --export' },
    })
    .example('$0 batch runs/*/ --out results/ --fail-on warning', 'a boot per folder, every core, one JSON document per boot')
    .example('$0 batch --manifest boots.tsv --json > verdicts.jsonl', 'boots listed in a manifest, one JSON line each'),
  handler: (async (argv) => (await import('./batch.js')).batchHandler(argv)) as Handler,
};

export const exportCommand: CommandModule = {
  command: 'export',
  describe: 'write findings (with their cross-boot signature) and a summary per boot as JSON Lines or Parquet, for a warehouse',
  builder: (y) => y.options({
    ...dbOption,
    out: { type: 'string', demandOption: true, describe: 'folder to write findings.EXT and boots.EXT into' },
    format: { choices: ['jsonl', 'parquet'], default: 'jsonl', describe: 'file format' },
    boot: { type: 'string', describe: 'only this boot (default: every boot in the database)' },
  }).example('$0 export --db run.db --out warehouse/run42 --format parquet', 'then in DuckDB: SELECT signature, count(DISTINCT boot) FROM \'warehouse/*/findings.parquet\' GROUP BY 1'),
  handler: (async (argv) => (await import('./export.js')).exportHandler(argv)) as Handler,
};

export const recordCommand: CommandModule = {
  command: 'record',
  describe: 'run a QEMU command with IPI/CSD tracing added (after --), then analyze the console and QEMU trace it wrote',
  builder: (y) => y
    .parserConfiguration({ 'populate--': true })
    .usage('$0 record [--out DIR] [--timeout S] [--no-analyze] [analyze options] -- qemu-system-ARCH ARGS...')
    .options({
      out: { type: 'string', describe: 'folder for console.log, qemu-trace.log, command.txt, qemu-stderr.log; its name is the boot name (default: ipitrace-record-DATE-TIME)' },
      timeout: { type: 'number', default: 300, describe: 'wall-clock limit in seconds (0: none); then SIGTERM, and what was written is analyzed' },
      'kill-after': { type: 'number', default: 10, describe: 'seconds between SIGTERM and SIGKILL' },
      analyze: { type: 'boolean', default: true, describe: 'analyze the outputs (--no-analyze: only record)' },
      ...detectOptions,
      boot: { type: 'string', describe: 'boot name (default: the --out folder name)' },
      json: { type: 'boolean', default: false, describe: 'print only the JSON document of analyze --json (format ipitrace-findings, version 1); messages go to stderr' },
      db: { type: 'string', describe: 'keep the database in this file (default: a temporary one)' },
      html: { type: 'string', describe: 'also write the HTML timeline to this file' },
    })
    .example('$0 record --out run1 -- qemu-system-x86_64 -smp 4 -kernel bzImage -append "console=ttyS0" -nographic', 'x86: adds -trace apic_*, -D, -msg timestamp=on, console log and kernel trace_event=')
    .example('$0 record --timeout 120 -- qemu-system-aarch64 -M virt,gic-version=3 -cpu max -nographic -kernel Image -append "console=ttyAMA0"', 'arm64 GICv3'),
  handler: (async (argv) => (await import('./record.js')).recordHandler(argv)) as Handler,
};
