/** The HTML report's stylesheet: system fonts only, light and dark. */
export const css = `
:root {
  --bg: #f4f5f7; --card: #ffffff; --ink: #1d2330; --muted: #5f6b7a; --line: #e3e6ea; --grid: #eceef1;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Helvetica Neue", Arial, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --card: #1a1f26; --ink: #e6e9ee; --muted: #98a2b0; --line: #2b323c; --grid: #242a33; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 var(--sans); }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 40px; }
header.top { display: flex; align-items: baseline; gap: 12px; margin-bottom: 12px; color: var(--muted); }
header.top .brand { font-weight: 700; color: var(--ink); letter-spacing: .02em; }
.verdict { border-radius: 10px; padding: 16px 20px; color: #fff; margin-bottom: 10px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.verdict h1 { margin: 0 0 4px; font-size: 22px; letter-spacing: .03em; }
.verdict p { margin: 0; font-size: 15px; overflow-wrap: anywhere; }
.verdict-native-leak { background: linear-gradient(135deg, #c92a3a, #e03e4f); }
.verdict-no-growth { background: linear-gradient(135deg, #2b8a3e, #37b24d); }
.verdict-other { background: linear-gradient(135deg, #d9822b, #f0a030); }
.facts { color: var(--muted); margin: 0 0 4px; overflow-wrap: anywhere; }
.facts code { font-family: var(--mono); font-size: 12.5px; color: var(--ink); }
.warning { margin: 6px 0 0; padding: 6px 10px; border-left: 3px solid #f0a030; background: rgba(240,160,48,.1); border-radius: 4px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px 16px; margin-top: 16px; }
section.card h2 { font-size: 16px; margin: 0 0 2px; }
.hint { color: var(--muted); font-size: 12.5px; margin: 0 0 10px; }
.empty { color: var(--muted); font-style: italic; }
.chart-wrap { position: relative; }
svg.chart { width: 100%; height: auto; display: block; font-family: var(--sans); }
svg.chart .grid line { stroke: var(--grid); stroke-width: 1; }
svg.chart .grid line.axis, svg.chart .grid line.xtick { stroke: var(--muted); stroke-opacity: .6; }
svg.chart text { fill: var(--muted); font-size: 11.5px; }
svg.chart text.ylabel { text-anchor: end; }
svg.chart text.xlabel { text-anchor: middle; }
svg.chart path.line { fill: none; stroke-width: 2.2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart path.area { opacity: .08; }
svg.chart .guide { stroke: var(--muted); stroke-dasharray: 3 3; }
svg.chart .dot { stroke: var(--card); stroke-width: 2; }
svg.chart .overlay { fill: transparent; cursor: crosshair; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0; margin: 4px 0 8px; color: var(--ink); }
ul.legend li { display: flex; align-items: center; gap: 6px; cursor: default; }
.swatch { display: inline-block; width: 14px; height: 4px; border-radius: 2px; }
.tooltip { position: fixed; z-index: 10; pointer-events: none; background: rgba(22,27,34,.94); color: #f1f3f5;
  padding: 7px 10px; border-radius: 6px; font-size: 12.5px; max-width: 560px; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.tooltip .tip-title { font-weight: 600; margin-bottom: 3px; overflow-wrap: anywhere; font-family: var(--mono); font-size: 12px; }
.tooltip .tip-row { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.tooltip .tip-row .v { margin-left: auto; padding-left: 14px; font-variant-numeric: tabular-nums; }
.sites { display: flex; flex-direction: column; }
.sites-head, details.site > summary { display: grid; align-items: center; column-gap: 12px;
  grid-template-columns: 24px minmax(220px, 1fr) 76px 92px 84px 76px 44px 124px; }
.sites-head { color: var(--muted); font-size: 12px; padding: 0 8px 6px; border-bottom: 1px solid var(--line); }
details.site { border-bottom: 1px solid var(--line); }
details.site > summary { list-style: none; cursor: pointer; padding: 8px; border-radius: 6px; }
details.site > summary::-webkit-details-marker { display: none; }
details.site > summary:hover { background: rgba(127,127,127,.07); }
details.site[open] > summary { background: rgba(127,127,127,.05); }
.rank { color: var(--muted); text-align: right; font-variant-numeric: tabular-nums; }
.who { display: flex; flex-direction: column; min-width: 0; gap: 2px; }
.fn { font-family: var(--mono); font-size: 13px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fn .kind { font-weight: 400; color: var(--muted); }
.loc { font-family: var(--mono); font-size: 11.5px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { display: block; height: 8px; background: var(--grid); border-radius: 4px; overflow: hidden; margin-top: 3px; }
.bar-live { display: block; position: relative; height: 100%; min-width: 2px; border-radius: 4px;
  background-image: linear-gradient(rgba(255,255,255,.58), rgba(255,255,255,.58)) !important; background-blend-mode: normal; }
.bar-grown { position: absolute; right: 0; top: 0; bottom: 0; border-radius: 0 4px 4px 0; background-image: none; }
.badge { justify-self: start; color: #fff; font-size: 11.5px; font-weight: 600; padding: 1px 8px; border-radius: 10px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.accounting { border-collapse: collapse; font-size: 13.5px; margin: 4px 0; }
table.accounting th, table.accounting td { padding: 3px 12px 3px 0; border-bottom: 1px solid var(--grid); }
table.accounting th { color: var(--muted); font-weight: 600; text-align: left; }
table.accounting th.num { text-align: right; }
table.accounting tr.total td { font-weight: 600; border-bottom: none; }
.sparkcell { display: flex; justify-content: flex-end; }
svg.spark { display: block; overflow: visible; }
svg.spark .spark-line { fill: none; stroke-width: 1.6; }
svg.spark .spark-area { opacity: .14; }
.stack { padding: 4px 12px 12px 48px; }
.stack-title { color: var(--muted); font-size: 12px; margin-bottom: 4px; }
.stack ol { margin: 0; padding-left: 22px; font-family: var(--mono); font-size: 12.5px; }
.stack li { padding: 1px 0; overflow-wrap: anywhere; }
.stack li.innermost { font-weight: 600; }
.more { color: var(--muted); font-size: 12.5px; margin: 8px 0 0; }
.flame-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 6px 0 8px; }
.flame-controls label { color: var(--muted); font-size: 13px; }
.flame-controls select { font: inherit; font-size: 13px; padding: 3px 6px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--ink); max-width: 320px; }
.flame-summary { font-size: 13px; margin: 0 0 8px; font-variant-numeric: tabular-nums; }
.flame-legend { display: flex; gap: 14px; font-size: 12.5px; color: var(--muted); margin-left: auto; }
.flame-legend span { display: inline-flex; align-items: center; gap: 5px; }
.flame-legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; }
#flame { width: 100%; overflow: hidden; }
#flame svg { display: block; font-family: var(--mono); }
#flame svg g.node { cursor: pointer; }
#flame svg rect { stroke: var(--card); stroke-width: 1; }
#flame svg g.node:hover rect { stroke: var(--ink); }
#flame svg text { font-size: 11.5px; fill: #14181f; pointer-events: none; }
#flame svg g.ancestor rect { opacity: .55; }
ul.children { margin: 0; padding-left: 0; list-style: none; }
ul.children li { padding: 5px 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
ul.children code { font-family: var(--mono); font-size: 12.5px; }
footer { color: var(--muted); font-size: 12px; margin-top: 22px; text-align: center; }
`;
