import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LeakhuntError } from '../../src/core/errors.js';
import { checkLimit, describeLimit, parseWholeNumber, shimLimits, type ShimSetting } from '../../src/core/limits.js';
import { compileDriver, nativeDir, repoRoot } from './helpers/native-driver.js';

const settings = [...shimLimits().keys()] as ShimSetting[];

function refused(name: ShimSetting, value: number): boolean {
  try {
    checkLimit(name, value);
    return false;
  } catch (error) {
    assert.ok(error instanceof LeakhuntError && error.exitCode === 2, `a usage error: ${String(error)}`);
    return true;
  }
}

describe('the shim\'s limits (native/limits.json)', () => {
  it('covers every numeric setting the CLI passes to the shim', () => {
    assert.deepEqual(settings.sort(), ['LEAKHUNT_INTERVAL_MS', 'LEAKHUNT_MAX_SNAPSHOTS', 'LEAKHUNT_MAX_STACKS', 'LEAKHUNT_SAMPLE_BYTES',
      'LEAKHUNT_STACK_DEPTH', 'LEAKHUNT_TABLE_CAPACITY']);
  });

  it('accepts the bounds and the default, refuses one past each bound and fractions; 0 only where it has a meaning', () => {
    for (const name of settings) {
      const limit = shimLimits().get(name)!;
      for (const ok of [limit.min, limit.max, limit.default]) assert.equal(checkLimit(name, ok), ok, `${name} ${ok}`);
      assert.ok(refused(name, limit.max + 1), `${name} max + 1`);
      if (limit.min > 1) assert.ok(refused(name, limit.min - 1), `${name} min - 1`);
      assert.ok(refused(name, limit.min + 0.5), `${name} fraction`);
      assert.ok(refused(name, Number.NaN), `${name} NaN`);
      assert.equal(refused(name, 0), !limit.zeroAllowed, `${name} 0`);
    }
  });

  it('names the option and its range in the one line', () => {
    assert.throws(() => checkLimit('LEAKHUNT_STACK_DEPTH', 2), /^LeakhuntError: --stack-depth must be from 4 to 256$/);
    assert.throws(() => checkLimit('LEAKHUNT_INTERVAL_MS', 10), /--interval must be from 50ms to 1d$/);
    assert.throws(() => checkLimit('LEAKHUNT_SAMPLE_BYTES', 0), /--sample-bytes must be from 1 to 1TiB$/);
    assert.throws(() => checkLimit('LEAKHUNT_MAX_SNAPSHOTS', 5), /--max-snapshots must be 0 \(keep all\) or from 8 to 1000000$/);
    for (const text of ['', ' 8', '0x10', '1e3', '-1', '8.0']) assert.throws(() => parseWholeNumber(text, '--max-snapshots'), /is not a whole number/, text);
    assert.equal(parseWholeNumber('360', '--max-snapshots'), 360);
  });

  it('is the table the shim is built with (native/build/limits.h, generated from the same file)', async () => {
    const fields = settings.map((name) => {
      const id = `LH_${name.replace(/^LEAKHUNT_/, '')}`;
      return `    printf("%s %llu %llu %llu %d\\n", ${id}_NAME, (unsigned long long)${id}_MIN, (unsigned long long)${id}_MAX, (unsigned long long)${id}_DEFAULT, ${id}_ZERO_ALLOWED);`;
    });
    const driver = await compileDriver([{ name: 'limits_print.c', text: `#include <stdio.h>\n#include "limits.h"\nint main(void)\n{\n${fields.join('\n')}\n    return 0;\n}\n` }]);
    try {
      const printed = execFileSync(driver.path, { encoding: 'utf8' }).trimEnd().split('\n');
      const expected = settings.map((name) => {
        const l = shimLimits().get(name)!;
        return `${name} ${l.min} ${l.max} ${l.default} ${l.zeroAllowed ? 1 : 0}`;
      });
      assert.deepEqual(printed, expected);
    } finally {
      driver.cleanup();
    }
  });

  it('is what native/FORMAT.md says the shim reads, and what README says the CLI refuses', () => {
    const format = readFileSync(join(nativeDir, 'FORMAT.md'), 'utf8').split('\n');
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    for (const name of settings) {
      const limit = shimLimits().get(name)!;
      const row = format.find((line) => line.startsWith(`| \`${name}\` |`));
      assert.ok(row, `FORMAT.md has a row for ${name}`);
      assert.ok(row.includes(`${limit.min} .. ${limit.max}`) && row.includes(`default ${limit.default}`), `FORMAT.md: ${row}`);
      assert.equal(row.includes('0 (all) or'), limit.zeroAllowed, `FORMAT.md says whether 0 is allowed: ${row}`);
      assert.ok(readme.includes(`\`${limit.option}\` ${describeLimit(name)}`), `README.md says ${limit.option} ${describeLimit(name)}`);
    }
  });
});
