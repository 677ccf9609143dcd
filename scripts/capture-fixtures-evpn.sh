# Sourced by scripts/capture-fixtures (--evpn), whose helpers (appctl, own_key, wait_flows_settled,
# version_dir, stop_sandbox) and variables ($NB, $SB, $VS, $SANDBOX, $OUT, $PAIR) it uses.
# shellcheck shell=bash

NETNS=""
stop_evpn() {
  stop_sandbox
  [ -z "$NETNS" ] || ip netns del "$NETNS" 2>/dev/null || true
}

capture_evpn() {
  NETNS=capture-evpn-$$
  trap stop_evpn EXIT
  ip netns add "$NETNS"
  local ns="ip netns exec $NETNS"
  $ns ip link set lo up
  $ns "$ROOT/scripts/ovn-sandbox" start "$SANDBOX" --pair "$PAIR" >/dev/null
  CTL="$SANDBOX/ovs-vswitchd.$(cat "$SANDBOX/ovs-vswitchd.pid").ctl"
  local ovnctl="ovn-appctl -t $SANDBOX/ovn-controller.$(cat "$SANDBOX/ovn-controller.pid").ctl"
  $VS set open_vswitch . external-ids:ovn-evpn-local-ip=169.0.0.1 external-ids:ovn-evpn-vxlan-ports=4789
  $NB ls-add ls-evpn \
    -- lsp-add ls-evpn workload1 -- lsp-set-addresses workload1 "f0:00:0f:16:01:10 172.16.1.10" \
    -- lsp-add ls-evpn workload2 -- lsp-set-addresses workload2 "f0:00:0f:16:01:20 172.16.1.20"
  $VS add-port br-int wl1 -- set interface wl1 type=dummy external-ids:iface-id=workload1 ofport_request=1 \
    -- add-port br-int wl2 -- set interface wl2 type=dummy external-ids:iface-id=workload2 ofport_request=2
  # OVN's system test (tests/system-ovn.at, "dynamic-routing - EVPN") with a veth for the loopback
  # (no dummy or vrf kernel module here; ovn-controller only needs the names to exist).
  $ns ip link add br-10 type bridge && $ns ip link set br-10 addrgenmode none && $ns ip link set br-10 up
  $ns ip link add vxlan-10 type vxlan id 10 dstport 60010 local 169.0.0.1 nolearning
  $ns ip link set vxlan-10 up && $ns ip link set vxlan-10 master br-10
  $ns ip link add lo-10 type veth peer name lo-10p && $ns ip link set lo-10 master br-10 && $ns ip link set lo-10 up
  $NB --wait=hv set logical_switch ls-evpn other_config:dynamic-routing-vni=10 \
    other_config:dynamic-routing-bridge-ifname=br-10 other_config:dynamic-routing-vxlan-ifname=vxlan-10 \
    other_config:dynamic-routing-advertise-ifname=lo-10
  $ns bridge fdb append 00:00:00:00:00:00 dev vxlan-10 dst 169.0.0.10 static permanent
  $ns bridge fdb add f0:00:0f:16:10:50 dev vxlan-10 dst 169.0.0.10 static extern_learn
  $ns bridge fdb add f0:00:0f:16:10:51 dev vxlan-10 dst 169.0.0.10 static extern_learn
  local i=0
  until [ "$($ovnctl evpn/vtep-fdb-list | grep -c MAC)" = 2 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "capture-fixtures: ovn-controller learned no EVPN FDB" >&2; exit 1; }
    sleep 0.1
  done
  # A router on the EVPN switch (and a second switch behind it, workload3 on wl3): ovn-controller
  # installs an EVPN neighbour's ARP/ND rules on the router ports of the switch it was learned on
  # (physical.c physical_consider_evpn_arp). Static MAC binding 172.16.1.80 for a southbound-owned
  # rule in the same tables.
  $NB lr-add lr-evpn \
    -- lrp-add lr-evpn lr-ls-evpn 00:00:00:00:ff:10 172.16.1.1/24 172:16::1/64 \
    -- lrp-add lr-evpn lr-ls-b 00:00:00:00:ff:20 172.16.2.1/24 172:17::1/64 \
    -- lsp-add ls-evpn ls-evpn-lr -- lsp-set-type ls-evpn-lr router -- lsp-set-addresses ls-evpn-lr router \
    -- lsp-set-options ls-evpn-lr router-port=lr-ls-evpn \
    -- ls-add ls-b -- lsp-add ls-b ls-b-lr -- lsp-set-type ls-b-lr router -- lsp-set-addresses ls-b-lr router \
    -- lsp-set-options ls-b-lr router-port=lr-ls-b \
    -- lsp-add ls-b workload3 -- lsp-set-addresses workload3 "f0:00:0f:16:02:30 172.16.2.30 172:17::30" \
    -- static-mac-binding-add lr-ls-evpn 172.16.1.80 f0:00:0f:16:10:80
  $VS add-port br-int wl3 -- set interface wl3 type=dummy external-ids:iface-id=workload3 ofport_request=3
  # A remote workload's MAC+IP (an EVPN type-2 route, as FRR writes it): extern_learn and noarp on
  # the bridge (neighbor-exchange-netlink.c ne_is_valid_static_arp).
  $ns ip neigh add dev br-10 172.16.1.50 lladdr f0:00:0f:16:10:50 nud noarp extern_learn
  $ns ip -6 neigh add dev br-10 172:16::50 lladdr f0:00:0f:16:10:50 nud noarp extern_learn
  i=0
  until [ "$($ovnctl evpn/vtep-arp-list | grep -c MAC)" = 2 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "capture-fixtures: ovn-controller learned no EVPN neighbour ($($ns ip neigh show dev br-10))" >&2; exit 1; }
    sleep 0.1
  done
  $NB --wait=hv sync
  rm -rf "$OUT"; mkdir -p "$OUT/traces"
  echo "capturing EVPN of pair $PAIR ($(version_dir "$PAIR")) into $OUT"
  # A remote MAC (unicast through the static FDB to the VTEP) and a broadcast (flooded to the VTEP);
  # routed to the EVPN neighbour (IPv4, IPv6) and to the static MAC binding. The router learns
  # 172.16.1.10 from the broadcast into a southbound MAC_Binding.
  printf '%s\t%s\n' \
    unicast "wl1	eth(src=f0:00:0f:16:01:10,dst=f0:00:0f:16:10:50),eth_type(0x0800),ipv4(src=172.16.1.10,dst=172.16.1.50,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)" \
    flood "wl1	eth(src=f0:00:0f:16:01:10,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=172.16.1.10,tip=172.16.1.60,op=1,sha=f0:00:0f:16:01:10,tha=00:00:00:00:00:00)" \
    routed-neighbour "wl3	eth(src=f0:00:0f:16:02:30,dst=00:00:00:00:ff:20),eth_type(0x0800),ipv4(src=172.16.2.30,dst=172.16.1.50,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)" \
    routed-neighbour6 "wl3	eth(src=f0:00:0f:16:02:30,dst=00:00:00:00:ff:20),eth_type(0x86dd),ipv6(src=172:17::30,dst=172:16::50,label=0,proto=58,tclass=0,hlimit=64,frag=no),icmpv6(type=128,code=0)" \
    routed-static "wl3	eth(src=f0:00:0f:16:02:30,dst=00:00:00:00:ff:20),eth_type(0x0800),ipv4(src=172.16.2.30,dst=172.16.1.80,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)" \
    > "$OUT/packets.txt"
  appctl dpctl/del-flows >/dev/null
  local name port flow key line before
  while IFS=$'\t' read -r name port flow; do
    before=$(appctl dpctl/dump-flows -m | grep '^ufid:' | cut -d, -f1 || true)
    appctl netdev-dummy/receive "$port" "$flow" >/dev/null
    wait_flows_settled
    # The packet's own flow: the one new since it came, from its port, before any recirculation.
    line=$(appctl dpctl/dump-flows -m | grep "^ufid:.*recirc_id(0),.*in_port($port)" | grep -vF "${before:-(none)}" | head -1 || true)
    [ -n "$line" ] || { echo "capture-fixtures: $name installed no datapath flow" >&2; exit 1; }
    echo "$line" >> "$OUT/dump-flows.txt"
    key=$(echo "$line" | own_key)
    appctl ofproto/trace "$key" > "$OUT/traces/$name.txt" 2>&1
  done < "$OUT/packets.txt"
  i=0
  until $SB find mac_binding ip=172.16.1.10 | grep -q f0:00:0f:16:01:10; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "capture-fixtures: the router learned no MAC_Binding for 172.16.1.10" >&2; exit 1; }
    sleep 0.1
  done
  $NB --wait=hv sync
  # Bridge-flow traces (a dummy vxlan port cannot receive): from the VTEP to a MAC the FDB puts behind
  # that same VTEP (OVS skips the output to the input port); an ARP reply from the EVPN neighbour
  # to the router (its lookup_arp finds the EVPN rule; the switch answers requests for the router
  # itself), and its neighbour advertisement (lookup_nd); the ARP reply from workload1, whose lookup
  # finds the MAC_Binding.
  local hairpin="in_port=ovn-evpn-4789,tun_id=0xa,tun_src=169.0.0.10,tun_dst=169.0.0.1,dl_src=f0:00:0f:16:10:50,dl_dst=f0:00:0f:16:10:51,icmp,nw_src=172.16.1.50,nw_dst=172.16.1.51,nw_ttl=64"
  local vtep_arp="in_port=ovn-evpn-4789,tun_id=0xa,tun_src=169.0.0.10,tun_dst=169.0.0.1,dl_src=f0:00:0f:16:10:50,dl_dst=00:00:00:00:ff:10,arp,arp_op=2,arp_spa=172.16.1.50,arp_tpa=172.16.1.1,arp_sha=f0:00:0f:16:10:50,arp_tha=00:00:00:00:ff:10"
  local vtep_na="in_port=ovn-evpn-4789,tun_id=0xa,tun_src=169.0.0.10,tun_dst=169.0.0.1,dl_src=f0:00:0f:16:10:50,dl_dst=00:00:00:00:ff:10,icmp6,ipv6_src=172:16::50,ipv6_dst=172:16::1,nw_ttl=255,icmpv6_type=136,icmpv6_code=0,nd_target=172:16::50,nd_tll=f0:00:0f:16:10:50"
  local wl_arp="in_port=wl1,dl_src=f0:00:0f:16:01:10,dl_dst=00:00:00:00:ff:10,arp,arp_op=2,arp_spa=172.16.1.10,arp_tpa=172.16.1.1,arp_sha=f0:00:0f:16:01:10,arp_tha=00:00:00:00:ff:10"
  for name in vtep-hairpin:"$hairpin" vtep-arp:"$vtep_arp" vtep-na:"$vtep_na" router-arp:"$wl_arp"; do
    echo "${name%%:*}	br-int ${name#*:}" >> "$OUT/packets.txt"
    appctl ofproto/trace br-int "${name#*:}" > "$OUT/traces/${name%%:*}.txt" 2>&1
  done
  # What the cross-check runs for the routed packets (the microflow the service builds from each
  # pass: test/unit/cross-checks/evpn-neighbour.spec.ts checks they agree): ovn-trace reads the
  # southbound's MAC_Binding only: neither the EVPN neighbour nor the Static_MAC_Binding is there.
  mkdir -p "$OUT/ovn-trace"
  local wl3='inport == "workload3" && eth.src == f0:00:0f:16:02:30 && eth.dst == 00:00:00:00:ff:20' icmp='ip.ttl == 64 && icmp4 && icmp4.type == 8 && icmp4.code == 0'
  for name in routed-neighbour:"$wl3 && ip4 && ip4.src == 172.16.2.30 && ip4.dst == 172.16.1.50 && $icmp" \
    routed-neighbour6:"$wl3 && ip6 && ip6.src == 172:17::30 && ip6.dst == 172:16::50 && ip.ttl == 64 && icmp6 && icmp6.type == 128 && icmp6.code == 0" \
    routed-static:"$wl3 && ip4 && ip4.src == 172.16.2.30 && ip4.dst == 172.16.1.80 && $icmp"; do
    local rc=0
    ovn-trace --db="unix:$SANDBOX/ovnsb_db.sock" --detailed -- ls-b "${name#*:}" > "$OUT/ovn-trace/${name%%:*}.txt" || rc=$?
    node -e 'console.log(JSON.stringify({args: process.argv.slice(1, -1), exitStatus: Number(process.argv.at(-1))}, null, 1))' -- --detailed -- ls-b "${name#*:}" "$rc" > "$OUT/ovn-trace/${name%%:*}.args.json"
  done
  # The dumps after the traffic, so the MAC_Binding it made is in them.
  ovsdb-client dump --format=json "unix:$SANDBOX/ovnnb_db.sock" OVN_Northbound > "$OUT/northbound.json"
  ovsdb-client dump --format=json "unix:$SANDBOX/ovnsb_db.sock" OVN_Southbound > "$OUT/southbound.json"
  ovsdb-client get-schema "unix:$SANDBOX/ovnnb_db.sock" OVN_Northbound > "$OUT/ovn-nb.ovsschema"
  ovsdb-client get-schema "unix:$SANDBOX/ovnsb_db.sock" OVN_Southbound > "$OUT/ovn-sb.ovsschema"
  local l
  for l in remote-vtep vtep-binding vtep-multicast-group vtep-fdb vtep-arp; do $ovnctl evpn/$l-list > "$OUT/${l#vtep-}-list.txt"; done
  ovs-ofctl dump-flows "unix:$SANDBOX/br-int.mgmt" > "$OUT/ofctl-dump-flows.txt"
  # The neighbour rules at their other priority (20 instead of 200: a local binding wins).
  $NB --wait=hv set logical_switch ls-evpn other_config:dynamic-routing-arp-prefer-local=true
  ovs-ofctl dump-flows "unix:$SANDBOX/br-int.mgmt" > "$OUT/ofctl-dump-flows-prefer-local.txt"
  echo "VERSIONS $(ovs-vswitchd --version | head -1); $(ovn-controller --version | head -1)" > "$OUT/versions.txt"
  echo "   $(grep -c . "$OUT/ofctl-dump-flows.txt") OpenFlow rules, $(ls "$OUT/traces" | wc -l) traces"
}
