extension Dashboard {
    /// Light by default, dark when the user prefers it; focus is always visible.
    static let css = #"""
:root {
  --bg: #f7f7f8; --fg: #1b1c1f; --muted: #5d6169; --panel: #ffffff; --line: #d9dbe0;
  --accent: #2457c5; --ok: #1f7a3a; --bad: #b42318; --warn: #9a6400; --run: #2457c5; --idle: #6b6f78;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #131417; --fg: #e6e7ea; --muted: #a3a7b0; --panel: #1c1e22; --line: #33363d;
    --accent: #7aa2ff; --ok: #5fd08a; --bad: #ff7b72; --warn: #e3b341; --run: #7aa2ff; --idle: #9aa0aa;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: var(--panel); padding: 6px; z-index: 2; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 24px; padding: 10px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 20px; }
header h1 a { color: var(--fg); text-decoration: none; }
header nav { display: flex; gap: 16px; }
header nav a[aria-current="page"] { font-weight: 700; text-decoration: none; }
.stream { margin: 0 0 0 auto; color: var(--muted); font-size: 13px; }
#stream-dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; background: var(--warn); }
body[data-stream="live"] #stream-dot { background: var(--ok); }
body[data-stream="closed"] #stream-dot { background: var(--bad); }
main { padding: 16px 20px 40px; max-width: 1400px; }
h2 { margin: 4px 0 12px; font-size: 18px; }
h3 { font-size: 15px; margin: 20px 0 8px; }
#notice { padding: 8px 12px; border: 1px solid var(--bad); color: var(--bad); background: var(--panel); border-radius: 6px; }
.filters { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: end; margin-bottom: 12px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; color: var(--fg); background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; }
button { cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
button.danger { color: var(--bad); }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: middle; white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
tbody tr:last-child td { border-bottom: 0; }
th.wide, td.wide { width: 38%; white-space: normal; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.status.success { color: var(--ok); } .status.failed { color: var(--bad); } .status.partial_success { color: var(--warn); }
.status.running { color: var(--run); } .status.cancelled, .status.skipped { color: var(--idle); }
.status.pending, .status.scheduled { color: var(--muted); }
.progress-cell { display: flex; flex-direction: column; gap: 2px; min-width: 200px; }
progress { width: 100%; height: 10px; accent-color: var(--accent); }
.progress-text { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
.actions { display: flex; gap: 6px; flex-wrap: wrap; }
.pager { display: flex; gap: 12px; align-items: center; margin-top: 10px; }
.job-head { display: flex; flex-wrap: wrap; gap: 24px; }
.fields { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; }
.job-side { flex: 1; min-width: 260px; display: flex; flex-direction: column; gap: 12px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px; overflow: auto; max-height: 360px; margin: 0; font-size: 13px; }
.log:empty::before { content: "no log lines yet"; color: var(--muted); }
#view-types > .actions { margin-bottom: 12px; }
.log .error { color: var(--bad); } .log .warn { color: var(--warn); }
.inline { font-weight: 400; font-size: 12px; color: var(--muted); margin-left: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.card h3 { margin: 0 0 6px; display: flex; justify-content: space-between; align-items: center; }
.card .figures { font-size: 12px; color: var(--muted); margin: 2px 0 6px; }
.card figure { margin: 0 0 6px; }
.card figcaption { font-size: 11px; color: var(--muted); }
.chart { display: block; width: 100%; height: 40px; }
.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.chart.throughput polyline { stroke: var(--ok); }
.chart line { stroke: var(--line); }
.toggles { list-style: none; padding: 0; display: grid; gap: 8px; max-width: 480px; }
.toggles li { display: flex; justify-content: space-between; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.hint { color: var(--muted); font-size: 13px; margin-top: 0; }
.paused { color: var(--warn); font-size: 12px; }
"""#
}
