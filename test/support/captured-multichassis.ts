// The datapath flows and OVN keys captured on a real three-chassis sandbox
// (scripts/capture-multichassis-fixtures, one folder a pair): what the tunnel, push-signature and
// link specs read their keys, actions and expected values from.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const MULTICHASSIS_ROOT = join(__dirname, '../fixtures/captured-multichassis');
export const MULTICHASSIS_PAIRS = readdirSync(MULTICHASSIS_ROOT).sort();

/** keys.json: the southbound's view of the same run. */
export interface MultichassisKeys {
  versions: string;
  encap: Record<string, string>;
  datapaths: Record<string, number>;
  ports: Record<string, { tunnelKey: number }>;
}

export interface CapturedFlow { file: string; key: string; actions: string; recirc: number }

export const multichassisKeys = (pair: string): MultichassisKeys =>
  JSON.parse(readFileSync(join(MULTICHASSIS_ROOT, pair, 'keys.json'), 'utf8')) as MultichassisKeys;

/** Every flow of the pair's dump-flows captures, or of one file. */
export function capturedFlows(pair: string, only?: string): CapturedFlow[] {
  return readdirSync(join(MULTICHASSIS_ROOT, pair))
    .filter((f) => (only ? f === only : /\.(flows(-m)?|kernel-form|stateful\.flows-m)\.txt$/.test(f)))
    .flatMap((file) =>
      readFileSync(join(MULTICHASSIS_ROOT, pair, file), 'utf8')
        .split('\n')
        .filter((l) => l.includes(', actions:'))
        .map((line) => {
          const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
          const actions = line.slice(line.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '');
          return { file, key, actions, recirc: Number(/recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(key)![1]) };
        }),
    );
}
