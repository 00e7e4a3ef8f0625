#!/usr/bin/env python3
"""mkfixture.py REC_DIR FIXTURE_DIR NAME -- build fixtures/faulty-x86-NAME/ from a recording
(/work/recordings/faulty-NAME) in the format of fixtures/faulty-x86-offline-async/fixture.json.

Every count is the output of the stored grep command (run here, on the copied files); the
findings are meta.json's ground_truth_expected_findings (written by gt_issue20.py before
ipitrace ran), with file names mapped to the stored names. Never reads ipitrace output."""
import gzip, hashlib, json, os, re, shutil, subprocess, sys

REC, FIX, NAME = sys.argv[1:4]
TEMPLATE = os.path.join(os.path.dirname(FIX.rstrip('/')), 'faulty-x86-offline-async', 'fixture.json')
tpl = json.load(open(TEMPLATE))
meta = json.load(open(os.path.join(REC, 'meta.json')))
os.makedirs(FIX, exist_ok=True)

EVENTS = tpl['count_commands']['console.log'][0].split('for e in ')[1].split('; do')[0].split()


def sh(cmd):
    return subprocess.run(['bash', '-c', cmd], cwd=FIX, capture_output=True, text=True).stdout


stored, detail = {}, {}
for f, content in (('console.log', 'console'), ('trace.txt', 'trace'), ('qemu-trace.log', 'qemu'), ('qemu-cpus.txt', None)):
    src = os.path.join(REC, f)
    if not os.path.exists(src):
        continue
    raw = open(src, 'rb').read()
    if len(raw) > 300_000:
        name = f + '.gz'
        with open(os.path.join(FIX, name), 'wb') as out:
            out.write(gzip.compress(raw, 9, mtime=0))
        how = 'gzip -9 -n of the recording file'
    else:
        name = f
        shutil.copyfile(src, os.path.join(FIX, name))
        how = 'byte-for-byte copy'
    stored[f] = name
    detail[name] = {'source': 'recordings/faulty-%s/%s' % (NAME, f), 'stored_as': how,
                    'bytes_on_disk': os.path.getsize(os.path.join(FIX, name)), 'uncompressed_bytes': len(raw),
                    'lines': raw.count(b'\n'), 'sha256_uncompressed': hashlib.sha256(raw).hexdigest(),
                    'content': content or 'QEMU HMP info cpus: vCPU thread id -> CPU index'}
files = [stored[f] for f in ('console.log', 'trace.txt', 'qemu-trace.log') if f in stored]

counts, cmds, extra = {}, {}, {}
for f in files:
    g = 'zgrep' if f.endswith('.gz') else 'grep'
    if f.startswith('qemu-trace'):
        c = "%s -oE '[0-9]+@[0-9]+\\.[0-9]{6}:[a-z0-9_]+' %s | sed 's/.*://' | sort | uniq -c" % (g, f)
        got = {}
        for line in sh(c).splitlines():
            n, k = line.split()
            got[k] = int(n)
        want = {k: got.get(k, 0) for k in tpl['expected_counts']['qemu-trace.log.gz']}
        want.update(got)
        extra[f] = {'qemu_records_total': int(sh("%s -oE '[0-9]+@[0-9]+\\.[0-9]{6}:[a-z0-9_]+' %s | wc -l" % (g, f))),
                    'qemu_records_total_command': "%s -oE '[0-9]+@[0-9]+\\.[0-9]{6}:[a-z0-9_]+' %s | wc -l" % (g, f),
                    'icr_low_writes (apic_mem_writel 0x300)': int(sh("%s -oE ':apic_mem_writel 0x300 = ' %s | wc -l" % (g, f))),
                    'icr_low_writes_command': "%s -oE ':apic_mem_writel 0x300 = ' %s | wc -l" % (g, f)}
    else:
        rx = '\\] [^ ]+ +[0-9]+\\.[0-9]{6}: $e: ' if f.startswith('trace') else '([0-9]+us : |\\[ *[0-9]+\\.[0-9]+\\] )$e: '
        c = 'for e in %s; do printf \'%%s %%s\\n\' "$e" "$(%s -cE "%s" %s)"; done' % (' '.join(EVENTS), g, rx, f)
        want = {}
        for line in sh(c).splitlines():
            k, n = line.split()
            want[k] = int(n)
        x = {'ftrace_dump_lines_any_event': int(sh("%s -cE '[0-9]+us : ' %s" % (g, f)).strip() or 0),
             'ftrace_dump_lines_any_event_command': "%s -cE '[0-9]+us : ' %s" % (g, f)}
        if f.startswith('trace'):
            x['event_lines_total_any_name'] = int(sh("%s -cE '\\] [^ ]+ +[0-9]+\\.[0-9]{6}: [a-z_0-9]+: ' %s" % (g, f)).strip())
            x['event_lines_total_any_name_command'] = "%s -cE '\\] [^ ]+ +[0-9]+\\.[0-9]{6}: [a-z_0-9]+: ' %s" % (g, f)
            x['header_line'] = sh("%s -m1 'entries-in-buffer' %s" % (g, f)).strip()
            x['header_line_command'] = "%s -m1 'entries-in-buffer' %s" % (g, f)
            x['sum_of_the_20_named'] = sum(want.values())
        extra[f] = x
    counts[f], cmds[f] = want, [c]

