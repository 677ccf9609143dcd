// The /ui page: static files built by `npm run build:ui` (web/build.mjs) into dist-ui/, served
// from here with no network needed. They hold no data: the page reads the API with the token
// (web/api.ts), so http-edge.ts lets these paths through without it, after the Host check.
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApiError, notFound } from '../common/api-error';

/** The package root (where package.json is), from src/ui under ts-node or dist/src/ui once built. */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const UI_DIR = join(packageRoot(), 'dist-ui');
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** The page runs only its own script and style and talks only to this origin. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function secure(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

@ApiExcludeController()
@Controller('ui')
export class UiController {
  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    const m = /^([a-z]+)\.(js|css)$/.exec(file);
    const path = m && join(UI_DIR, 'assets', file);
    if (!path || !existsSync(path)) throw notFound(`no asset ${JSON.stringify(file.slice(0, 64))}`, 'file');
    secure(res);
    res.setHeader('Content-Type', TYPES[m![2]]);
    // Not hashed names: revalidated each load (ETag), so a rebuilt page is never stale.
    res.setHeader('Cache-Control', 'no-cache');
    res.send(readFileSync(path));
  }

  /** Every page address (/ui/ports/lsp1, /ui/paths/7, …) is the same document; the script routes. */
  @Get(['', '*path'])
  page(@Res() res: Response): void {
    const index = join(UI_DIR, 'index.html');
    if (!existsSync(index)) throw new ApiError(503, 'the /ui page is not built: run npm run build:ui');
    secure(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(readFileSync(index));
  }
}
