// `node -r` hook: our .ts sources compiled by swc with the project's .swcrc, as jest's transform
// (jest-transform.js) compiles them for the in-process tests. For the processes the tests start
// (the service, the CLI, the api's reader threads): ts-node's transpile-only hands every file to
// TypeScript's transpileModule, ~7 s of CPU a service start and ~2.5 s a reader thread here, most of
// a spec's own work on these 2 cores; swc takes a few hundred ms. Types only are stripped either way.
const fs = require('fs');
const path = require('path');
const swc = require('@swc/core');

// Stacks name the .ts lines, as under ts-node (its source-map-support).
process.setSourceMapsEnabled(true);

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '../../.swcrc'), 'utf8'));

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  module._compile(code, filename);
};
