// The dependency rule of src/ (npm run depcheck, part of npm test). Folders are layers; a folder
// imports only its own layer's other folders (without a cycle) and the layers below it:
//
//   top       src/main.ts, src/bootstrap.ts, src/app.module.ts
//   features  Nest feature modules (routes, services, stores); one another only through the public
//             entry (below), in the order of their module imports, never in a cycle
//   shared    config, common, metrics, openapi, storage, replicas: Nest plumbing every feature uses
//   model     ovn (the OVN model over the replicas), correlation (pass + model -> annotated trace)
//   low       ovsdb, unixctl, ovs: protocols and pure parsers, no Nest
//   client    cli: the terminal client, a program of its own that reads the REST API like any
//             other client (the API's JSON types aside, it imports only the low layer)
//
// A feature's public entry: its index.ts (the folder's header; it re-exports what others may use),
// and the Nest pieces other modules wire by class: *.module.ts, the providers a module exports
// (*.service.ts, *-store.ts, *.health.ts) and *.entity.ts. Everything else in the folder is its own.
const LOW = ['ovsdb', 'unixctl', 'ovs'];
const MODEL = ['ovn', 'correlation'];
const SHARED = ['config', 'common', 'metrics', 'openapi', 'storage', 'replicas'];
const FEATURES = [
  'traces',
  'upcalls',
  'datapath-flows',
  'logical-flows',
  'read-workers',
  'trace-sessions',
  'paths',
  'collectors',
  'cross-checks',
  'ingest',
  'health',
  'retention',
  'ui',
];
const CLIENT = ['cli'];
const dirs = (names) => `^src/(${names.join('|')})/`;
const ALL = [...LOW, ...MODEL, ...SHARED, ...FEATURES, ...CLIENT];
const PUBLIC = ['index\\.ts', '[^/]+\\.module\\.ts', '[^/]+\\.service\\.ts', '[^/]+-store\\.ts', '[^/]+\\.health\\.ts', '[^/]+\\.entity\\.ts'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      comment: 'src/ folders import each other without a cycle: break it where it starts (move the type or constant to the folder that owns it, or invert the call with an event or an injected interface).',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+' },
      to: { circular: true },
    },
    {
      name: 'folder-in-a-layer',
      comment: 'Every src/ folder is in one of the layers above (LOW, MODEL, SHARED, FEATURES): add a new one there, so the rules apply to it.',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: dirs(ALL) },
      to: {},
    },
    {
      name: 'low-layer-imports-only-low',
      comment: 'ovsdb, unixctl and ovs are protocols and pure parsers: they import nothing above them.',
      severity: 'error',
      from: { path: dirs(LOW) },
      to: { path: '^src/', pathNot: dirs(LOW) },
    },
    {
      name: 'model-imports-only-model-and-low',
      comment: 'The OVN model and the correlation are pure: no Nest plumbing, no feature.',
      severity: 'error',
      from: { path: dirs(MODEL) },
      to: { path: '^src/', pathNot: dirs([...LOW, ...MODEL]) },
    },
    {
      name: 'shared-imports-no-feature',
      comment: 'The shared plumbing (config, common, metrics, openapi, storage, replicas) serves every feature and knows none.',
      severity: 'error',
      from: { path: dirs(SHARED) },
      to: { path: '^src/', pathNot: dirs([...LOW, ...MODEL, ...SHARED]) },
    },
    {
      name: 'client-over-http',
      comment: 'The terminal client talks to the service over HTTP: it may use the JSON types of the API, and otherwise imports only the low layer.',
      severity: 'error',
      from: { path: dirs(CLIENT) },
      to: { path: '^src/', pathNot: dirs([...LOW, ...CLIENT]), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'nothing-imports-client',
      comment: 'The service never imports the terminal client.',
      severity: 'error',
      from: { path: '^src/', pathNot: dirs(CLIENT) },
      to: { path: dirs(CLIENT) },
    },
    {
      name: 'no-pure-layer-nest',
      comment: 'No Nest below the shared layer: the low and model folders run in workers, benches and scripts as plain functions.',
      severity: 'error',
      from: { path: dirs([...LOW, ...MODEL]) },
      to: { path: '^node_modules/@nestjs/' },
    },
    {
      name: 'feature-through-public-entry',
      comment: "A feature reaches another only through its index.ts or its Nest pieces (*.module.ts, *.service.ts, *-store.ts, *.health.ts, *.entity.ts); anything else is that folder's own.",
      severity: 'error',
      from: { path: dirs(FEATURES) },
      to: { path: dirs(FEATURES), pathNot: ['^src/$1/', `^src/[^/]+/(${PUBLIC.join('|')})$`] },
    },
    {
      name: 'no-own-index',
      comment: "Files import their folder's siblings directly; index.ts is the entry for other folders only (a file importing its own index makes a cycle).",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/$1/index\\.ts$' },
    },
    {
      name: 'nothing-imports-top',
      comment: 'main.ts, bootstrap.ts and app.module.ts wire everything; nothing imports them back.',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'src-not-from-tests',
      comment: 'The service never imports tests, benches or scripts.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-file-cycle',
      comment: 'Files import each other without a cycle, inside a folder too (ovs/odp-* had one through their shared types).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    // Type-only imports count: a cycle through types is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
