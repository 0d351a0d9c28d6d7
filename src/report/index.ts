export { REPORT_SCHEMA, type ChildProcessSummary, type RunReport, type ShimSummary } from './model.js';
export { reanalyseRun } from './reanalyse.js';
export { processRun, readRunMeta, writeJsonAtomic, writeRunMeta, type ProcessedRun, type RunMeta } from './run-dir.js';
export { buildRunReport, shimSummary, type RunFacts } from './build.js';
export { renderJson } from './json.js';
export { abbreviateTemplates, colorWanted, renderText, sparkline, type TextOptions } from './text.js';
export { renderDiffJson, renderDiffText, type DiffRenderOptions } from './diff-text.js';
export { renderMarkdown, type MarkdownOptions } from './markdown.js';
