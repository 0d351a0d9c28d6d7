// The helpers every fixture build script shares: argument handling, messages, tool lookup, freshness checks,
// running a compiler, and building into a temporary name so a half-written output never looks fresh.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

/** `name` prefixes messages; `scriptUrl` is the calling script's import.meta.url (part of every freshness check). */
export function fixtureKit(name, scriptUrl) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const self = fileURLToPath(scriptUrl);
  const argv = process.argv.slice(2);
  const force = argv.includes('--force');
  const quiet = argv.includes('--quiet');

  function fail(msg) {
    console.error(`${name}: ${msg}`);
    process.exit(1);
  }
  function log(msg) {
    if (!quiet) console.log(`${name}: ${msg}`);
  }
  for (const a of argv) {
    if (a !== '--force' && a !== '--quiet') fail(`unknown argument ${a} (usage: node ${path.relative(root, self)} [--force] [--quiet])`);
  }
  const rel = (p) => path.relative(root, p) || '.';

  function isExecutable(p) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  }

  /** Absolute path of an executable on PATH (or given with a slash), else null. */
  function which(cmd) {
    if (cmd.includes('/')) return isExecutable(cmd) ? path.resolve(cmd) : null;
    for (const dir of (process.env.PATH || '').split(path.delimiter)) {
      if (dir && isExecutable(path.join(dir, cmd))) return path.join(dir, cmd);
    }
    return null;
  }

  const tools = new Map();
  /** Like which(), but fails with an install hint when the tool is missing; cached. */
  function tool(cmd, hint = 'apt-get install build-essential') {
    if (!tools.has(cmd)) tools.set(cmd, which(cmd) ?? fail(`${cmd} not found: ${hint}`));
    return tools.get(cmd);
  }

  function mtime(p) {
    try {
      return fs.statSync(p).mtimeMs;
    } catch {
      return null;
    }
  }

  function listFiles(dir, ext) {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) return listFiles(p, ext);
      return entry.name.endsWith(ext) ? [p] : [];
    }).sort();
  }

  /** True when every output exists and is newer than every source (never with --force). */
  function upToDate(sources, outputs) {
    if (force) return false;
    const newestSource = Math.max(...sources.map((s) => mtime(s) ?? Infinity));
    return [outputs].flat().every((o) => (mtime(o) ?? -Infinity) > newestSource);
  }

  function run(cmd, args, cwd = root) {
    log(`$ ${[cmd, ...args].map((a) => (a.startsWith(root) ? rel(a) : a)).join(' ')}`);
    const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
    if (r.status !== 0) fail(`${path.basename(cmd)} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
  }

  /** build(tmp) makes the output (file or directory) under a temporary name; then it replaces `out`. */
  function buildInto(out, build) {
    const tmp = `${out}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      build(tmp);
      fs.rmSync(out, { recursive: true, force: true });
      fs.renameSync(tmp, out);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** A JDK home with javac (and, with `headers`, include/jni.h): $JAVA_HOME, the Debian JDK 17, or javac's. */
  function jdk({ headers = false } = {}) {
    const candidates = [process.env.JAVA_HOME, DEFAULT_JDK].filter(Boolean);
    const javac = which('javac');
    if (javac) candidates.push(path.dirname(path.dirname(fs.realpathSync(javac))));
    const home = candidates.find((h) => isExecutable(path.join(h, 'bin', 'javac'))
      && (!headers || fs.existsSync(path.join(h, 'include', 'jni.h'))));
    return home ?? fail(`no JDK (javac${headers ? ' + include/jni.h' : ''}) found: apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)`);
  }

  return { root, self, argv, force, quiet, fail, log, rel, isExecutable, which, tool, mtime, listFiles, upToDate, run, buildInto, jdk };
}
