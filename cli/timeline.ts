// ipitrace timeline --db F [--boot NAME] --html out.html [--from S --to S]
import { detect } from '../detect/detect.js';
import { buildTimeline, renderTimelinePage } from '../report/timeline.js';
import { listBoots } from '../replay/replay.js';
import { openWritable } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import { writeOutputFile } from '../store/output-file.js';
import { TimelineArgs, validateOptions } from './args.js';
import { checkOutputPath } from './outputs.js';

/** `ipitrace timeline` (cli/commands.ts has its options). */
export async function timelineHandler(argv: unknown): Promise<void> {
  const args = validateOptions(TimelineArgs, argv);
  checkOutputPath(args.html, '--html');
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
}
