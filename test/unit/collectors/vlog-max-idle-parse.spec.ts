// other_config:max-idle read as vswitchd reads it (vlog-gone-check.ts maxIdleOf): vswitchd/bridge.c
// smap_get_uint -> lib/util.c str_to_uint -> str_to_llong: strtoll in base 10 in the C locale
// (leading " \t\n\v\f\r", an optional sign, digits, nothing after), then 0..UINT_MAX; anything else is
// OFPROTO_MAX_IDLE_DEFAULT. 0c7070f's pattern took JavaScript's \s (a no-break space, U+2028: not
// isspace in the C locale, so vswitchd runs the default) and no sign but '+' ("-0" is 0 to vswitchd:
// flows idled out at the next revalidator round, checked every 2 s, not every 12).
import { MAX_IDLE_MS, maxIdleOf } from '../../../src/collectors/vlog-gone-check';

describe('other_config:max-idle as vswitchd parses it', () => {
  it.each([
    ['600000', 600_000],
    [' \t600000', 600_000],
    ['+600000', 600_000],
    ['0', 0],
    ['-0', 0],
    ['4294967295', 4_294_967_295],
    ['4294967296', MAX_IDLE_MS],
    ['-5', MAX_IDLE_MS],
    ['10min', MAX_IDLE_MS],
    ['600000 ', MAX_IDLE_MS],
    ['\u00a0600000', MAX_IDLE_MS],
    ['\u2028600000', MAX_IDLE_MS],
    ['', MAX_IDLE_MS],
    [undefined, MAX_IDLE_MS],
  ])('%j is %d', (value, ms) => {
    expect(maxIdleOf(value)).toBe(ms);
  });
});
