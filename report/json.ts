// The one JSON document of `detect --json` and `analyze --json`, versioned: a pipeline checks
// `format` and `version` and can rely on the rest. README.md documents it; the zod schema below is
// the contract (test/verdict.test.ts validates real output against it). Bump JSON_VERSION when a
// field changes meaning or goes away; adding a field is not a new version.
import * as z from 'zod';
import { exactJson } from './exact-json.js';
import { Finding as DetectedFinding, SEVERITIES } from '../detect/detect.js';
import { evidenceKey, type EvidenceText } from './evidence.js';
import type { BootVerdict } from './verdict.js';

export const JSON_FORMAT = 'ipitrace-findings';
export const JSON_VERSION = 1;

const Severity = z.enum(SEVERITIES);

export const FindingJson = DetectedFinding.extend({
  /** Index into the boot's groups. */
  group: z.number().int().nonnegative(),
  evidence: z.array(z.object({ file: z.string(), line: z.number().int().positive(), text: z.string().nullable() }).strict()),
}).strict();

export const GroupJson = z.object({
  severity: Severity,
  headline: z.string(),
  signature: z.string(),
  /** Number of findings in the group (they carry its index). */
  findings: z.number().int().positive(),
}).strict();

const Transition = z.object({ cpu: z.number().int(), state: z.string(), at_s: z.number(), evidence: z.string().nullable(), basis: z.string() }).strict();

export const SummaryJson = z.object({
  clock: z.string().nullable(),
  span_s: z.object({ start: z.number(), end: z.number() }).strict().nullable(),
  cpus: z.object({ possible: z.string().nullable(), present: z.string().nullable(), online_at_end: z.string(), transitions: z.array(Transition) }).strict(),
  pairs: z.array(z.object({ src: z.number().int().nullable(), target: z.number().int(), ipis: z.number().int(), csds: z.number().int() }).strict()),
  received: z.array(z.object({ cpu: z.number().int(), entries: z.number().int() }).strict()),
  qemu: z.object({
    sends: z.number().int(), guest_sends: z.number().int(), linked: z.number().int(), method: z.string().nullable(),
    offset_s: z.number().nullable(), drift_ppm: z.number().nullable(), spread_us: z.number().nullable(),
    vcpus: z.array(z.object({ host_tid: z.number().int(), cpu: z.number().int(), basis: z.string() }).strict()),
  }).strict().nullable(),
}).strict();

export const BootJson = z.object({
  boot: z.string(),
  verdict: z.enum(['problem', 'clean', 'nothing-to-analyze']),
  /** One line per group of warning or error: the root causes, most severe first. */
  headlines: z.array(z.string()),
  groups: z.array(GroupJson),
  findings: z.array(FindingJson),
  input: z.object({ nothing: z.string().nullable(), warnings: z.array(z.string()), limits: z.array(z.string()) }).strict(),
  /** CPUs, hotplug transitions, IPI counts, QEMU correlation; null when there was nothing to analyze. */
  summary: SummaryJson.nullable(),
}).strict();

export const FindingsDocument = z.object({
  format: z.literal(JSON_FORMAT),
  version: z.literal(JSON_VERSION),
  boots: z.array(BootJson),
}).strict();
export type FindingsDocument = z.infer<typeof FindingsDocument>;

export function findingsDocument(verdicts: BootVerdict[], evidence?: EvidenceText): FindingsDocument {
  return {
    format: JSON_FORMAT,
    version: JSON_VERSION,
    boots: verdicts.map((v) => {
      const groupOf = new Map(v.groups.flatMap((g, i) => g.findings.map((f) => [f, i] as const)));
      const summary = v.summary && (({ boot: _b, findings: _f, ...rest }) => rest)(v.summary);
      return {
        boot: v.boot,
        verdict: v.verdict,
        headlines: v.groups.filter((g) => g.severity !== 'info').map((g) => g.headline),
        groups: v.groups.map((g) => ({ severity: g.severity, headline: g.headline, signature: g.signature, findings: g.findings.length })),
        findings: v.findings.map((f) => ({
          ...f,
          group: groupOf.get(f) ?? 0,
          evidence: f.evidence.map((e) => ({ ...e, text: evidence?.get(evidenceKey(e.file, e.line)) ?? null })),
        })),
        input: { nothing: v.input.nothing, warnings: v.input.warnings, limits: v.input.limits },
        summary,
      };
    }),
  };
}

// exactJson: a time beyond 2^53 ns is a BigInt (detect/epoch.ts), written as the exact integer.
export const formatFindingsJson = (verdicts: BootVerdict[], evidence?: EvidenceText) => exactJson(findingsDocument(verdicts, evidence));
