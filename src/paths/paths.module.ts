import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TracesModule } from '../traces/traces.module';
import { CrossChassisPaths } from './cross-chassis';
import { NorthboundPorts } from './northbound-ports';
import { PathBuilder } from './path-builder';
import { ChassisMarkEntity, PathEntity } from './path.entity';
import { PathRecorder } from './path-recorder';
import { PathStore } from './path-store';
import { PortArrivals } from './port-arrivals';
import { PathsController } from './paths.controller';
import { PathsService } from './paths.service';

/** A packet's passes and verdict: recorded by the tracer (PathRecorder), read by GET /paths/:id and the cross-check (PathBuilder). */
@Module({
  imports: [TypeOrmModule.forFeature([PathEntity, ChassisMarkEntity]), TracesModule],
  controllers: [PathsController],
  providers: [PathsService, PathStore, PathBuilder, PathRecorder, NorthboundPorts, CrossChassisPaths, PortArrivals],
  exports: [PathBuilder, PathRecorder, PathStore],
})
export class PathsModule {}
