// tsc never removes what it compiled from a file that has since moved or gone: a renamed test would still run
// from dist/ under its old name. Start every build from an empty dist/.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

rmSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist'), { recursive: true, force: true });
