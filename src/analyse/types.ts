/** What the analysis works on, and what it concludes. */
import type { SiteKind } from '../snapshot/types.js';

export type SiteStatus = 'growing' | 'new' | 'shrinking' | 'stable' | 'gone';

export interface SiteReport {
  rank: number;
  /** The site frame's function name. */
  function: string;
  /** The site frame as "name (file:line)" or "name (lib)". */
  location: string;
  /** The site frame's source file (as its debug information names it) and line, when known. */
  source?: { file: string; line: number };
  /**
   * What the site allocated: malloc blocks, or memory it mapped (mmap-anon, mmap-file). A function's mappings are a
   * site apart from its malloc blocks. Absent in reports written before site kinds: malloc.
   */
  kind?: SiteKind;
  /** The site's heaviest stack, innermost first, each "name (file:line)" or "name (lib)". */
  stack: string[];
  status: SiteStatus;
  /** The shape of the growth after warm-up: linear (a leak), saturating (a cache that filled), step, noise, shrinking. */
  shape: 'linear' | 'saturating' | 'step' | 'noise' | 'shrinking';
  leakRateBytesPerHour: number;
  /** 90% interval of the rate. */
  leakRateIntervalBytesPerHour: [number, number];
  /** Live bytes at the last snapshot minus at the first. */
  growthBytes: number;
  /** Live bytes at the last snapshot. */
  liveBytes: number;
  /** Probability the site really grows (its rate is above zero), from the fit and the sampling noise. */
  confidence: number;
  /** Live bytes per snapshot, in series order. */
  series: number[];
  /** The site's heaviest stacks (up to 3) and their own series, when the site has more than one stack. */
  stacks?: { stack: string[]; series: number[] }[];
  /** Ages of its live blocks at the last snapshot, when the profiles carry them (leakhunt's do). */
  ages?: { oldestSec: number; meanSec: number };
  /**
   * How its live blocks changed over the trend window — their count and mean size at its start and end, and whether
   * the growth is carried by block size (a growing container, not churn: README "Growth"). Only for sites whose
   * growth is significant and material, when the profiles carry inuse_objects.
   */
  blocks?: {
    countStart: number; countEnd: number; meanBytesStart: number; meanBytesEnd: number; pValue: number; sizeCarriesGrowth: boolean;
  };
  /**
   * Its live set is renewed: the stacks that carry its growth hold no block older than a quarter of the trend window
   * (rank.ts). Churn, or a container replacing its storage; `blocks` tells which.
   */
  renewed?: true;
  /**
   * What its stacks that hold memory at the last snapshot allocated over the run and freed again (alloc_space −
   * inuse_space there), when the profiles carry alloc_space: 0 for memory only ever kept, like a leak's.
   */
  freedBytes?: number;
  /**
   * Its growth is churn (perhaps under rising load): the blocks that carry its growth are young and their growth is not carried by
   * block size. Set for the sites `blocks` is given for; never growing.
   */
  churn?: true;
  /**
   * What its live estimate saw turn over in the trend window, when the profiles carry first_seen_bytes: the bytes
   * first seen live after the window's first snapshot, and what died (born less the growth; 0 when blocks grew in
   * place by realloc, which keeps a block's birth). A site whose blocks are replaced without growing has both large.
   */
  turnover?: { bornBytes: number; diedBytes: number };
}

export type VerdictKind = 'native-leak' | 'fragmentation' | 'java-heap' | 'jvm-internal' | 'no-growth' | 'inconclusive';

export interface MemoryGrowth {
  rssGrowthBytesPerHour: number;
  liveGrowthBytesPerHour: number;
  rssStartBytes: number;
  rssEndBytes: number;
  liveStartBytes: number;
  liveEndBytes: number;
}

export interface AnalysisOptions {
  /** The sampling interval in force (bytes); sets the noise floor of every estimate. */
  sampleIntervalBytes: number;
  plumbingPatterns?: readonly RegExp[];
  /** A site counts as growing at or above this confidence. */
  minConfidence?: number;
  /** Seconds at the start left out of trends; detected when not given. */
  warmupSec?: number;
}
