// npm run build:ui: the page's script and style, bundled and minified by esbuild into dist-ui/,
// which the service serves at /ui (src/ui/ui.controller.ts). Nothing is fetched at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist-ui');
mkdirSync(join(out, 'assets'), { recursive: true });
const result = await build({
  entryPoints: { app: join(here, 'main.ts'), style: join(here, 'style.css') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: join(out, 'assets'),
  entryNames: '[name]',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
for (const [file, o] of Object.entries(result.metafile.outputs)) console.log(`${file}: ${o.bytes} bytes`);
