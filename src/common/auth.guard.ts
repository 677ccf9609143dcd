import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { ApiError } from './api-error';

/** Optional bearer token (LIVETRACE_API_TOKEN): when set, every route but /health requires it. */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly token: Buffer | null;

  constructor(@Inject(LIVETRACE_CONFIG) config: LivetraceConfig) {
    this.token = config.LIVETRACE_API_TOKEN ? Buffer.from(config.LIVETRACE_API_TOKEN) : null;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.token) return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    if (req.path === '/health') return true;
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const given = m ? Buffer.from(m[1]) : null;
    if (!given || given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
      throw new ApiError(401, m ? 'invalid bearer token' : 'this API requires "Authorization: Bearer <token>" (LIVETRACE_API_TOKEN is set)');
    }
    return true;
  }
}
