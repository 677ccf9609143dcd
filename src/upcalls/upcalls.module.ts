import { Module } from '@nestjs/common';
import { TracesModule } from '../traces/traces.module';
import { UpcallsController } from './upcalls.controller';
import { UpcallsService } from './upcalls.service';

@Module({ imports: [TracesModule], controllers: [UpcallsController], providers: [UpcallsService], exports: [UpcallsService] })
export class UpcallsModule {}
