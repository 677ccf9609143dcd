// Every src/ folder says what it is for, what it may import and its entry points (issue 17): an
// index.ts that opens with that comment, or a README.md (folders whose files are imported one by
// one). What the folders really import is checked against the same layers by `npm run depcheck`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SRC = join(__dirname, '../../../src');
const folders = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory());

/** The comment lines an index.ts opens with. */
function leadingComment(text: string): string {
  const lines = text.split('\n');
  const end = lines.findIndex((l) => !l.startsWith('//'));
  return lines.slice(0, end < 0 ? lines.length : end).join('\n');
}

function header(folder: string): string {
  const readme = join(SRC, folder, 'README.md');
  if (existsSync(readme)) return readFileSync(readme, 'utf8');
  const index = join(SRC, folder, 'index.ts');
  return existsSync(index) ? leadingComment(readFileSync(index, 'utf8')) : '';
}

describe('src/ folder headers', () => {
  it('finds the folders', () => {
    expect(folders).toEqual(expect.arrayContaining(['ovsdb', 'ovs', 'traces', 'collectors']));
  });

  it.each(folders)('%s/ says what it may import and its entry points', (folder) => {
    const text = header(folder);
    expect(text).toMatch(/May import:/);
    expect(text).toMatch(/Entry points?:/);
  });

  it('every folder is placed in a layer of the dependency rule', () => {
    const config = readFileSync(join(SRC, '..', '.dependency-cruiser.cjs'), 'utf8');
    for (const folder of folders) expect(config).toContain(`'${folder}'`);
  });
});
