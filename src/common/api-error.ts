// One error body everywhere: {"statusCode": 400, "error": "Bad Request", "message": "…", "field"?: "…"}.
// Messages name what was wrong (the parameter and the reason, the unknown port, …).
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';

export interface ApiErrorBody {
  statusCode: number;
  error: string;
  message: string;
  field?: string;
}

export class ApiError extends HttpException {
  constructor(status: number, message: string, field?: string) {
    super({ statusCode: status, error: HttpStatus[status]?.replace(/_/g, ' ').toLowerCase().replace(/\b\w/g, (c) => c.toUpperCase()) ?? 'Error', message, ...(field ? { field } : {}) }, status);
  }
}

export const badRequest = (field: string, reason: string) => new ApiError(400, `${field}: ${reason}`, field);
export const notFound = (what: string) => new ApiError(404, what);

@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('Api');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let body: ApiErrorBody;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const r = exception.getResponse();
      // /health's 503 carries the health report itself (terminus): pass it through untouched.
      if (typeof r === 'object' && r && 'status' in r && 'details' in r) {
        res.status(status).json(r);
        return;
      }
      if (typeof r === 'object' && r && 'message' in r && typeof (r as ApiErrorBody).message === 'string' && 'statusCode' in r) {
        body = r as ApiErrorBody;
      } else {
        const msg = typeof r === 'string' ? r : Array.isArray((r as { message?: unknown }).message) ? ((r as { message: string[] }).message).join('; ') : exception.message;
        body = { statusCode: status, error: exception.name.replace(/Exception$/, '').replace(/([a-z])([A-Z])/g, '$1 $2'), message: msg };
      }
    } else {
      this.log.error(exception instanceof Error ? exception.stack : String(exception));
      body = { statusCode: 500, error: 'Internal Server Error', message: 'internal error (logged)' };
    }
    res.status(body.statusCode).json(body);
  }
}
