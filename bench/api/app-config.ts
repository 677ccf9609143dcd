// The app as the API bench runs it: on a generated history, with no OVN, OVS or poller behind it
// and retention off, so every request measures the store and the HTTP layer alone.
import { loadConfig } from '../../src/config/config';
import type { LivetraceConfig } from '../../src/config/config.schema';
import { dbFile } from './generate';

export function historyAppConfig(n: number): LivetraceConfig {
  return loadConfig({
    LIVETRACE_DB: dbFile(n),
    LIVETRACE_POLLER: 'false',
    OVN_NB_DB: 'unix:/nonexistent/nb.sock',
    OVN_SB_DB: 'unix:/nonexistent/sb.sock',
    OVS_DB: 'unix:/nonexistent/db.sock',
    LIVETRACE_VSWITCHD_CTL: '/nonexistent/ovs-vswitchd.ctl',
    LIVETRACE_LOG_LEVEL: 'error',
    LIVETRACE_RETENTION_DAYS: '0',
    LIVETRACE_RETENTION_ROWS: '0',
    LIVETRACE_CHASSIS: 'hv1',
  });
}
