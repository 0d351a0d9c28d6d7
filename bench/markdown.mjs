// The Markdown the bench writes into RESULTS.md, shared by run.mjs and the modules it calls.

/** A Markdown table: a header row, its rule, then one row per array of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
