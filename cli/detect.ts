// ipitrace detect [--db F] [--boot NAME] [--json] [--junit FILE] [--fail-on error|warning|never] [--csd-timeout S]
import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { z } from 'zod';
import type { Db } from '../store/db.js';
import { dbOption, validateOptions } from './options.js';

export const detectOptions = {
  boot: { type: 'string', describe: 'only this boot (default: every boot in the database)' },
  json: { type: 'boolean', default: false, describe: 'print only a JSON array of findings' },
  junit: { type: 'string', describe: 'also write the findings as JUnit XML to this file' },
  'fail-on': { choices: ['error', 'warning', 'never'], default: 'error', describe: 'exit 1 when a finding reaches this severity' },
  'csd-timeout': { type: 'number', default: 5, describe: 'seconds after which a released csd counts as held too long' },
  grace: { type: 'number', default: 1, describe: 'seconds the trace must go on after a queue to an online CPU before it counts as never released' },
  cpus: { type: 'number', describe: 'number of CPUs that exist (present), when the logs do not say or are wrong' },
} as const;

export const DetectArgs = z.object({
  db: z.string().min(1),
  boot: z.string().min(1).optional(),
  json: z.boolean(),
  junit: z.string().min(1).optional(),
  failOn: z.enum(['error', 'warning', 'never']),
  csdTimeout: z.number().positive(),
  grace: z.number().nonnegative(),
  cpus: z.number().int().positive().optional(),
});

export async function runDetect(args: z.infer<typeof DetectArgs>, db: Db): Promise<void> {
  const { detect, reachesThreshold } = await import('../detect/detect.js');
  const { formatJson, formatJunit, formatText } = await import('../detect/report.js');
  const { listBoots } = await import('../replay/replay.js');
  const findings = detect(db, {
    boot: args.boot, csdTimeoutNs: Math.round(args.csdTimeout * 1e9), graceNs: Math.round(args.grace * 1e9), cpus: args.cpus,
  });
  const boots = args.boot ? [args.boot] : listBoots(db);
  process.stdout.write((args.json ? formatJson(findings) : formatText(findings, boots)) + '\n');
  if (args.junit) writeFileSync(args.junit, formatJunit(findings, boots));
  process.exitCode = reachesThreshold(findings, args.failOn) ? 1 : 0;
}

export const detectCommand: CommandModule = {
  command: 'detect',
  describe: 'replay hotplug, queues and CSD locks, run the detectors (queries/*.sql), print findings with evidence',
  builder: (y) => y.options({ ...dbOption, ...detectOptions })
    .example('$0 detect --db run.db --fail-on warning --junit findings.xml', 'CI gate'),
  handler: async (argv) => {
    const args = validateOptions(DetectArgs, argv);
    const { openWritable } = await import('../store/db.js');
    const db = openWritable(args.db);
    try {
      await runDetect(args, db);
    } finally {
      db.close();
    }
  },
};
