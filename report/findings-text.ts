// The text of `detect` and `analyze`: the answer first (one verdict line per root cause, per boot),
// then per boot the findings in their groups, each with the lines that show it (file:line and the
// text of the line; a few by default, all with --verbose), then what the input could not answer.
import type { Finding } from '../detect/detect.js';
import { evidenceKey, type EvidenceText } from './evidence.js';
import { displayPath, PLAIN, severityStyle, type Style } from './style.js';
import type { BootVerdict } from './verdict.js';

export interface TextOptions {
  style?: Style;
  /** Every evidence line instead of the first few. */
  verbose?: boolean;
  evidence?: EvidenceText;
  display?: (file: string) => string;
}

/** Evidence lines shown per finding without --verbose. */
export const EVIDENCE_SHOWN = 3;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const LABEL = { error: 'ERROR', warning: 'WARNING', info: 'INFO' } as const;

/** The verdict lines: one per group of warning or error, or one OK line, per boot. */
export function verdictLines(verdicts: BootVerdict[], options: TextOptions = {}): string[] {
  const style = options.style ?? PLAIN;
  const many = verdicts.length > 1;
  const out: string[] = [];
  for (const v of verdicts) {
    const prefix = many ? `${v.boot}: ` : '';
    if (v.verdict === 'nothing-to-analyze') {
      out.push(`${style.error('NOTHING TO ANALYZE')} in boot ${v.boot} (the error on stderr says why)`);
      continue;
    }
    const problems = v.groups.filter((g) => g.severity !== 'info');
    if (problems.length === 0) {
      const caveat = v.input.limits.length ? ` (but the input could not answer everything: ${plural(v.input.limits.length, 'limit')} below)` : '';
      out.push(`${style.ok('OK')} no IPI or CSD problem found in boot ${v.boot}${caveat}`);
    }
    for (const g of problems) out.push(`${severityStyle(style, g.severity)(LABEL[g.severity])} ${prefix}${style.bold(g.headline)}`);
  }
  return out;
}

function countBySeverity(findings: Finding[]): string {
  const parts = (['error', 'warning', 'info'] as const)
    .map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0).map(([s, n]) => plural(n, s));
  return parts.join(', ');
}

function evidenceLines(f: Finding, options: TextOptions, indent: string): string[] {
  const display = options.display ?? displayPath;
  const style = options.style ?? PLAIN;
  const shown = options.verbose ? f.evidence : f.evidence.slice(0, EVIDENCE_SHOWN);
  const out = shown.map((e) => {
    const text = options.evidence?.get(evidenceKey(e.file, e.line));
    return `${indent}${style.dim(`${display(e.file)}:${e.line}`)}${text ? `  ${text.trim()}` : ''}`;
  });
  if (shown.length < f.evidence.length) out.push(`${indent}... ${f.evidence.length - shown.length} more (--verbose shows all)`);
  return out;
}

/** One boot's findings, grouped; the header counts exactly the findings listed under it. */
export function formatBoot(v: BootVerdict, options: TextOptions = {}): string[] {
  const style = options.style ?? PLAIN;
  if (v.verdict === 'nothing-to-analyze') return [];
  const out: string[] = [];
  if (v.findings.length === 0) out.push(`boot ${v.boot}: no IPI or CSD problem found`);
  else {
    out.push(`boot ${v.boot}: ${plural(v.findings.length, 'finding')} (${countBySeverity(v.findings)}) in ${plural(v.groups.length, 'group')}`);
  }
  v.groups.forEach((g, i) => {
    const sev = severityStyle(style, g.severity);
    out.push(`  ${i + 1}. ${sev(LABEL[g.severity])} ${style.bold(g.headline)}`);
    out.push(`     signature: ${g.signature}`);
    for (const f of g.findings) {
      out.push(`     ${severityStyle(style, f.severity)(LABEL[f.severity])} ${f.detector}: ${f.title}`);
      out.push(`       ${f.message}`);
      out.push(...evidenceLines(f, options, '       '));
    }
  });
  for (const w of v.input.warnings) out.push(`  ${style.warning('input')}: ${w}`);
  for (const l of v.input.limits) out.push(`  ${style.warning('cannot tell')}: ${l}`);
  return out;
}

/** `detect`'s text: the verdict lines, then each boot. */
export function formatFindingsText(verdicts: BootVerdict[], options: TextOptions = {}): string {
  return [...verdictLines(verdicts, options), '', ...verdicts.flatMap((v) => formatBoot(v, options))].join('\n');
}
