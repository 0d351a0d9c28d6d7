export { renderJson } from './json.js';
export { colorWanted, renderText, sparkline, type TextOptions } from './text.js';
export { renderDiffJson, renderDiffText, type DiffRenderOptions } from './diff-text.js';
export { renderMarkdown, type MarkdownOptions } from './markdown.js';
export { renderHtml, renderRunHtml, writeHtmlReport, type HtmlInput, type RunHtmlOptions } from './html.js';
export { startStatusLine, statusText, type StatusLine } from './status.js';
