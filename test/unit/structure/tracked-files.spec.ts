// A worktree's node_modules is a symlink to the main checkout's (the helpers' setup): `node_modules/`
// ignores directories only, so `git add -A` committed that link, and merging it replaced the main
// checkout's real node_modules (ignored files are expendable to git) with a link to itself: no test
// or build could run there. The pattern must ignore the name whatever it is, and nothing may track it.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });

describe('node_modules in git', () => {
  it('is tracked nowhere', () => {
    expect(git('ls-files', '--', 'node_modules', '**/node_modules').trim()).toBe('');
  });

  it('is ignored as a symlink too, not as a directory only', () => {
    // A path that is no directory on disk, as a worktree's link is to git (the real folder here is one).
    expect(git('check-ignore', '--no-index', '--verbose', 'linked/node_modules')).toMatch(/linked\/node_modules$/m);
  });
});
