// A JSON body already written (a reader thread's UTF-8 bytes, or a string a store wrote), sent as
// is: returned to Nest, a string would go out as text/html and a Buffer as octet-stream. The header
// is the one res.json would set; express's ETag and Content-Length are over the same bytes.
import type { Response } from 'express';

export function sendJson(res: Response, body: string | Buffer): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.send(body);
}
