/** Seeded uniform generators in [0, 1) for tests: the same sequence for the same seed, every run. */

/** mulberry32: small, seedable, good enough for the Monte Carlo checks of the analysis. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** xorshift32: what the fuzzing and kill-moment tests draw from. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

/** The 32-bit linear congruential generator of Numerical Recipes: what the encoder's and the series' random runs use. */
export function lcg32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/**
 * The ANSI C rand() recurrence modulo 2^31, computed in doubles as the profile fuzzers always have (the product
 * can pass 2^53, so this is its own sequence, not C's): what the damaged-profile tests draw from.
 */
export function ansiLcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}
