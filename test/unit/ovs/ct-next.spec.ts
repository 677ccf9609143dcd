// The values POST /traces hands ofproto/trace as --ct-next: checked as OVS checks them
// (parse_ct_state + validate_ct_state, lib/flow.c), sent as flag names joined by commas only.
import { ctNextArg } from '../../../src/ovs/ct-next';

describe('ctNextArg', () => {
  it.each([
    ['trk,est', 'trk,est'],
    ['trk|est|rpl', 'trk,est,rpl'],
    ['est,rpl,trk', 'est,rpl,trk'],
    ['trk,new', 'trk,new'],
    ['trk,rel,est', 'trk,rel,est'],
    ['trk,inv', 'trk,inv'],
    ['trk,est,dnat,snat', 'trk,est,dnat,snat'],
    ['trk', 'trk'],
  ])('takes %s as OVS does (sent as %s)', (value, arg) => {
    expect(ctNextArg(value)).toEqual({ arg });
  });

  it.each([
    ['', /empty flag/],
    ['trk,,est', /empty flag/],
    ['trk, est', /unknown conntrack flag " est"/],
    ['trk,established', /unknown conntrack flag "established"/],
    ['TRK', /unknown conntrack flag "TRK"/],
    ['trk,__proto__', /unknown conntrack flag "__proto__"/],
    ['trk,est;reboot', /unknown conntrack flag "est;reboot"/],
    ['trk --ct-next trk', /unknown conntrack flag "trk --ct-next/],
    ['est', /"trk" is required/],
    ['trk,est,est', /"est" given twice/],
    ['trk,inv,est', /only "trk" may also be set/],
    ['trk,new,est', /"new" and "est" are mutually exclusive/],
    ['trk,new,rpl', /"new" and "rpl" are mutually exclusive/],
  ])('refuses %j, naming why', (value, why) => {
    const r = ctNextArg(value);
    expect('error' in r && r.error).toMatch(why);
  });
});
