import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TracesModule } from '../traces/traces.module';
import { UpcallEntity } from './upcall.entity';
import { UpcallsController } from './upcalls.controller';
import { UpcallsService } from './upcalls.service';

@Module({ imports: [TypeOrmModule.forFeature([UpcallEntity]), TracesModule], controllers: [UpcallsController], providers: [UpcallsService], exports: [UpcallsService] })
export class UpcallsModule {}