zg = (lambda c: 'z' + c) if stored['console.log'].endswith('.gz') else (lambda c: c)
con_cmds = {k: zg(v.replace(' console.log', ' ' + stored['console.log'])) for k, v in tpl['console_count_commands']['console.log'].items()}
con_counts = {k: int(sh(c).strip() or 0) for k, c in con_cmds.items()}


def fix_ev(e):
    e = dict(e)
    f = stored.get(e['file'], e['file'])
    if f != e['file'] and 'grep' in e:
        e['grep'] = e['grep'].replace('grep -nF', 'zgrep -nF' if f.endswith('.gz') else 'grep -nF').rsplit(' ', 1)[0] + ' ' + f
    e['file'] = f
    return e


findings = []
for fi in meta['ground_truth_expected_findings']:
    fi = dict(fi)
    fi['evidence'] = [fix_ev(e) for e in fi.get('evidence', [])]
    findings.append(fi)

online_end = re.findall(r'ipitrace-scenario: .*\bonline=([0-9,-]+)', open(os.path.join(REC, 'console.log'), errors='replace').read())
fx = {
    'origin': 'recordings/faulty-%s (issue 20; recorder: /work/recordings/recorders/faulty-x86, fault-inject.patch issue-20 version)' % NAME,
    'description': None,
    'boot': 'faulty-x86-' + NAME,
    'files': files,
    'aux_files': [stored['qemu-cpus.txt']] if 'qemu-cpus.txt' in stored else [],
    'cuts': [],
    'arch': 'x86_64',
    'kernel': meta.get('kernel_version_line'),
    'qemu': meta.get('qemu_version'),
    'files_detail': detail,
    'expected_counts': counts,
    'count_commands': cmds,
    'count_notes': tpl['count_notes'],
    'extra_counts': extra,
    'expected_console': {stored['console.log']: con_counts},
    'console_count_commands': {stored['console.log']: con_cmds},
    'expected_cpus': {'possible': '0-7', 'present': '0-3', 'online_at_start': '0-3',
                      'online_at_end': online_end[-1] if online_end else None, 'nonexistent': '4-7'},
    'expected_cpus_note': 'meta.json smp: -smp 4,maxcpus=8, possible 0-7, present 0-3, nonexistent 4-7 (no vCPU/APIC); console "CPU topo: Allowing 4 present CPUs plus 4 hotplug CPUs"; online_at_end is the last "online=" the init printed in a scenario marker (grep -oE "ipitrace-scenario: .*online=[0-9,-]+" console.log | tail -1)',
    'expected_findings': findings,
    'must_not_report': meta.get('ground_truth_must_not_report', []),
    'notes': ["Lines `smp: ipi_fault: ...` and the `ipi_fault state:` block in console.log are the fault knob's own report; real kernels print nothing like them, so no evidence here cites them and a detector must not rely on them.",
              'Recorded for issue 20 with the extended knob: the patch, init, record.sh, gt_issue20.py (ground truth into meta.json, run before ipitrace) and mkfixture.py (this file) are in recorders/faulty-x86/ of this repository (NOTES-issue20.md says how to rebuild the kernel); the recording with its meta.json and the kernel build tree are in /work/recordings/faulty-%s and /work/recordings/recorders/faulty-x86.' % NAME],
}
json.dump(fx, open(os.path.join(FIX, 'fixture.json'), 'w'), indent=2)
print(json.dumps({'files': files, 'counts': {f: {k: v for k, v in c.items() if v} for f, c in counts.items()}, 'console': {k: v for k, v in con_counts.items() if v}}, indent=1))
