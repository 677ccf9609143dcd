// upcalls/ — packets the datapath sent up to ovs-vswitchd (table upcall), tied to the datapath
// flow each installed, and GET /upcalls.
//
// May import: traces (an upcall's traces), shared (storage, common, replicas), low (ovs).
//
// Entry points: UpcallsModule (UpcallsService, UpcallStore), and UpcallLinker, which pairs logged
// upcalls with the flows they installed by key under mask (used by the vlog source in collectors).
export * from './upcall-linker';
