import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TracesModule } from '../traces/traces.module';
import { UpcallEntity } from './upcall.entity';
import { UpcallsController } from './upcalls.controller';
import { UpcallsService } from './upcalls.service';
import { UpcallStore } from './upcall-store';

@Module({ imports: [TypeOrmModule.forFeature([UpcallEntity]), TracesModule], controllers: [UpcallsController], providers: [UpcallsService, UpcallStore], exports: [UpcallsService, UpcallStore] })
export class UpcallsModule {}
