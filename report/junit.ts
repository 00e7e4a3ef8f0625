// JUnit XML for CI pages: one testsuite per boot and one testcase per finding, named by its
// signature (stable across boots, so a CI's test history follows a bug). Errors and warnings are
// failures; info findings (panics, BUGs: the context of a hang) are passing testcases whose
// system-out holds their text and evidence; a clean boot is one passing testcase, a boot with
// nothing to analyze an <error>. What the input could not answer is the suite's system-out.
import type { Finding } from '../detect/detect.js';
import { evidenceKey, type EvidenceText } from './evidence.js';
import type { BootVerdict } from './verdict.js';

// XML 1.0 allows no control characters but tab, LF and CR, even as character references.
const escapeXml = (text: string) => text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '').replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

function body(f: Finding, evidence?: EvidenceText): string {
  const lines = f.evidence.map((e) => {
    const text = evidence?.get(evidenceKey(e.file, e.line));
    return `${e.file}:${e.line}${text ? `  ${text}` : ''}`;
  });
  return escapeXml([f.title, f.message, `signature: ${f.signature}`, ...lines].join('\n'));
}

function testcase(boot: string, f: Finding, evidence?: EvidenceText): string {
  const head = `    <testcase classname="ipitrace.${escapeXml(boot)}.${f.detector}" name="${escapeXml(f.signature)}"`;
  if (f.severity === 'info') return `${head}>\n      <system-out>${body(f, evidence)}</system-out>\n    </testcase>`;
  return `${head}>\n      <failure type="${f.severity}" message="${escapeXml(f.title)}">${body(f, evidence)}</failure>\n    </testcase>`;
}

export function formatJunit(verdicts: BootVerdict[], evidence?: EvidenceText): string {
  const suites = verdicts.map((v) => {
    const failures = v.findings.filter((f) => f.severity !== 'info').length;
    const errors = v.verdict === 'nothing-to-analyze' ? 1 : 0;
    const cases = v.verdict === 'nothing-to-analyze'
      ? [`    <testcase classname="ipitrace.${escapeXml(v.boot)}" name="input">\n      <error type="nothing-to-analyze" message="${escapeXml(v.input.nothing ?? '')}"/>\n    </testcase>`]
      : v.findings.map((f) => testcase(v.boot, f, evidence));
    if (failures === 0 && errors === 0) cases.unshift(`    <testcase classname="ipitrace.${escapeXml(v.boot)}" name="no IPI or CSD problem"/>`);
    const notes = [...v.input.warnings, ...v.input.limits.map((l) => `cannot tell: ${l}`)];
    const out = notes.length ? `\n    <system-out>${escapeXml(notes.join('\n'))}</system-out>` : '';
    return `  <testsuite name="ipitrace ${escapeXml(v.boot)}" tests="${cases.length}" failures="${failures}" errors="${errors}">\n${cases.join('\n')}${out}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join('\n')}\n</testsuites>\n`;
}
