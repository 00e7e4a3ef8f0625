// ipitrace timeline --db F [--boot NAME] --html out.html [--from S --to S]
import type { CommandModule } from 'yargs';
import { IpitraceError } from '../store/errors.js';
import { writeOutputFile } from '../store/output-file.js';
import { dbOption } from './options.js';

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
  handler: async (argv) => {
    const { TimelineArgs, validateOptions } = await import('./args.js');
    const args = validateOptions(TimelineArgs, argv);
    const { checkOutputPath } = await import('./outputs.js');
    checkOutputPath(args.html, '--html');
    const { detect } = await import('../detect/detect.js');
    const { buildTimeline, renderTimelinePage } = await import('../report/timeline.js');
    const { listBoots } = await import('../replay/replay.js');
    const { openWritable } = await import('../store/db.js');
    const db = openWritable(args.db, { create: false });
    try {
      const all = listBoots(db);
      if (args.boot && !all.includes(args.boot)) {
        throw new IpitraceError('E_USAGE', `--boot ${args.boot}: no such boot in the database (have: ${all.join(', ') || 'none'})`);
      }
      const boots = args.boot ? [args.boot] : all;
      if (boots.length === 0) throw new IpitraceError('E_USAGE', `${args.db}: the database holds no boot`);
      // Boots never replayed (ingest only) are replayed and detected with the default options first.
      const replayed = db.prepare('SELECT 1 FROM clock_offsets WHERE boot = ?');
      for (const boot of boots) if (!replayed.get(boot)) detect(db, { boot });
      const pages = boots.map((boot) => buildTimeline(db, boot, { fromS: args.from, toS: args.to, db: args.db }));
      writeOutputFile(args.html, renderTimelinePage(pages), '--html');
      const findings = pages.reduce((n, p) => n + p.findings.length, 0);
      process.stdout.write(`${args.html}: timeline of ${boots.length === 1 ? `boot ${boots[0]}` : `${boots.length} boots`}, ${findings} finding${findings === 1 ? '' : 's'}\n`);
    } finally {
      db.close();
    }
  },
};
