/** Everything the gate writes: JUnit, Markdown, the step summary, stdout lines and annotations, the stderr verdict. */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { renderDetails } from './details.js';
import { renderAnnotations } from './github.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import type { GateOptions, GateResult } from './types.js';
import { gateVerdict } from './wording.js';

export interface GateStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

function writeFile(path: string, text: string, what: string, append = false): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    if (append) appendFileSync(path, text);
    else writeFileSync(path, text);
  } catch (error) {
    throw new LeakhuntError(`${path}: cannot write the ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, ExitCode.usage);
  }
}

/**
 * Writes the files first (--junit, --markdown, $GITHUB_STEP_SUMMARY), then the details and annotations on stdout,
 * and last the one-line verdict on stderr: `leakhunt gate: FAIL: …`.
 */
export async function writeGateOutputs(result: GateResult, options: GateOptions, streams: GateStreams = process): Promise<void> {
  if (options.junitPath) writeFile(options.junitPath, renderJunit(result), 'JUnit report');
  const summaryPath = options.github ? options.githubStepSummaryPath : undefined;
  if (options.markdownPath || summaryPath) {
    const markdown = renderMarkdown(result);
    if (options.markdownPath) writeFile(options.markdownPath, markdown, 'Markdown summary');
    if (summaryPath) writeFile(summaryPath, `${markdown}\n`, 'GitHub step summary', true);
  }
  const lines = [...(options.details === false ? [] : renderDetails(result)), ...(options.github ? renderAnnotations(result) : [])];
  if (lines.length > 0) streams.stdout.write(`${lines.join('\n')}\n`);
  streams.stderr.write(`leakhunt gate: ${gateVerdict(result).replace(/[\r\n]+/g, ' ')}\n`);
}
