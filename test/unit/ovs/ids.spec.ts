import { cookieUuidPrefix, isCookieZero, normaliseCookie, recircIdHex } from '../../../src/ovs/ids';

describe('normaliseCookie', () => {
  it('pads a 32-bit cookie to 8 digits and keeps a wider one whole, padded to 16', () => {
    expect(normaliseCookie('0xDD9B0A')).toBe('0x00dd9b0a');
    expect(normaliseCookie('dd9b0a')).toBe('0x00dd9b0a');
    expect(normaliseCookie('0x0')).toBe('0x00000000');
    expect(normaliseCookie('0x1dd9b0a00')).toBe('0x00000001dd9b0a00');
    expect(normaliseCookie('0x000000000dd9b0a')).toBe('0x00dd9b0a');
  });

  it('rejects text that is not a 64-bit hex number', () => {
    expect(normaliseCookie('zz')).toBeNull();
    expect(normaliseCookie('0x')).toBeNull();
    expect(normaliseCookie('0x1' + '0'.repeat(16))).toBeNull();
  });
});

// Cookie 0 as ovs-ofctl prints it (`0x0`, test/fixtures/evpn's ofctl-dump-flows.txt), as the trace
// parsers give it, 16 digits wide, or absent: the same zero the normalised spelling says.
describe('isCookieZero', () => {
  it.each(['0x0', '0x00000000', '0x0000000000000000', '0', ' 0x0 ', '0x857b152', '0x00000001', '0x1dd9b0a00', '0x', 'zz', '0x' + '0'.repeat(17)])(
    '%j is zero exactly when normaliseCookie makes 0x00000000 of it',
    (c) => expect(isCookieZero(c)).toBe(normaliseCookie(c) === '0x00000000'),
  );

  it('no cookie is none', () => {
    expect(isCookieZero(null)).toBe(true);
    expect(isCookieZero('')).toBe(true);
    expect(isCookieZero('0x0')).toBe(true);
    expect(isCookieZero('0x857b152')).toBe(false);
  });
});

describe('cookieUuidPrefix', () => {
  it('gives the UUID prefix ovn-detrace would look up (zero-filled to 8)', () => {
    expect(cookieUuidPrefix('0xdd9b0a')).toBe('00dd9b0a');
    expect(cookieUuidPrefix('0x66C1233A')).toBe('66c1233a');
  });

  it('names no row for cookie 0, a cookie wider than 32 bits or bad text', () => {
    expect(cookieUuidPrefix('0x0')).toBeNull();
    expect(cookieUuidPrefix('0x00000000')).toBeNull();
    expect(cookieUuidPrefix(null)).toBeNull();
    expect(cookieUuidPrefix('zz')).toBeNull();
    // Low 32 bits are a valid prefix, but ovn-controller never sets the high 32 bits.
    expect(cookieUuidPrefix('0xffffffff66c1233a')).toBeNull();
  });
});

describe('recircIdHex', () => {
  it('prints the id as the datapath does, from a number, decimal text or hex text', () => {
    expect(recircIdHex(0)).toBe('0x0');
    expect(recircIdHex(26)).toBe('0x1a');
    expect(recircIdHex('26')).toBe('0x1a');
    expect(recircIdHex('0x1A')).toBe('0x1a');
    expect(recircIdHex(0xffffffff)).toBe('0xffffffff');
  });

  it('refuses what is not a 32-bit recirculation id, naming it', () => {
    expect(() => recircIdHex('')).toThrow(/not a recirculation id/);
    expect(() => recircIdHex('vif1')).toThrow(/vif1/);
    expect(() => recircIdHex(-1)).toThrow(RangeError);
    expect(() => recircIdHex(2 ** 32)).toThrow(RangeError);
  });
});
