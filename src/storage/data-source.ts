// For the typeorm CLI only (`-d src/storage/data-source.ts`): the same options as the app,
// from the same configuration file and environment, and the entities found by file name.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from './data-source.options';
import { entityFiles } from './entities';

export default new DataSource({ ...dataSourceOptions(loadConfig().LIVETRACE_DB), entities: entityFiles() });
