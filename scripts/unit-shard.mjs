#!/usr/bin/env node
// One process running the unit test files named on its command line (test-unit.mjs gives each its share): node:test
// runs the tests each file registers, in order, and reports them together; the exit status is 1 if any failed.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const file of process.argv.slice(2)) await import(pathToFileURL(resolve(file)).href);
