// tun_id is 64 bits: format_be64 prints it as `0x%PRIx64` (up to 0xffffffffffffffff), with a
// `/%#PRIx64` mask. OVN's STT encapsulation fills it past 2^53 (datapath key in bits 0..23, ingress
// port in 24..38, egress port in 40..55: a multicast egress ≥ 0x8000 sets bit 55), where a JS number
// rounds: two different tunnels read as one, or a key refused. It is carried as hex text, as cookies
// are (ids.ts), and turned to decimal only where the signatures always spelled it so.
import { pushSignature } from '../../../src/ovs/push-signature';
import { pushReaches, tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { signaturesReaching, tunnelSignature } from '../../../src/ovs/tunnel-signature';
import { tunnelIdForJson } from '../../../src/ovs/ids';

const sttKey = (tunId: string) => `recirc_id(0),tunnel(tun_id=${tunId},src=192.168.0.1,dst=192.168.0.2,flags(-df-csum+key)),in_port(stt_sys_7471),eth(),eth_type(0x0800)`;
const sttPush = (tunId: string) => `set(tunnel(tun_id=${tunId},dst=192.168.0.2,ttl=64,tp_dst=7471,flags(df|key))),stt_sys_7471`;

describe('tun_id above 2^53 (STT), carried whole', () => {
  it.each([
    // OVN STT: egress 0x8000 (multicast), ingress 1, datapath 5.
    ['0x80000001000005', '0x80000001000005', '36028797035741189'],
    ['0xffffffffffffffff', '0xffffffffffffffff', '18446744073709551615'],
    ['0x20000000000001', '0x20000000000001', '9007199254740993'], // 2^53 + 1: a number reads 2^53
    ['0x1', '0x1', '1'],
    ['0x00ab', '0xab', '171'], // one spelling, as recircIdHex / normaliseCookie
  ])('tun_id=%s is %s, signature part %s', (printed, hex, decimal) => {
    const m = tunnelMatch(sttKey(printed))!;
    expect(m.vni).toBe(hex);
    const [p] = tunnelPushes(sttPush(printed));
    expect(p.vni).toBe(hex);
    expect(pushReaches(p, m)).toBe(true);
    expect(tunnelSignature(sttKey(printed), 0)).toBe(`192.168.0.2|${decimal}|*|*`);
    expect(signaturesReaching(p)).toContain(tunnelSignature(sttKey(printed), 0));
    expect(pushSignature(sttPush(printed))).toBe(`192.168.0.2|${decimal}|-|-`);
  });

  it('tells apart tun_ids a number cannot (2^53 and 2^53 + 1), and applies a 64-bit mask', () => {
    const [p] = tunnelPushes(sttPush('0x20000000000001'));
    expect(pushReaches(p, tunnelMatch(sttKey('0x20000000000000'))!)).toBe(false);
    const masked = tunnelMatch(sttKey('0x20000000000000/0xffffffffffff0000'))!;
    expect(masked.vniMask).toBe('0xffffffffffff0000');
    expect(pushReaches(p, masked)).toBe(true);
    expect(pushReaches(tunnelPushes(sttPush('0x30000000000001'))[0], masked)).toBe(false);
    expect(tunnelMatch(sttKey('0x0/0'))!.vniMask).toBe('0x0'); // format_be64 prints the empty mask `/0`
  });

  it.each([
    ['65 bits', '0x1ffffffffffffffff'],
    ['not a number', '0xzz'],
    ['a negative number', '-1'],
  ])('refuses a tun_id of %s with an OvsParseError', (_what, tunId) => {
    expect(() => tunnelMatch(sttKey(tunId))).toThrow(OvsParseError);
    expect(() => tunnelPushes(sttPush(tunId))).toThrow(OvsParseError);
  });

  it('puts the tunnel id in stored and served JSON as a number while exact, else as its hex text', () => {
    // Verdicts are stored as JSON (path.verdict) and served: a bigint would throw in JSON.stringify,
    // a rounded number would name another tunnel. Stored verdicts hold numbers: the small ones stay so.
    expect(tunnelIdForJson('0x1')).toBe(1);
    expect(tunnelIdForJson('0x1fffffffffffff')).toBe(2 ** 53 - 1);
    expect(tunnelIdForJson('0x20000000000001')).toBe('0x20000000000001');
    expect(JSON.parse(JSON.stringify({ vni: tunnelIdForJson('0xffffffffffffffff') }))).toEqual({ vni: '0xffffffffffffffff' });
  });
});
