// The commands' options as zod schemas, checked in each handler after yargs has parsed them. Handlers
// import this module when they run (`await import('./args.js')`), so that zod is not loaded, nor
// these schemas built, at start-up: `ipitrace --version` and `--help` need neither (issue 24).
import * as z from 'zod';
import { IpitraceError } from '../store/errors.js';

/** Validates parsed options; a failure becomes one usage line naming the option. */
export function validateOptions<T extends z.ZodType>(schema: T, argv: unknown): z.infer<T> {
  const result = schema.safeParse(argv);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new IpitraceError('E_USAGE', `--${issue.path.join('.')}: ${issue.message}`);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i;

/** --max-input-size (cli/options.ts): bytes, from a number with an optional K, M, G or T (powers of 1024). */
export const MaxInputSize = z.string().optional().transform((text, ctx) => {
  if (text === undefined) return undefined;
  const m = SIZE.exec(text.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `not a size: '${text}' (a number of bytes with an optional K, M, G or T)` });
    return z.NEVER;
  }
  return Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()));
});

export const DetectArgs = z.object({
  db: z.string().min(1),
  boot: z.string().min(1).optional(),
  json: z.boolean(),
  junit: z.string().min(1).optional(),
  failOn: z.enum(['error', 'warning', 'never']),
  csdTimeout: z.number().positive(),
  grace: z.number().nonnegative(),
  cpus: z.number().int().positive().optional(),
  verbose: z.boolean().default(false),
});
export type DetectArgs = z.infer<typeof DetectArgs>;

export const AnalyzeArgs = DetectArgs.extend({
  db: z.string().min(1).optional(),
  html: z.string().min(1).optional(),
  maxInputSize: MaxInputSize.optional(),
  files: z.array(z.string()).min(1),
});
export type AnalyzeArgs = z.infer<typeof AnalyzeArgs>;

export const RecordArgs = AnalyzeArgs.omit({ files: true }).extend({
  out: z.string().min(1).optional(),
  timeout: z.number().nonnegative(),
  killAfter: z.number().nonnegative(),
  analyze: z.boolean(),
  command: z.array(z.string()),
});
export type RecordArgs = z.infer<typeof RecordArgs>;

export const IngestArgs = z.object({
  db: z.string().min(1),
  boot: z.string().min(1).optional(),
  replace: z.boolean(),
  validate: z.boolean(),
  parseThread: z.enum(['auto', 'main', 'worker']),
  maxInputSize: MaxInputSize.optional(),
  files: z.array(z.string()).min(1),
});

export const QueryArgs = z.object({
  db: z.string().min(1),
  sql: z.string().min(1).optional(),
  file: z.string().min(1).optional(),
  // Repeated --param options come as an array, a single one as a string.
  param: z.union([z.string(), z.array(z.string())]).default([]).transform((p) => (Array.isArray(p) ? p : [p])),
  json: z.boolean().default(false),
  csv: z.boolean().default(false),
  vertical: z.boolean().default(false),
  maxWidth: z.number().int().nonnegative().default(60),
});

export const TimelineArgs = z.object({
  db: z.string().min(1),
  boot: z.string().min(1).optional(),
  html: z.string().min(1),
  from: z.number().nonnegative().optional(),
  to: z.number().nonnegative().optional(),
}).refine((a) => a.from === undefined || a.to === undefined || a.from < a.to, { message: 'must be after --from', path: ['to'] });

export const ExportArgs = z.object({
  db: z.string().min(1),
  out: z.string().min(1),
  format: z.enum(['jsonl', 'parquet']),
  boot: z.string().min(1).optional(),
});
export type ExportArgs = z.infer<typeof ExportArgs>;

export const BatchArgs = z.object({
  paths: z.array(z.string()).default([]),
  manifest: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
  jobs: z.number().int().positive().optional(),
  json: z.boolean(),
  failOn: z.enum(['error', 'warning', 'never']),
  csdTimeout: z.number().positive(),
  grace: z.number().nonnegative(),
  cpus: z.number().int().positive().optional(),
  progress: z.boolean().optional(),
  export: z.string().min(1).optional(),
  exportFormat: z.enum(['jsonl', 'parquet']),
});
export type BatchArgs = z.infer<typeof BatchArgs>;
