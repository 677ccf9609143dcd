-- RESULTS-postgres.md "stop 26: hot-port plans": EXPLAIN (ANALYZE, BUFFERS) of a hot port's role list and
-- datapath flows, as the api sends them, custom and generic, before and after the role indexes (built and
-- rolled back in one transaction), and the api's named statement settling on its generic plan after five
-- other ports. On port-index.ts's cluster (BENCH_HOT_PORT=bench-hot):
--   flock /tmp/livetrace-bench.lock psql "$(scripts/pg-cluster start DIR | tail -1)" -X -f bench/api/hot-port-plans.sql
-- On a database already migrated past TracePortRoleIndexes the "before" plans use them: drop them first.
\pset pager off
SET jit = off;
\echo ==== list role=outport, bench-hot (no outport rows), BEFORE (custom, generic)
PREPARE lo(text, int) AS SELECT t.id, t.chassis, t.created_at, p.created_at AS walk_at FROM trace_port p CROSS JOIN trace t WHERE t.id = p.trace_id AND p.port_name = $1 AND p.role IN ('outport', 'output', 'tunnel_out') GROUP BY p.created_at, p.trace_id, t.id ORDER BY p.created_at DESC, p.trace_id DESC LIMIT $2;
PREPARE li(text, int) AS SELECT t.id, t.chassis, t.created_at, p.created_at AS walk_at FROM trace_port p CROSS JOIN trace t WHERE t.id = p.trace_id AND p.port_name = $1 AND p.role IN ('inport', 'tunnel_in') GROUP BY p.created_at, p.trace_id, t.id ORDER BY p.created_at DESC, p.trace_id DESC LIMIT $2;
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('bench-hot', 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('bench-hot', 51);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('bench-hot', 51);
\echo ==== outport on t466-lsp1 BEFORE generic
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('t466-lsp1', 51);
\echo ==== inport on t466-lsp1 BEFORE generic
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE li('t466-lsp1', 51);
\echo ==== inport on bench-hot BEFORE generic
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE li('bench-hot', 51);
DEALLOCATE lo; DEALLOCATE li;
BEGIN;
CREATE INDEX idx_trace_port_out ON trace_port (port_name, created_at, trace_id) WHERE role IN ('outport', 'output', 'tunnel_out');
CREATE INDEX idx_trace_port_in ON trace_port (port_name, created_at, trace_id) WHERE role IN ('inport', 'tunnel_in');
ANALYZE trace_port;
SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c WHERE relname LIKE 'idx_trace_port%' OR relname = 'trace_port_pkey';
PREPARE lo(text, int) AS SELECT t.id, t.chassis, t.created_at, p.created_at AS walk_at FROM trace_port p CROSS JOIN trace t WHERE t.id = p.trace_id AND p.port_name = $1 AND p.role IN ('outport', 'output', 'tunnel_out') GROUP BY p.created_at, p.trace_id, t.id ORDER BY p.created_at DESC, p.trace_id DESC LIMIT $2;
PREPARE li(text, int) AS SELECT t.id, t.chassis, t.created_at, p.created_at AS walk_at FROM trace_port p CROSS JOIN trace t WHERE t.id = p.trace_id AND p.port_name = $1 AND p.role IN ('inport', 'tunnel_in') GROUP BY p.created_at, p.trace_id, t.id ORDER BY p.created_at DESC, p.trace_id DESC LIMIT $2;
\echo ==== AFTER outport bench-hot custom, generic
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('bench-hot', 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('bench-hot', 51);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('bench-hot', 51);
\echo ==== AFTER outport t466-lsp1 custom / generic
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('t466-lsp1', 51);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE lo('t466-lsp1', 51);
\echo ==== AFTER inport t466-lsp1 generic, bench-hot custom/generic
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE li('t466-lsp1', 51);
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE li('bench-hot', 51);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE li('bench-hot', 51);
ROLLBACK;
\echo ==== DATAPATH FLOWS by port: custom / generic, bench-hot and t466-lsp1
SET plan_cache_mode = force_custom_plan;
PREPARE df(text, int) AS SELECT * FROM datapath_flow WHERE id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = $1) ORDER BY id DESC LIMIT $2;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE df('bench-hot', 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE df('t466-lsp1', 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE df('t241-lsp3', 51);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE df('bench-hot', 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE df('t466-lsp1', 51);
DEALLOCATE df;
\echo ==== named statement under auto, as a user meets it: 5 other ports, then bench-hot
SET plan_cache_mode = auto;
PREPARE df(text, int) AS SELECT * FROM datapath_flow WHERE id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = $1) ORDER BY id DESC LIMIT $2;
\o /dev/null
EXECUTE df('t241-lsp3', 51); EXECUTE df('t466-lsp1', 51); EXECUTE df('t100-lsp1', 51); EXECUTE df('t200-lsp2', 51); EXECUTE df('t300-lsp1', 51);
\o
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE df('bench-hot', 51);
SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'df';
