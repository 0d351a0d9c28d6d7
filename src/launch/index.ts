export { defaultShimPath, requireShim } from './shim.js';
export { javaToolOptionsWithAgent, preloadWithShim, targetEnvironment, type ShimSettings } from './environment.js';
export { startObjectKeeper, type KeptObject, type ObjectKeeper, type ObjectKeeperOptions } from './objects.js';
export { runTarget, type RssPoint, type TargetOptions, type TargetOutcome } from './target.js';
