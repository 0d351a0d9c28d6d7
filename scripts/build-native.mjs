#!/usr/bin/env node
// Builds native/build/libleakhunt.so with the system C compiler. Runs at `npm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = fileURLToPath(new URL('../native/', import.meta.url));
const buildDir = join(nativeDir, 'build');
const cc = process.env.CC || 'cc';

export const shimSources = readdirSync(nativeDir).filter((f) => f.endsWith('.c')).sort();
export const shimCflags = ['-std=c11', '-O2', '-g', '-fPIC', '-pthread', '-Wall', '-Wextra',
  '-Werror=implicit-function-declaration', '-fvisibility=hidden', '-fno-builtin-malloc', '-fno-builtin-free',
  '-fno-builtin-calloc', '-fno-builtin-realloc', '-ftls-model=initial-exec', '-fno-omit-frame-pointer'];
export const shimLibs = ['-ldl', '-lm', '-lgcc_s'];

/** The JDK's include directory (for jni.h/jvmti.h: the JVM agent), or undefined. */
export function jdkIncludeDir() {
  const candidates = [process.env.JAVA_HOME, '/usr/lib/jvm/java-17-openjdk-amd64'];
  const javac = spawnSync('sh', ['-c', 'command -v javac'], { encoding: 'utf8' }).stdout?.trim();
  if (javac) candidates.push(dirname(dirname(realpathSync(javac))));
  for (const home of candidates) {
    if (home && existsSync(join(home, 'include', 'jvmti.h'))) return join(home, 'include');
  }
  return undefined;
}

export function jdkFlags() {
  const include = jdkIncludeDir();
  return include ? ['-I', include, '-I', join(include, 'linux')] : [];
}

function haveCompiler() {
  return spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0;
}

function main() {
  if (!haveCompiler()) {
    console.error(`leakhunt: no C compiler (${cc}) found: install one, e.g. apt-get install build-essential`);
    process.exit(1);
  }
  mkdirSync(buildDir, { recursive: true });
  const jdk = jdkFlags();
  if (jdk.length === 0) console.error('leakhunt: no JDK headers (jvmti.h) found: building without the JVM agent, so Java frames will be missing (set JAVA_HOME to a JDK)');
  const output = join(buildDir, 'libleakhunt.so');
  try {
    execFileSync(cc, [...shimCflags, ...jdk, '-shared', '-o', output, ...shimSources.map((f) => join(nativeDir, f)), ...shimLibs],
      { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    console.error('leakhunt: building the native shim failed (see the compiler output above)');
    process.exit(1);
  }
  if (!process.argv.includes('--quiet')) console.log(`leakhunt: built ${output}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
