import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeakhuntError } from '../../src/core/errors.js';
import {
  formatBytes, formatDurationMs, formatRate, parseBytes, parseDurationMs, parseRateBytesPerHour,
} from '../../src/core/units.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A usage error: exit code 2, one line, naming what was being parsed and quoting the input. */
function assertUsageError(action: () => unknown, input: string, what: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof LeakhuntError, `expected a LeakhuntError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    assert.ok(!error.message.includes('\n'), error.message);
    assert.ok(error.message.includes(`"${input}"`), `message should quote the input: ${error.message}`);
    assert.ok(error.message.includes(what), `message should name the ${what}: ${error.message}`);
    return true;
  });
}

describe('parseBytes', () => {
  test('binary units, case-insensitive, with or without a space', () => {
    assert.equal(parseBytes('512KiB'), 512 * KiB);
    assert.equal(parseBytes('1MiB'), MiB);
    assert.equal(parseBytes('1mib'), MiB);
    assert.equal(parseBytes('2 GiB'), 2 * GiB);
    assert.equal(parseBytes('1TiB'), 1024 * GiB);
    assert.equal(parseBytes('  64 KiB  '), 64 * KiB);
  });

  test('a bare number is bytes, and B is bytes', () => {
    assert.equal(parseBytes('4096'), 4096);
    assert.equal(parseBytes('0'), 0);
    assert.equal(parseBytes('17B'), 17);
  });

  test('bare K/M/G are binary, like most memory tools', () => {
    assert.equal(parseBytes('4k'), 4 * KiB);
    assert.equal(parseBytes('3M'), 3 * MiB);
    assert.equal(parseBytes('1.5G'), 1.5 * GiB);
    assert.equal(parseBytes('1.5G'), 1_610_612_736);
  });

  test('KB/MB/GB/TB are decimal', () => {
    assert.equal(parseBytes('10MB'), 10_000_000);
    assert.equal(parseBytes('1kB'), 1000);
    assert.equal(parseBytes('2GB'), 2_000_000_000);
    assert.equal(parseBytes('1TB'), 1e12);
    assert.notEqual(parseBytes('10MB'), parseBytes('10MiB'));
  });

  test('fractions round to whole bytes', () => {
    assert.equal(parseBytes('0.5KiB'), 512);
    assert.equal(parseBytes('1.001KiB'), Math.round(1.001 * 1024));
    assert.ok(Number.isInteger(parseBytes('1.3MiB')));
  });

  for (const bad of ['', '   ', 'abc', 'KiB', '-1', '-1MiB', '1..5M', '.5M', '1e3', '1 2', '12 XiB', '1PiB', '0x10', '1MiB/h', '+4']) {
    test(`rejects ${JSON.stringify(bad)} with a usage error`, () => {
      assertUsageError(() => parseBytes(bad, '--sample-interval'), bad, '--sample-interval');
    });
  }

  test('rejects a size too large to be exact', () => {
    assertUsageError(() => parseBytes('99999999TiB'), '99999999TiB', 'size');
    assertUsageError(() => parseBytes('9007199254740993'), '9007199254740993', 'size');
  });

  test('the default name in errors is "size"', () => {
    assert.throws(() => parseBytes('lots'), /bad size "lots"/);
  });
});

describe('parseDurationMs', () => {
  test('single units', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('10s'), 10_000);
    assert.equal(parseDurationMs('10sec'), 10_000);
    assert.equal(parseDurationMs('5m'), 300_000);
    assert.equal(parseDurationMs('5min'), 300_000);
    assert.equal(parseDurationMs('2h'), 7_200_000);
    assert.equal(parseDurationMs('1d'), 86_400_000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs(' 10 s '), 10_000);
  });

  test('ms is milliseconds, not minutes followed by seconds', () => {
    assert.equal(parseDurationMs('5ms'), 5);
    assert.notEqual(parseDurationMs('5ms'), parseDurationMs('5m'));
  });

  test('compound durations add up', () => {
    assert.equal(parseDurationMs('1h30m'), 90 * 60_000);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs('1h1m1s1ms'), 3_600_000 + 60_000 + 1000 + 1);
  });

  test('a bare number is seconds', () => {
    assert.equal(parseDurationMs('30'), 30_000);
    assert.equal(parseDurationMs('0.25'), 250);
    assert.equal(parseDurationMs(' 2 '), 2000);
  });

  for (const bad of ['', '  ', 'soon', '10x', 's', 'ms', '-5s', '10s garbage', 'h1', '1w', '10s5', '5mn', '1,5s']) {
    test(`rejects ${JSON.stringify(bad)} with a usage error`, () => {
      assertUsageError(() => parseDurationMs(bad, '--interval'), bad, '--interval');
    });
  }
});

describe('parseRateBytesPerHour', () => {
  test('per hour, per second, per day, per minute', () => {
    assert.equal(parseRateBytesPerHour('1MiB/h'), MiB);
    assert.equal(parseRateBytesPerHour('1MiB/hour'), MiB);
    assert.equal(parseRateBytesPerHour('512KiB/s'), 512 * KiB * 3600);
    assert.equal(parseRateBytesPerHour('512KiB/sec'), 512 * KiB * 3600);
    assert.equal(parseRateBytesPerHour('1KiB/min'), 60 * KiB);
    assert.equal(parseRateBytesPerHour('1KiB/m'), 60 * KiB);
    assert.ok(Math.abs(parseRateBytesPerHour('10MB/day') - 10_000_000 / 24) < 1e-6);
    assert.ok(Math.abs(parseRateBytesPerHour('24MiB/d') - MiB) < 1e-6);
    assert.equal(parseRateBytesPerHour(' 2 MiB / h '), 2 * MiB);
  });

  for (const bad of ['1MiB', '1MiB/', '/h', '1MiB/week', 'fast/h', '1MiB/h/h', '-1MiB/h']) {
    test(`rejects ${JSON.stringify(bad)} with a usage error`, () => {
      assert.throws(() => parseRateBytesPerHour(bad, '--threshold'), (error: unknown) => {
        assert.ok(error instanceof LeakhuntError);
        assert.equal(error.exitCode, 2);
        assert.ok(!error.message.includes('\n'));
        assert.match(error.message, /--threshold/);
        return true;
      });
    });
  }
});

describe('formatBytes', () => {
  test('bytes below 1 KiB are whole bytes', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1), '1 B');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1023), '1023 B');
  });

  test('switches unit exactly at each power of 1024', () => {
    assert.equal(formatBytes(KiB), '1.00 KiB');
    assert.equal(formatBytes(MiB), '1.00 MiB');
    assert.equal(formatBytes(GiB), '1.00 GiB');
    assert.equal(formatBytes(1024 * GiB), '1.00 TiB');
  });

  test('three significant digits', () => {
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(10 * KiB), '10.0 KiB');
    assert.equal(formatBytes(12.34 * MiB), '12.3 MiB');
    assert.equal(formatBytes(100 * KiB), '100 KiB');
    assert.equal(formatBytes(999 * MiB), '999 MiB');
  });

  test('TiB is the largest unit', () => {
    assert.equal(formatBytes(2048 * 1024 * GiB), '2048 TiB');
  });

  test('negative sizes keep their sign and use the magnitude for the unit', () => {
    assert.equal(formatBytes(-512), '-512 B');
    assert.equal(formatBytes(-1536), '-1.50 KiB');
    assert.equal(formatBytes(-3 * MiB), '-3.00 MiB');
    assert.equal(formatBytes(-0), '0 B');
  });

  test('a value just below the next unit rolls over to it instead of printing four digits', () => {
    assert.equal(formatBytes(MiB - 1), '1.00 MiB');
    assert.equal(formatBytes(100 * KiB - 1), '100 KiB');
    assert.equal(formatBytes(10 * KiB - 1), '10.0 KiB');
  });

  test('1000 to 1023 of a unit print as a whole number of it, never as 0.9xx of the next', () => {
    assert.equal(formatBytes(1012 * MiB), '1012 MiB');
    assert.equal(formatBytes(1000 * KiB), '1000 KiB');
    assert.equal(formatBytes(-1023 * GiB), '-1023 GiB');
    assert.equal(formatRate(1012 * MiB), '1012 MiB/h');
    assert.equal(formatRate(988 * MiB), '988 MiB/h');
    for (let bytes = 1000; bytes < 1e13; bytes *= 1.01) assert.doesNotMatch(formatBytes(bytes), /^0\./, `${bytes}`);
  });

  test('round trips through parseBytes within the printed precision', () => {
    for (const bytes of [1, 1000, 4096, 123_456, 7 * MiB + 12_345, 3 * GiB + 5]) {
      const back = parseBytes(formatBytes(bytes).replace(' ', ''));
      assert.ok(Math.abs(back - bytes) / bytes < 0.005, `${bytes} → ${formatBytes(bytes)} → ${back}`);
    }
  });
});

describe('formatRate', () => {
  test('bytes per hour with the same rules as formatBytes', () => {
    assert.equal(formatRate(MiB), '1.00 MiB/h');
    assert.equal(formatRate(50 * MiB), '50.0 MiB/h');
    assert.equal(formatRate(0), '0 B/h');
    assert.equal(formatRate(-2.5 * KiB), '-2.50 KiB/h');
    assert.equal(formatRate(parseRateBytesPerHour('1KiB/s')), '3.52 MiB/h');
  });
});

describe('formatDurationMs', () => {
  test('milliseconds below a second', () => {
    assert.equal(formatDurationMs(0), '0ms');
    assert.equal(formatDurationMs(1), '1ms');
    assert.equal(formatDurationMs(999), '999ms');
    assert.equal(formatDurationMs(12.4), '12ms');
  });

  test('seconds with one decimal below 10 s, whole seconds up to 2 minutes', () => {
    assert.equal(formatDurationMs(1000), '1.0s');
    assert.equal(formatDurationMs(1500), '1.5s');
    assert.equal(formatDurationMs(10_000), '10s');
    assert.equal(formatDurationMs(119_000), '119s');
  });

  test('minutes from 2 minutes, hours from 2 hours', () => {
    assert.equal(formatDurationMs(120_000), '2.0min');
    assert.equal(formatDurationMs(90 * 60_000), '90.0min');
    assert.equal(formatDurationMs(2 * 3_600_000), '2.0h');
    assert.equal(formatDurationMs(36 * 3_600_000), '36.0h');
  });

  test('agrees with parseDurationMs on what it prints', () => {
    for (const ms of [250, 4000, 45_000, 600_000, 5 * 3_600_000]) {
      const printed = formatDurationMs(ms).replace('min', 'm');
      assert.equal(parseDurationMs(printed), ms, `${ms} → ${printed}`);
    }
  });
});
