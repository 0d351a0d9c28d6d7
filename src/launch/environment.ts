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
  maxStackDepth?: number;
  seed?: number;
  followChildren?: boolean;
  /** Load the shim as a JVMTI agent in every JVM the command starts, for Java frames (default true). */
  javaStacks?: boolean;
}

/**
 * Every JVM the command starts — directly, through a start script, mvn or gradle — reads JAVA_TOOL_OPTIONS.
 * The user's own options are kept, after ours.
 */
export function javaToolOptionsWithAgent(shimPath: string, existing: string | undefined): string {
  const agent = `-agentpath:${shimPath}`;
  const rest = (existing ?? '').split(/\s+/).filter((option) => option && option !== agent);
  return [agent, ...rest].join(' ');
}

/**
 * LD_PRELOAD is split on spaces and colons by the dynamic loader, so a shim path containing either would
 * silently preload the wrong thing: refuse it instead.
 */
export function preloadWithShim(shimPath: string, existing: string | undefined): string {
  if (/[\s:]/.test(shimPath)) {
    throw usageError(`the shim path "${shimPath}" contains a space or colon, which LD_PRELOAD cannot express: install leakhunt under a path without them`);
  }
  const rest = (existing ?? '').split(/[\s:]+/).filter((p) => p && p !== shimPath);
  return [shimPath, ...rest].join(':');
}

export function targetEnvironment(settings: ShimSettings, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  env.LD_PRELOAD = preloadWithShim(settings.shimPath, base.LD_PRELOAD);
  env.LEAKHUNT_DIR = settings.rawDir;
  env.LEAKHUNT_SAMPLE_BYTES = String(settings.sampleIntervalBytes);
  env.LEAKHUNT_INTERVAL_MS = String(settings.snapshotIntervalMs);
  env.LEAKHUNT_PARENT_PID = String(process.pid);
  const optional: [string, number | undefined][] = [
    ['LEAKHUNT_TABLE_CAPACITY', settings.tableCapacity],
    ['LEAKHUNT_MAX_STACKS', settings.maxStacks],
    ['LEAKHUNT_STACK_DEPTH', settings.maxStackDepth],
    ['LEAKHUNT_SEED', settings.seed],
  ];
  for (const [name, value] of optional) {
    if (value === undefined) delete env[name];
    else env[name] = String(value);
  }
  if (settings.javaStacks === false) {
    env.LEAKHUNT_JAVA_STACKS = '0';
  } else {
    delete env.LEAKHUNT_JAVA_STACKS;
    env.JAVA_TOOL_OPTIONS = javaToolOptionsWithAgent(settings.shimPath, base.JAVA_TOOL_OPTIONS);
  }
  if (settings.followChildren) env.LEAKHUNT_FOLLOW_CHILDREN = '1';
  else delete env.LEAKHUNT_FOLLOW_CHILDREN;
  return env;
}
