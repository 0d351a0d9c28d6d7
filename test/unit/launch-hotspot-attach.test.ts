/**
 * The attach client's protocol, against a strict listener of our own at /tmp/.java_pid<this process's pid>: the
 * exact request bytes a HotSpot listener reads, its status line, failures, a socket that is not one.
 * A real JVM answers the same requests in test/e2e/launch-hotspot-attach.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import {
  askJvm, attachRequest, disablesAttach, namespacePid, parseAttachReply,
} from '../../src/launch/hotspot-attach.js';

describe('the protocol\'s pieces', () => {
  test('a request: version 1, the jcmd operation, the command line, two empty arguments, each NUL-ended', () => {
    assert.equal(attachRequest('GC.heap_info').toString('utf8'), '1\0jcmd\0GC.heap_info\0\0\0');
    assert.equal(attachRequest('VM.native_memory summary').toString('utf8'), '1\0jcmd\0VM.native_memory summary\0\0\0');
    assert.throws(() => attachRequest('a\0b'), /NUL/);
  });

  test('a reply: the status line, then the output', () => {
    assert.deepEqual(parseAttachReply('0\n heap total 1K\n'), { status: 0, output: ' heap total 1K\n' });
    assert.deepEqual(parseAttachReply('-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n'),
      { status: -1, output: 'java.lang.IllegalArgumentException: Unknown diagnostic command\n' });
    assert.deepEqual(parseAttachReply('0'), { status: 0, output: '' });
    assert.deepEqual(parseAttachReply(''), { status: undefined, output: '' });
    assert.deepEqual(parseAttachReply('HTTP/1.1 400\nx'), { status: undefined, output: 'x' });
  });

  test('the pid a JVM in a container knows itself by is the last of NSpid', () => {
    assert.equal(namespacePid('Name:\tjava\nNSpid:\t81234\t7\n', 81234), 7);
    assert.equal(namespacePid('Name:\tjava\nNSpid:\t81234\n', 81234), 81234);
    assert.equal(namespacePid('Name:\tjava\n', 42), 42);
  });

  test('-XX:+DisableAttachMechanism on the command line or in the option variables; the last one wins', () => {
    assert.equal(disablesAttach(['java', '-XX:+DisableAttachMechanism', '-jar', 'a.jar'], []), true);
    assert.equal(disablesAttach(['java', '-jar', 'a.jar'], ['JAVA_TOOL_OPTIONS=-Xmx1g -XX:+DisableAttachMechanism']), true);
    assert.equal(disablesAttach(['java', '-XX:+DisableAttachMechanism', '-XX:-DisableAttachMechanism'], []), false);
    assert.equal(disablesAttach(['java'], ['OTHER=-XX:+DisableAttachMechanism']), false);
  });
});

describe('askJvm against a strict listener', () => {
  const socketPath = `/tmp/.java_pid${process.pid}`;
  const received: string[] = [];
  let server: Server;

  before(async () => {
    rmSync(socketPath, { force: true });
    server = createServer((connection) => {
      let request = '';
      connection.on('data', (chunk) => {
        request += chunk.toString('utf8');
        const parts = request.split('\0');
        if (parts.length < 6) return; // five NUL-ended strings, as HotSpot reads them
        received.push(request);
        assert.equal(parts[0], '1');
        assert.equal(parts[1], 'jcmd');
        const command = parts[2]!;
        if (command === 'GC.heap_info') connection.end('0\n garbage-first heap   total 10240K, used 2341K\n');
        else if (command === 'Compiler.codecache') connection.end('0\nCodeHeap \'non-nmethods\': size=5700Kb used=1100Kb\n');
        else if (command === 'Slow.command') { /* never answers */ }
        else connection.end(`-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });
  after(() => {
    server.close();
    rmSync(socketPath, { force: true });
  });

  test('commands asked in turn, one connection each, outputs joined', async () => {
    received.length = 0;
    const reply = await askJvm(process.pid, ['GC.heap_info', 'Compiler.codecache']);
    assert.deepEqual(reply.ok, true, reply.why);
    assert.match(reply.output, /garbage-first heap {3}total 10240K, used 2341K\n.*CodeHeap 'non-nmethods'/s);
    assert.deepEqual(received, ['1\0jcmd\0GC.heap_info\0\0\0', '1\0jcmd\0Compiler.codecache\0\0\0']);
  });

  test('a refused command: not ok, the JVM\'s first line as the reason, and the commands after it not asked', async () => {
    received.length = 0;
    const reply = await askJvm(process.pid, ['No.such', 'GC.heap_info']);
    assert.equal(reply.ok, false);
    assert.equal(reply.why, 'java.lang.IllegalArgumentException: Unknown diagnostic command');
    assert.equal(received.length, 1);
  });

  test('a listener that never answers: not ok within the time given', async () => {
    const reply = await askJvm(process.pid, ['Slow.command'], 300);
    assert.equal(reply.ok, false);
    assert.match(reply.why, /no reply in time/);
  });
});

describe('askJvm refuses what is not a JVM\'s listener, and never signals a process that would die of it', () => {
  test('a regular file where the socket should be', async () => {
    const path = `/tmp/.java_pid${process.pid}`;
    writeFileSync(path, 'not a socket');
    try {
      const reply = await askJvm(process.pid, ['GC.heap_info']);
      assert.equal(reply.ok, false);
      assert.match(reply.why, /is not a socket/);
    } finally {
      rmSync(path, { force: true });
    }
  });

  test('no listener and no SIGQUIT handler: not asked (the signal would kill it)', async () => {
    // This test process does not catch SIGQUIT: SIGQUIT's default action would end it, so reaching the assertion
    // is itself the proof that none was sent.
    const reply = await askJvm(process.pid, ['GC.heap_info'], 1000);
    assert.equal(reply.ok, false);
    assert.match(reply.why, /does not handle SIGQUIT/);
  });

  test('a process that ended', async () => {
    const reply = await askJvm(2 ** 22 + 17, ['GC.heap_info'], 1000);
    assert.equal(reply.ok, false);
    assert.equal(reply.why, 'the process ended');
  });
});
