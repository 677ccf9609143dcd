// The ovs-appctl protocol (unixctl), as ovs-appctl speaks it to ovs-vswitchd and ovn-controller:
//   discovery  a daemon's control socket from its name, rundir and pidfile (ovs-appctl -t TARGET)
//   client     JSON-RPC on that socket, one request in flight, timeouts; parseListCommands (in
//              discovery) reads list-commands for feature detection
//
// May import: ovsdb (its JSON-RPC connection and remotes); node built-ins; no Nest.
// Entry points: resolveUnixctlSocket, UnixctlClient (collectors/vswitchd.service.ts uses them).
export * from './discovery';
export * from './client';
