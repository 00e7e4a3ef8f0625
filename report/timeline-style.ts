// The timeline page's style sheet (report/timeline.ts), inline in the page: no external resource.

export const TIMELINE_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:16px 24px;color:#1d2430;background:#fff}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:18px 0 4px}h3{font-size:15px;margin:14px 0 4px}
code{font:12.5px/1.3 ui-monospace,"DejaVu Sans Mono",monospace;background:#f1f3f6;padding:1px 4px;border-radius:3px}
.verdict{margin:4px 0;padding:6px 10px;font-weight:600;border-left:4px solid #c1121f;background:#fbf3f3}.verdict.sev-warning{border-color:#e07a00;background:#fdf6ec}
.meta{margin:2px 0;color:#3d4656}.note{margin:6px 0;padding:6px 10px;background:#fff6e0;border-left:4px solid #e0a100}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0;font-size:13px;color:#3d4656}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:22px;height:12px;border-radius:2px;border:1px solid rgba(0,0,0,.25)}
.sw.line{height:0;border:0;border-top:2px solid #8a94a6}.sw.line.bad{border-top:3px solid #c1121f}
svg#timeline,svg.timeline{width:100%;height:auto;display:block;border:1px solid #d8dde5;border-radius:4px;background:#fff;touch-action:none}
svg.timeline:focus{outline:2px solid #2a6fdb;outline-offset:2px}svg.timeline.dragging{cursor:grabbing}
.state-online{fill:#8fd694}.state-going_down{fill:#f6cf5a}.state-dying{fill:#f39237}.state-offline{fill:#4a5261}.state-coming_up{fill:#7fbfef}
.state-nonexistent{fill:url(#hatch-nonexistent)}
.sw.state-online{background:#8fd694}.sw.state-going_down{background:#f6cf5a}.sw.state-dying{background:#f39237}.sw.state-offline{background:#4a5261}.sw.state-coming_up{background:#7fbfef}
.sw.nonexistent{background:repeating-linear-gradient(45deg,#e4e7ec 0 3px,#b9c0cc 3px 5px)}.sw.untraced{background:repeating-linear-gradient(-45deg,#fff 0 3px,#c9ced8 3px 4px)}
.sw.csd{background:#2f6db5;height:6px}.sw.csd.open{background:#c1121f}
rect.untraced{fill:url(#hatch-untraced)}
.state-label{font-size:11px;font-weight:600;fill:#1d2430;pointer-events:none;paint-order:stroke;stroke:#8fd694;stroke-width:3px;stroke-linejoin:round}
.csd-label{font-size:10.5px;font-weight:600;fill:#fff;pointer-events:none}
.state-label-offline{fill:#fff;stroke:#4a5261}.state-label-going_down{stroke:#f6cf5a}.state-label-dying{stroke:#f39237}.state-label-coming_up{stroke:#7fbfef}
.lane-bg{fill:#f7f8fa}.lane:nth-child(even) .lane-bg{fill:#eef1f5}
.lane-name{font-size:14px;font-weight:600;fill:#1d2430}.lane-sub{font-size:11px;fill:#5b6475}
.grid{stroke:#d3d8e0;stroke-width:1}.tick{font-size:11px;fill:#3d4656}.axis-title{font-size:11px;fill:#5b6475}
line.ipi{stroke:#8a94a6;stroke-width:1;opacity:.45}
line.ipi.bad{stroke:#c1121f;stroke-width:2.5;opacity:1}
rect.csd{fill:#2f6db5;opacity:.8}rect.csd.open{fill:#c1121f;opacity:.9}rect.csd.outcome-in_flight_at_end,rect.csd.outcome-unknown,rect.csd.outcome-maybe_flushed_at_dying{fill:#9b6dd6}
rect.density{fill:#2f6db5}
.finding-guide{stroke-width:1.2;stroke-dasharray:3 3;opacity:.7}
.finding-ring{fill:none;stroke-width:2.5}
.finding-num{font-size:11px;font-weight:700;fill:#fff;text-anchor:middle;pointer-events:none}
ul.findings{padding-left:0;list-style:none}ul.findings li{margin:8px 0;padding:6px 10px;border-left:4px solid #c1121f;background:#fbf3f3}
ul.findings li.sev-warning{border-color:#e07a00;background:#fdf6ec}ul.findings li.sev-info{border-color:#2a6fdb;background:#f1f5fd}
ul.findings li.none{border-color:#4caf50;background:#eef8ef}
.badge{display:inline-block;min-width:18px;padding:0 5px;border-radius:9px;color:#fff;font-weight:700;text-align:center;margin-right:6px}
.sev{font-weight:700;margin-right:4px}.det{font-family:ui-monospace,"DejaVu Sans Mono",monospace;margin-right:6px}
.ev,.zoomcmd{font-size:13px;color:#3d4656}
`;
