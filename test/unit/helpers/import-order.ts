/**
 * The import order of src/: each stage imports only the stages beneath it (and itself). Every import counts —
 * `import type`, re-exports and dynamic `import()` too. Used by architecture-imports.test.ts.
 */
import ts from 'typescript';
import { posix } from 'node:path';

/** Bottom to top; stages in one row are siblings, which may not import each other. */
export const STAGE_ORDER: readonly (readonly string[])[] = [
  ['core'],
  ['rundir'],
  ['launch'],
  ['snapshot'],
  ['symbolize'],
  ['pprof'],
  ['analyse'],
  ['pipeline'],
  ['report', 'gate', 'push'],
  ['commands'],
  ['cli'],
];

/**
 * Stages off the main line: launch runs the target and is driven by the commands; what comes after it reads the
 * run directory, never launch's code (analyse and report would otherwise depend on how a run was started).
 */
export const ONLY_IMPORTED_BY: Readonly<Record<string, readonly string[]>> = {
  launch: ['commands', 'cli'],
};

const rankOf = new Map(STAGE_ORDER.flatMap((row, rank) => row.map((stage) => [stage, rank] as const)));

export interface SourceFile {
  /** Relative to the repository, with forward slashes: "src/analyse/rank.ts". */
  path: string;
  text: string;
}

export interface Violation {
  file: string;
  specifier: string;
  message: string;
}

/** The stage of a file under src/: its first folder, or "cli" for src/cli.ts; undefined outside src/. */
export function stageOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'src') return undefined;
  if (parts.length === 2) return parts[1] === 'cli.ts' ? 'cli' : parts[1]!.replace(/\.ts$/, '');
  return parts[1];
}

/** Every module specifier `text` names: imports, `import type`, re-exports, `import()` and `require()`. */
export function importsOf(path: string, text: string): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)
      && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0]!)
      && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function allowedBelow(stage: string): string {
  const rank = rankOf.get(stage)!;
  const below = STAGE_ORDER.slice(0, rank).flat().filter((s) => ONLY_IMPORTED_BY[s]?.includes(stage) ?? true);
  return below.length === 0 ? 'nothing outside itself' : below.join(', ');
}

/** The imports in `files` (src/ files) that run backwards or sideways, each with a message naming the rule. */
export function importViolations(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const from = stageOf(file.path);
    if (from === undefined) continue;
    if (!rankOf.has(from)) {
      violations.push({ file: file.path, specifier: '', message: `${file.path}: src/${from} has no place in the stage order (test/unit/helpers/import-order.ts)` });
      continue;
    }
    for (const specifier of importsOf(file.path, file.text)) {
      if (!specifier.startsWith('.')) continue; // packages and node: built-ins
      const target = posix.normalize(posix.join(posix.dirname(file.path), specifier));
      const to = stageOf(target);
      if (to === undefined) {
        violations.push({ file: file.path, specifier, message: `${file.path} imports '${specifier}', outside src/` });
        continue;
      }
      if (to === from) continue;
      const fromRank = rankOf.get(from)!;
      const toRank = rankOf.get(to);
      const importers: readonly string[] | undefined = ONLY_IMPORTED_BY[to];
      const offLine = importers !== undefined && !importers.includes(from);
      if (toRank !== undefined && toRank < fromRank && !offLine) continue;
      const why = toRank === undefined ? `src/${to} has no place in the stage order`
        : offLine ? `${to} may be imported only by ${importers.join(', ')}`
          : toRank === fromRank ? `${from} and ${to} are siblings and may not import each other`
            : `${to} is above ${from}`;
      violations.push({
        file: file.path, specifier,
        message: `${file.path} imports '${specifier}' (${from} → ${to}): ${why}; ${from} may import only ${allowedBelow(from)}`,
      });
    }
  }
  return violations;
}
