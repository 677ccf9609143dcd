// No list of entities here: each feature module registers its own (TypeOrmModule.forFeature in its
// *.module.ts) and the app's data source collects them (autoLoadEntities). The typeorm CLI has no
// modules, so it finds the same classes by file name: an entity lives in a `*.entity.ts` file in the
// folder that owns its table (test/integration/storage/entities.spec.ts checks that both agree).
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

/** Every entity file under src/ (the .ts sources, or the .js that `nest build` writes to dist/src). */
export function entityFiles(): string[] {
  return [join(ROOT, 'src', '**', __filename.endsWith('.ts') ? '*.entity.ts' : '*.entity.js')];
}
