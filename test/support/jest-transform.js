// Nest 12 ships ES modules only. Node 20 loads them through require(esm), but jest's module
// runtime cannot (it needs Node 24.9+), so jest compiles those packages to CommonJS with swc,
// like our own sources. `import.meta.url` has no CommonJS meaning: give it this file's URL.
const swcJest = require('@swc/jest');
const fs = require('fs');
const path = require('path');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '../../.swcrc'), 'utf8'));
const inner = swcJest.createTransformer({ ...swcrc, swcrc: false });

module.exports = {
  ...inner,
  process(src, filename, options) {
    if (filename.includes('/node_modules/') && src.includes('import.meta.url')) {
      src = src.replace(/import\.meta\.url/g, '("file://" + __filename)');
    }
    return inner.process(src, filename, options);
  },
  getCacheKey(src, filename, ...rest) {
    return 'v2' + inner.getCacheKey(src, filename, ...rest);
  },
};
