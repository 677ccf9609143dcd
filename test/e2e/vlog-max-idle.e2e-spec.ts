// The vswitchd log source paces its checks by the max-idle vswitchd runs with (vlog-gone-check.ts
// maxIdleOf), read live from the local Open_vSwitch row the service replicates (other_config, as
// ReplicasService reads external_ids:system-id): on a real sandbox, `ovs-vsctl set Open_vSwitch .
// other_config:max-idle=...` reaches the source's checks, and a value vswitchd would not take (not a
// whole number) or none is vswitchd's default, 10 s. Before, the source assumed 10 s whatever was
// set, and re-checked every idle flow still installed under a larger one about every second.
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

describe('the vswitchd log source and other_config:max-idle', () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;
  beforeAll(async () => {
    sb = await Sandbox.start();
  });
  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('checks under the max-idle set in the database, the default when unset or not a number', async () => {
    app = await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log') });
    const source = app.get(VlogSourceService);
    // The max-idle the source's checks are watched under (GoneChecks reads it at each watch).
    const maxIdle = () => (source as unknown as { gone: { maxIdleMs: () => number } }).gone.maxIdleMs();
    const becomes = (ms: number) => waitFor(`max-idle ${ms}`, () => maxIdle() === ms);
    expect(maxIdle()).toBe(10_000);
    await sb.vsctl('set', 'open_vswitch', '.', 'other_config:max-idle=600000');
    await becomes(600_000);
    await sb.vsctl('set', 'open_vswitch', '.', 'other_config:max-idle=10min');
    await becomes(10_000);
    await sb.vsctl('set', 'open_vswitch', '.', 'other_config:max-idle=120000');
    await becomes(120_000);
    await sb.vsctl('remove', 'open_vswitch', '.', 'other_config', 'max-idle');
    await becomes(10_000);
  });
});
