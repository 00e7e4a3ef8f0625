// Renderings of findings: human text grouped by boot, JSON (only the array), JUnit XML for CI.
import type { Finding } from './detect.js';

export function formatText(findings: Finding[], boots: string[]): string {
  const lines: string[] = [];
  for (const boot of boots) {
    const own = findings.filter((f) => f.boot === boot);
    const serious = own.filter((f) => f.severity !== 'info');
    lines.push(`boot ${boot}: ${serious.length === 0 ? 'no IPI or CSD problem found' : `${serious.length} finding${serious.length === 1 ? '' : 's'}`}`);
    for (const f of own) {
      lines.push(`  ${f.severity.toUpperCase()} ${f.detector}: ${f.title}`);
      lines.push(`    ${f.message}`);
      for (const e of f.evidence.slice(0, 12)) lines.push(`    at ${e.file}:${e.line}`);
      if (f.evidence.length > 12) lines.push(`    ... ${f.evidence.length - 12} more evidence lines (table findings)`);
    }
  }
  return lines.join('\n');
}

export function formatJson(findings: Finding[]): string {
  return JSON.stringify(findings.map(({ detector, severity, boot, ts_ns, cpu, target_cpu, csd, func, title, message, evidence }) =>
    ({ detector, severity, boot, ts_ns, cpu, target_cpu, csd, func, title, message, evidence })), null, 2);
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** One testsuite per boot, one failing testcase per finding at warning or error; a passing one when clean. */
export function formatJunit(findings: Finding[], boots: string[]): string {
  const suites = boots.map((boot) => {
    const own = findings.filter((f) => f.boot === boot && f.severity !== 'info');
    const cases = own.length === 0
      ? `    <testcase classname="ipitrace.${escapeXml(boot)}" name="no IPI or CSD problem"/>`
      : own.map((f) => `    <testcase classname="ipitrace.${escapeXml(boot)}.${f.detector}" name="${escapeXml(f.title)}">
      <failure type="${f.severity}" message="${escapeXml(f.message)}">${escapeXml(f.evidence.map((e) => `${e.file}:${e.line}`).join('\n'))}</failure>
    </testcase>`).join('\n');
    return `  <testsuite name="ipitrace ${escapeXml(boot)}" tests="${Math.max(1, own.length)}" failures="${own.length}">\n${cases}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join('\n')}\n</testsuites>\n`;
}
