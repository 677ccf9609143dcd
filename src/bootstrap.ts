import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { LivetraceConfig } from './config/config.schema';

/** Builds the app (shared by main.ts and the e2e tests) without listening. */
export async function createApp(config: LivetraceConfig): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  const doc = new DocumentBuilder()
    .setTitle('ovn-livetrace')
    .setDescription(
      'Live ofproto/trace + ovn-detrace: which OVN logical flow, ACL or port produced each datapath flow, ' +
        'remembered. Query parameters are snake_case, bodies camelCase, times RFC 3339 UTC.',
    )
    .setVersion('0.1.0')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json' });
  return app;
}
