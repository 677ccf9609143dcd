import { Module } from '@nestjs/common';
import { TracesModule } from '../traces/traces.module';
import { PathsController } from './paths.controller';
import { PathsService } from './paths.service';

@Module({ imports: [TracesModule], controllers: [PathsController], providers: [PathsService] })
export class PathsModule {}
