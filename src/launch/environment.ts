/** The environment the target runs in: the shim preloaded and configured through LEAKHUNT_*. */
import { usageError } from '../core/errors.js';

export interface ShimSettings {
  shimPath: string;
  /** Absolute path of the run's raw/ directory. */
  rawDir: string;
  sampleIntervalBytes: number;
  snapshotIntervalMs: number;
  tableCapacity?: number;
  maxStacks?: number;
  /** Raw snapshots kept on disk (the shim thins the middle of long runs); 0 keeps all. */
  maxSnapshots?: number;
  maxStackDepth?: number;
  seed?: number;
  followChildren?: boolean;
  /** Load the shim as a JVMTI agent in every JVM the command starts, for Java frames (default true). */
  javaStacks?: boolean;
  /** An allocator library (jemalloc, tcmalloc) to preload right after the shim, which forwards to it. */
  allocatorPath?: string;
  /** --nmt: start every JVM with Native Memory Tracking (summary), for jcmd VM.native_memory. */
  nativeMemoryTracking?: boolean;
}

/** The JVM option --nmt adds to JAVA_TOOL_OPTIONS. */
export const NMT_OPTION = '-XX:NativeMemoryTracking=summary';

/**
 * Every JVM the command starts — directly, through a start script, mvn or gradle — reads JAVA_TOOL_OPTIONS.
 * The user's own options are kept, after ours.
 */
export function javaToolOptionsWithAgent(shimPath: string | undefined, existing: string | undefined, extra: readonly string[] = []): string {
  const ours = [...(shimPath === undefined ? [] : [`-agentpath:${shimPath}`]), ...extra];
  const rest = (existing ?? '').split(/\s+/).filter((option) => option && !ours.includes(option));
  return [...ours, ...rest].join(' ');
}

/**
 * LD_PRELOAD is split on spaces and colons by the dynamic loader, so a shim path containing either would
 * silently preload the wrong thing: refuse it instead.
 */
export function preloadWithShim(shimPath: string, existing: string | undefined, allocatorPath?: string): string {
  if (/[\s:]/.test(shimPath)) {
    throw usageError(`the shim path "${shimPath}" contains a space or colon, which LD_PRELOAD cannot express: install leakhunt under a path without them`);
  }
  if (allocatorPath !== undefined && /[\s:]/.test(allocatorPath)) {
    throw usageError(`the allocator path "${allocatorPath}" contains a space or colon, which LD_PRELOAD cannot express`);
  }
  // The allocator right after the shim: the shim's dlsym(RTLD_NEXT, "malloc") finds it before glibc's.
  const ours = allocatorPath === undefined ? [shimPath] : [shimPath, allocatorPath];
  const rest = (existing ?? '').split(/[\s:]+/).filter((p) => p && !ours.includes(p));
  return [...ours, ...rest].join(':');
}

export function targetEnvironment(settings: ShimSettings, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  env.LD_PRELOAD = preloadWithShim(settings.shimPath, base.LD_PRELOAD, settings.allocatorPath);
  env.LEAKHUNT_DIR = settings.rawDir;
  env.LEAKHUNT_SAMPLE_BYTES = String(settings.sampleIntervalBytes);
  env.LEAKHUNT_INTERVAL_MS = String(settings.snapshotIntervalMs);
  env.LEAKHUNT_PARENT_PID = String(process.pid);
  const optional: [string, number | undefined][] = [
    ['LEAKHUNT_TABLE_CAPACITY', settings.tableCapacity],
    ['LEAKHUNT_MAX_STACKS', settings.maxStacks],
    ['LEAKHUNT_MAX_SNAPSHOTS', settings.maxSnapshots],
    ['LEAKHUNT_STACK_DEPTH', settings.maxStackDepth],
    ['LEAKHUNT_SEED', settings.seed],
  ];
  for (const [name, value] of optional) {
    if (value === undefined) delete env[name];
    else env[name] = String(value);
  }
  const jvmOptions = settings.nativeMemoryTracking ? [NMT_OPTION] : [];
  if (settings.javaStacks === false) {
    env.LEAKHUNT_JAVA_STACKS = '0';
    if (jvmOptions.length > 0) env.JAVA_TOOL_OPTIONS = javaToolOptionsWithAgent(undefined, base.JAVA_TOOL_OPTIONS, jvmOptions);
  } else {
    delete env.LEAKHUNT_JAVA_STACKS;
    env.JAVA_TOOL_OPTIONS = javaToolOptionsWithAgent(settings.shimPath, base.JAVA_TOOL_OPTIONS, jvmOptions);
  }
  if (settings.followChildren) env.LEAKHUNT_FOLLOW_CHILDREN = '1';
  else delete env.LEAKHUNT_FOLLOW_CHILDREN;
  return env;
}
