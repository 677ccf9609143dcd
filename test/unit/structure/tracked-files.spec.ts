// A worktree's node_modules is a symlink to the main checkout's (the helpers' setup): `node_modules/`
// ignores directories only, so `git add -A` committed that link, and merging it replaced the main
// checkout's real node_modules (ignored files are expendable to git) with a link to itself: no test
// or build could run there. The pattern must ignore the name whatever it is, and nothing may track it.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });
// scripts/node-matrix runs the unit suite on a second Node in a copy of the tree without .git.
const checkout = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT }).status === 0;

describe('node_modules in git', () => {
  (checkout ? it : it.skip)('is tracked nowhere (in a git checkout)', () => {
    expect(git(ROOT, 'ls-files', '--', 'node_modules', '**/node_modules').trim()).toBe('');
  });

  it("is ignored by the project's .gitignore as a symlink too, not as a directory only", () => {
    // The project's .gitignore in a repository of its own (the tree may be a copy without .git), asked
    // of a path that is no directory on disk, as a worktree's link is to git.
    const repo = mkdtempSync(join(tmpdir(), 'livetrace-gitignore-'));
    try {
      git(repo, 'init', '-q');
      copyFileSync(join(ROOT, '.gitignore'), join(repo, '.gitignore'));
      expect(git(repo, 'check-ignore', '--no-index', '--verbose', 'linked/node_modules')).toMatch(/linked\/node_modules$/m);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
