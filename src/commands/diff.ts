/** `leakhunt diff BASE LATER`: what each call site retains in one heap profile compared with another. */
import { Command } from 'commander';
import { compilePatterns, defaultPlumbingPatterns, diffProfiles } from '../analyse/index.js';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { readHeapProfile } from '../pprof/index.js';
import { colorWanted, renderDiffJson, renderDiffText } from '../report/index.js';
import { collect, positiveInteger } from './options.js';

export interface DiffCommandOptions {
  json: boolean;
  top: number;
  /** Regular expressions (sources): keep only stacks with a matching frame. */
  focus: string[];
  /** Leave out stacks with a matching frame. */
  ignore: string[];
  /** More frames to skip when looking for the site, besides the allocator plumbing. */
  ignoreFrames: string[];
}

function patterns(sources: readonly string[], flag: string): RegExp[] {
  try {
    return compilePatterns(sources);
  } catch (error) {
    throw new LeakhuntError(`bad ${flag}: ${(error as Error).message.split('\n')[0]}`, ExitCode.usage);
  }
}

/** Prints the diff of two heap profiles; returns the exit code (0). */
export function diffCommand(basePath: string, laterPath: string, options: DiffCommandOptions): number {
  const focus = patterns(options.focus, '--focus');
  const ignore = patterns(options.ignore, '--ignore');
  const plumbing = [...defaultPlumbingPatterns, ...patterns(options.ignoreFrames, '--ignore-frames')];
  const diff = diffProfiles(readHeapProfile(basePath), readHeapProfile(laterPath), { plumbingPatterns: plumbing, focus, ignore });
  process.stdout.write(options.json
    ? renderDiffJson(diff, { basePath, laterPath, top: options.top })
    : renderDiffText(diff, { basePath, laterPath, top: options.top, color: colorWanted(), filtered: focus.length + ignore.length > 0 }));
  return ExitCode.ok;
}

export function register(program: Command): void {
  program.command('diff')
    .description('compare two heap profiles by call site, largest growth of retained memory first (any pprof heap profile with inuse_space)')
    .argument('<base>', 'the earlier profile (.pb.gz or .pb)')
    .argument('<later>', 'the later profile')
    .option('--json', 'print JSON instead of text', false)
    .option('--top <n>', 'sites to show', positiveInteger, 10)
    .option('--focus <regex>', 'keep only stacks with a frame matching (repeatable)', collect, [])
    .option('--ignore <regex>', 'leave out stacks with a frame matching (repeatable)', collect, [])
    .option('--ignore-frames <regex>', 'also skip frames matching when looking for the site (repeatable)', collect, [])
    .addHelpText('after', '\nExample:\n  leakhunt diff run/snapshots/0001.pb.gz run/snapshots/0030.pb.gz --focus mylib')
    .action((base: string, later: string, opts: DiffCommandOptions) => {
      process.exitCode = diffCommand(base, later, {
        json: opts.json, top: opts.top, focus: opts.focus, ignore: opts.ignore, ignoreFrames: opts.ignoreFrames,
      });
    });
}
