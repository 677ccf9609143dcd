import { INestApplication, Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { createRequire } from 'node:module';
import { AppModule } from './app.module';
import { httpEdge } from './common/http-edge';
import { DrainingExpressAdapter } from './common/http-drain';
import { sendError } from './common/api-error';
import { notServedMessage, servedMethods, servesFolder } from './common/served-methods';
import { refuseRepeatedNames } from './common/json-names';
import { roleConfig, roleRefuses } from './config/role';
import { LivetraceConfig } from './config/config.schema';

/** Builds the app (shared by main.ts and the e2e tests) without listening. */
export async function createApp(given: LivetraceConfig): Promise<INestApplication> {
  const config = roleConfig(given);
  // A stop first stops accepting, closes idle keep-alive connections, ends the event streams and lets
  // the requests in flight finish, for a bounded time (common/http-drain.ts); forceCloseConnections then
  // destroys what is left (a request still waiting on a partitioned PostgreSQL past it) rather than
  // waiting for its end. Body parsers are installed below, after the edge checks (Host, token, Origin, Content-Type):
  // a refused request is not parsed first, and form bodies are never parsed at all.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), new DrainingExpressAdapter(), { bufferLogs: true, bodyParser: false, forceCloseConnections: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  // Before the edge: a route this role does not serve is absent (404), whoever asks; a path it
  // serves with other methods (an api instance's /traces: GET, not POST) is 405 with their Allow.
  app.use((req: Request, res: Response, next: () => void) => {
    const refused = roleRefuses(config.LIVETRACE_ROLE, req.method, req.originalUrl);
    if (!refused) return next();
    const allow = servedMethods(req, (m) => !roleRefuses(config.LIVETRACE_ROLE, m, req.originalUrl));
    if (!allow.length) return sendError(res, 404, refused);
    res.setHeader('Allow', allow.join(', '));
    sendError(res, 405, `${notServedMessage(req, allow)}: ${refused}`, 'method');
  });
  app.use(httpEdge(config));
  // Nest's type leaves `verify` out (its rawBody option uses it, which this app does not): passed on to body-parser as given.
  const json = { limit: '1mb', verify: refuseRepeatedNames };
  app.useBodyParser('json', json);
  if (config.LIVETRACE_CORS_ORIGINS.length) {
    // preflightContinue: the routes' own OPTIONS answer (204 with Allow; 404 for a path none serves,
    // where the cors middleware alone answered every OPTIONS 204) carries the grant it sets.
    app.enableCors({ origin: config.LIVETRACE_CORS_ORIGINS, allowedHeaders: ['Authorization', 'Content-Type'], maxAge: 600, preflightContinue: true });
  }
  const doc = new DocumentBuilder()
    .setTitle('ovn-livetrace')
    .setDescription(
      'Live ofproto/trace + ovn-detrace: which OVN logical flow, ACL or port produced each datapath flow, ' +
        'remembered. Query parameters are snake_case, bodies camelCase, times RFC 3339 UTC.',
    )
    .setVersion('0.1.0')
    .addBearerAuth()
    .build();
  // The page's files are express.static's, not routes: named here so that their other methods are a
  // 405 like every route's (served-methods.ts), from the folder SwaggerModule is told to serve.
  const swaggerUi = swaggerUiFolder();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json', customSwaggerUiPath: swaggerUi });
  servesFolder(app.getHttpAdapter().getInstance(), '/docs', swaggerUi);
  return app;
}

/** swagger-ui-dist's files, found as @nestjs/swagger finds them (its own dependency). */
function swaggerUiFolder(): string {
  const fromSwagger = createRequire(require.resolve('@nestjs/swagger'));
  return (fromSwagger('swagger-ui-dist/absolute-path.js') as () => string)();
}

const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);

/**
 * A non-loopback bind without a token lets anyone on the network start traces and inject events:
 * refused unless LIVETRACE_ALLOW_INSECURE_BIND=true, and then said loudly. Returns the refusal.
 */
export function checkBind(config: LivetraceConfig, log = new NestLogger('Startup')): string | null {
  if (isLoopback(config.LIVETRACE_HOST) || config.LIVETRACE_API_TOKEN) return null;
  const what = `LIVETRACE_HOST=${config.LIVETRACE_HOST} is not a loopback address and LIVETRACE_API_TOKEN is empty: anyone who can reach port ${config.LIVETRACE_PORT} can start traces and inject events`;
  if (!config.LIVETRACE_ALLOW_INSECURE_BIND) return `${what}; set LIVETRACE_API_TOKEN, or LIVETRACE_ALLOW_INSECURE_BIND=true to start anyway`;
  log.warn(`INSECURE: ${what} (LIVETRACE_ALLOW_INSECURE_BIND=true)`);
  return null;
}
