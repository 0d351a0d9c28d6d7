/**
 * Suppressions: known leaks the gate accepts, in the spirit of LSAN's and valgrind's suppression files.
 *
 *   # comments and blank lines are ignored
 *   leak:^remember_session_forever\b   # JIRA-123: sessions are capped by the LRU in front; fix in 2.4
 *   leak:libcrypto\.so                 # OpenSSL's per-thread error queues, freed at thread exit
 *
 * One rule per line: `leak:`, a JavaScript regular expression, then whitespace, `#` and the reason (required).
 * The reason starts at the first `#` that follows whitespace; write `\#` for a `#` after a space inside the
 * expression. A rule silences every site whose stack has a frame the expression matches, tested against the
 * frame as report.json writes it ("name (file:line)" or "name (library)") and against the name alone.
 */
import { readFileSync } from 'node:fs';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import type { SiteReport } from '../analyse/index.js';
import type { SuppressionRule, Suppressions } from './types.js';

function lineError(source: string, line: number, why: string): LeakhuntError {
  return new LeakhuntError(`${source}:${line}: ${why}`, ExitCode.usage);
}

/** Parses a suppressions file's text; any bad line is a one-line error (exit 2) naming its line number. */
export function parseSuppressions(text: string, source: string): Suppressions {
  const rules: SuppressionRule[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = raw.trim();
    if (content === '' || content.startsWith('#')) return;
    const kind = /^([A-Za-z_]+):/.exec(content);
    if (!kind) throw lineError(source, line, `expected "leak:<regex>  # reason", got "${content.slice(0, 60)}"`);
    if (kind[1] !== 'leak') throw lineError(source, line, `unknown suppression type "${kind[1]}": only "leak:<regex>  # reason" is supported`);
    const body = content.slice(kind[0].length);
    const separator = /\s#/.exec(body);
    const pattern = (separator ? body.slice(0, separator.index) : body).trim();
    const reason = separator ? body.slice(separator.index + separator[0].length).trim() : '';
    if (pattern === '') throw lineError(source, line, 'empty regular expression after "leak:"');
    if (reason === '') throw lineError(source, line, `a reason is required: leak:${pattern}  # why this leak is accepted`);
    let regex: RegExp;
    try {
      regex = new RegExp(pattern);
    } catch (error) {
      throw lineError(source, line, `bad regular expression "${pattern}": ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`);
    }
    rules.push({ line, pattern, regex, reason });
  });
  return { source, rules };
}

export function readSuppressions(path: string): Suppressions {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new LeakhuntError(`${path}: cannot read the suppressions file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, ExitCode.usage);
  }
  return parseSuppressions(text, path);
}

/** "name (file:line)" → "name"; names keep their own parentheses ("f(char const*) (x.cpp:7)" → "f(char const*)"). */
export function frameName(frame: string): string {
  return frame.replace(/ \([^()]*\)$/, '');
}

/** The first rule that matches a frame of the site's stack (or the site itself), and the frame it matched. */
export function matchSuppression(site: SiteReport, suppressions: Suppressions | undefined): { rule: SuppressionRule; frame: string } | undefined {
  if (!suppressions) return undefined;
  const frames = [...site.stack, site.location, site.function];
  for (const rule of suppressions.rules) {
    for (const frame of frames) {
      if (rule.regex.test(frame) || rule.regex.test(frameName(frame))) return { rule, frame };
    }
  }
  return undefined;
}
