#!/usr/bin/env node
// `npm run demo`: builds the bundled demo (a Java service whose C++ JNI library leaks std::map nodes while
// another JNI function churns far more memory) and hunts the leak with `leakhunt run`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const javaHome = process.env.JAVA_HOME || '/usr/lib/jvm/java-17-openjdk-amd64';
const demo = join(root, 'fixtures', 'build', 'demo');

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-fixtures.mjs'), '--quiet'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const args = [join(root, 'dist', 'src', 'cli.js'), 'run', '--out', 'leakhunt-demo', '--force', '--interval', '2s', '--',
  join(javaHome, 'bin', 'java'), `-Djava.library.path=${demo}`, '-cp', join(demo, 'classes'), 'demo.LeakyService', '--seconds', '20'];
console.error(`$ leakhunt ${args.slice(1).join(' ')}`);
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(run.status ?? 1);
