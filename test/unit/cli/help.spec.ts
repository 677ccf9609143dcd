// `ovn-livetrace --help` and each group's help list their commands with what each does: a
// command without a description is listed by its name alone (`session`'s start and stop were).
import type { Command } from 'commander';
import { program } from '../../../src/cli/main';

function commands(c: Command, prefix = ''): Array<[string, Command]> {
  return c.commands.flatMap((s) => [[`${prefix}${s.name()}`, s] as [string, Command], ...commands(s, `${prefix}${s.name()} `)]);
}

describe('ovn-livetrace help', () => {
  it('describes every command and subcommand', () => {
    const all = commands(program(() => undefined));
    expect(all.map(([n]) => n)).toEqual(expect.arrayContaining(['session start', 'session stop']));
    expect(all.filter(([, c]) => !c.description().trim()).map(([n]) => n)).toEqual([]);
  });

  it("prints them in session's help", () => {
    const help = program(() => undefined).commands.find((c) => c.name() === 'session')!.helpInformation();
    expect(help).toMatch(/start \[options\] <port>[ \t]+\S/);
    expect(help).toMatch(/stop \[options\] <id>[ \t]+\S/);
  });
});
