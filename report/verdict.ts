// Everything `detect` and `analyze` say about one boot, computed once for every rendering (text,
// JSON, JUnit): the input check, the findings in groups with their headlines, the summary.
import { findingGroups, type FindingGroup, type PathDisplay } from '../detect/groups.js';
import type { Finding } from '../detect/detect.js';
import { checkInputs, type InputCheck } from '../detect/input-check.js';
import type { Db } from '../store/db.js';
import { summarizeBoot, type BootSummary } from './summary.js';

export interface BootVerdict {
  boot: string;
  /** 'problem' (a finding of warning or error), 'clean', or 'nothing-to-analyze' (input error). */
  verdict: 'problem' | 'clean' | 'nothing-to-analyze';
  input: InputCheck;
  groups: FindingGroup[];
  /** Every finding of the boot, in group order. */
  findings: Finding[];
  /** null when the boot had nothing to analyze, or the caller asked for none (bootVerdict). */
  summary: BootSummary | null;
}

/**
 * Run after detect (the limits read replay's tables); a boot with nothing to analyze is not
 * replayed at all (checkInputs' `nothing` reads only the sources). `summary: false` when nothing
 * shows it (detect's text output): at 5 M events its counts read the derived tables again, ~1 s.
 */
export function bootVerdict(db: Db, boot: string, findings: Finding[], display: PathDisplay, { summary = true } = {}): BootVerdict {
  const check = checkInputs(db, boot, display);
  if (check.nothing !== null) return { boot, verdict: 'nothing-to-analyze', input: check, groups: [], findings: [], summary: null };
  const groups = findingGroups(db, findings.filter((f) => f.boot === boot), display);
  const ordered = groups.flatMap((g) => g.findings);
  return {
    boot,
    verdict: groups.some((g) => g.severity !== 'info') ? 'problem' : 'clean',
    input: check,
    groups,
    findings: ordered,
    summary: summary ? summarizeBoot(db, boot, ordered) : null,
  };
}
