import { Replica, RowChange } from '../../../src/ovsdb/replica/replica';
import type { DatabaseSchema } from '../../../src/ovsdb/types';

// A slice of the real OVN_Southbound schema (23.03): scalar, optional, set, map and uuid columns.
const schema: DatabaseSchema = {
  name: 'OVN_Southbound',
  version: '20.27.0',
  tables: {
    Logical_Flow: {
      columns: {
        logical_datapath: { type: { key: { type: 'uuid', refTable: 'Datapath_Binding' }, min: 0, max: 1 } },
        pipeline: { type: { key: { type: 'string', enum: ['set', ['egress', 'ingress']] } } },
        table_id: { type: { key: { type: 'integer', minInteger: 0, maxInteger: 32 } } },
        priority: { type: { key: { type: 'integer' } } },
        match: { type: 'string' },
        external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
    Port_Binding: {
      columns: {
        logical_port: { type: 'string' },
        tunnel_key: { type: { key: { type: 'integer' } } },
        mac: { type: { key: 'string', min: 0, max: 'unlimited' } },
      },
    },
  },
};

const U1 = '00dd9b0a-1111-4111-8111-111111111111';
const U2 = '00dd9b0a-2222-4222-8222-222222222222';
const DP = ['uuid', 'aaaaaaaa-0000-4000-8000-000000000000'] as const;

function replica() {
  const r = new Replica('OVN_Southbound', {
    Logical_Flow: { columns: ['logical_datapath', 'pipeline', 'table_id', 'priority', 'match', 'external_ids', 'controller_meter'], indexes: ['table_id'], tombstones: true },
    Port_Binding: { columns: ['logical_port', 'tunnel_key', 'mac'], indexes: ['logical_port', 'mac'] },
    Static_MAC_Binding: { columns: ['ip'] },
  });
  r.configure(schema);
  return r;
}

describe('Replica', () => {
  it('skips tables and columns the server schema lacks, and says which', () => {
    const r = replica();
    expect(r.skipped).toEqual(['Logical_Flow.controller_meter', 'Static_MAC_Binding']);
    expect(r.monitorRequests()).toEqual({
      Logical_Flow: { columns: ['logical_datapath', 'pipeline', 'table_id', 'priority', 'match', 'external_ids'] },
      Port_Binding: { columns: ['logical_port', 'tunnel_key', 'mac'] },
    });
  });

  it('decodes by schema: uuid → string, optional → array, bare-atom set → array, map → object', () => {
    const r = replica();
    r.applyUpdate2({
      Logical_Flow: { [U1]: { initial: { logical_datapath: DP as never, pipeline: 'ingress', table_id: 8, priority: 2001, match: 'ip4', external_ids: ['map', [['stage-name', 'ls_in_acl'], ['stage-hint', '0ca0a388']]] } } },
      Port_Binding: { [U2]: { initial: { logical_port: 'lsp1', tunnel_key: 1, mac: '50:54:00:00:00:01 10.0.0.1' } } },
    });
    expect(r.get('Logical_Flow', U1)).toEqual({
      _uuid: U1,
      logical_datapath: ['aaaaaaaa-0000-4000-8000-000000000000'],
      pipeline: 'ingress',
      table_id: 8,
      priority: 2001,
      match: 'ip4',
      external_ids: { 'stage-name': 'ls_in_acl', 'stage-hint': '0ca0a388' },
    });
    expect(r.get('Port_Binding', U2)!.mac).toEqual(['50:54:00:00:00:01 10.0.0.1']);
  });

  it('applies update2 diffs: map key added, changed, removed; set symmetric difference; scalar replaced', () => {
    const r = replica();
    r.applyUpdate2({
      Logical_Flow: { [U1]: { insert: { pipeline: 'ingress', table_id: 8, priority: 1, match: 'a', external_ids: ['map', [['k1', 'v1'], ['k2', 'v2']]] } } },
      Port_Binding: { [U2]: { insert: { logical_port: 'lsp1', tunnel_key: 1, mac: ['set', ['m1', 'm2']] } } },
    });
    r.applyUpdate2({
      Logical_Flow: { [U1]: { modify: { priority: 2, external_ids: ['map', [['k1', 'v1'], ['k2', 'v9'], ['k3', 'v3']]] } } },
      Port_Binding: { [U2]: { modify: { mac: ['set', ['m1', 'm3']] } } },
    });
    expect(r.get('Logical_Flow', U1)).toMatchObject({ priority: 2, match: 'a', external_ids: { k2: 'v9', k3: 'v3' } });
    expect(r.get('Port_Binding', U2)!.mac).toEqual(['m2', 'm3']);
    expect(r.find('Port_Binding', 'mac', 'm3').map((x) => x._uuid)).toEqual([U2]);
    expect(r.find('Port_Binding', 'mac', 'm1')).toEqual([]);
  });

  it('indexes by UUID prefix (cookies), reporting every colliding row, and by column value', () => {
    const r = replica();
    r.applyUpdate2({
      Logical_Flow: {
        [U1]: { insert: { table_id: 8, priority: 1, match: 'a', pipeline: 'ingress' } },
        [U2]: { insert: { table_id: 9, priority: 1, match: 'b', pipeline: 'egress' } },
      },
    });
    expect(r.byPrefix('Logical_Flow', '00DD9B0A').map((x) => x._uuid).sort()).toEqual([U1, U2]);
    expect(r.find('Logical_Flow', 'table_id', 9).map((x) => x._uuid)).toEqual([U2]);
    r.applyUpdate2({ Logical_Flow: { [U2]: { modify: { table_id: 10 } } } });
    expect(r.find('Logical_Flow', 'table_id', 9)).toEqual([]);
  });

  it('keeps deleted rows as tombstones until their time to live ends', () => {
    const r = replica();
    let now = 1_000_000;
    r.now = () => now;
    r.tombstoneTtlMs = 60_000;
    r.applyUpdate2({ Logical_Flow: { [U1]: { insert: { table_id: 8, priority: 1, match: 'gone', pipeline: 'ingress' } } } });
    r.applyUpdate2({ Logical_Flow: { [U1]: { delete: null } } });
    expect(r.get('Logical_Flow', U1)).toBeUndefined();
    expect(r.byPrefix('Logical_Flow', '00dd9b0a')).toEqual([]);
    expect(r.tombstonesByPrefix('Logical_Flow', '00dd9b0a').map((t) => t.row.match)).toEqual(['gone']);
    now += 61_000;
    expect(r.tombstonesByPrefix('Logical_Flow', '00dd9b0a')).toEqual([]);
  });

  it('a full dump replaces the cache: rows absent from it are deleted, never merged', () => {
    const r = replica();
    const changes: RowChange[] = [];
    r.applyUpdate2({ Port_Binding: { [U1]: { insert: { logical_port: 'old', tunnel_key: 1 } }, [U2]: { insert: { logical_port: 'kept', tunnel_key: 2 } } } });
    r.on('change', (c) => changes.push(c));
    r.replaceAll({ Port_Binding: { [U2]: { initial: { logical_port: 'kept', tunnel_key: 3 } } } });
    expect(r.count('Port_Binding')).toBe(1);
    expect(r.get('Port_Binding', U2)!.tunnel_key).toBe(3);
    expect(r.find('Port_Binding', 'logical_port', 'old')).toEqual([]);
    expect(changes.map((c) => `${c.kind} ${c.uuid}`)).toEqual([`delete ${U1}`, `modify ${U2}`]);
  });

  it('a dump in batches (streamed reply) ends as replaceAll does: same rows, indexes and tombstones, one reset', () => {
    const seed = { Port_Binding: { [U1]: { insert: { logical_port: 'old', tunnel_key: 1 } }, [U2]: { insert: { logical_port: 'kept', tunnel_key: 2 } } } };
    const U3 = '00dd9b0a-3333-4333-8333-333333333333';
    const dump = {
      Port_Binding: { [U2]: { initial: { logical_port: 'kept', tunnel_key: 3 } }, [U3]: { initial: { logical_port: 'new', tunnel_key: 4, mac: 'm' } } },
      Logical_Flow: { [U1]: { initial: { pipeline: 'ingress', table_id: 7, priority: 1, match: '1' } } },
    };
    const whole = replica();
    whole.applyUpdate2(seed);
    whole.replaceAll(dump);

    const batched = replica();
    batched.applyUpdate2(seed);
    let resets = 0;
    batched.on('reset', () => resets++);
    batched.beginDump();
    batched.applyDumpBatch('Port_Binding', { [U2]: dump.Port_Binding[U2] });
    expect(batched.count('Port_Binding')).toBe(2); // nothing deleted before the dump ends
    batched.applyDumpBatch('Logical_Flow', dump.Logical_Flow);
    batched.applyDumpBatch('Port_Binding', { [U3]: dump.Port_Binding[U3] });
    expect(resets).toBe(0);
    batched.endDump();
    expect(resets).toBe(1);
    for (const table of ['Port_Binding', 'Logical_Flow']) expect([...batched.rows(table)]).toEqual([...whole.rows(table)]);
    expect(batched.find('Port_Binding', 'logical_port', 'old')).toEqual([]);
    expect(batched.find('Port_Binding', 'mac', 'm').map((r) => r._uuid)).toEqual([U3]);
    expect(batched.find('Logical_Flow', 'table_id', 7).map((r) => r._uuid)).toEqual([U1]);
    expect(() => batched.applyDumpBatch('Port_Binding', {})).toThrow(/outside beginDump/);
  });

  it('applies legacy monitor updates (whole new values)', () => {
    const r = replica();
    r.replaceAll({ Port_Binding: { [U1]: { new: { logical_port: 'lsp1', tunnel_key: 1, mac: ['set', []] } } } }, true);
    r.applyUpdate({ Port_Binding: { [U1]: { old: { tunnel_key: 1 }, new: { logical_port: 'lsp1', tunnel_key: 5, mac: 'm' } } } });
    expect(r.get('Port_Binding', U1)).toMatchObject({ tunnel_key: 5, mac: ['m'] });
    r.applyUpdate({ Port_Binding: { [U1]: { old: { logical_port: 'lsp1' } } } });
    expect(r.count('Port_Binding')).toBe(0);
  });
});

describe('update2 diffs of optional columns (max 1)', () => {
  it('replaces a value that was set, adds one that was empty (as the OVS IDL does)', () => {
    const r = new Replica('OVN_Northbound', { Logical_Switch_Port: { columns: ['name', 'up'] } });
    r.configure({
      name: 'OVN_Northbound',
      version: '7.0.0',
      tables: { Logical_Switch_Port: { columns: { name: { type: 'string' }, up: { type: { key: 'boolean', min: 0, max: 1 } } } } },
    });
    r.applyUpdate2({ Logical_Switch_Port: { [U1]: { insert: { name: 'lsp1' } } } });
    expect(r.get('Logical_Switch_Port', U1)!.up).toEqual([]);
    r.applyUpdate2({ Logical_Switch_Port: { [U1]: { modify: { up: false } } } });
    expect(r.get('Logical_Switch_Port', U1)!.up).toEqual([false]);
    r.applyUpdate2({ Logical_Switch_Port: { [U1]: { modify: { up: true } } } });
    expect(r.get('Logical_Switch_Port', U1)!.up).toEqual([true]);
  });
});
