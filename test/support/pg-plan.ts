// What a statement's plan did on PostgreSQL, from EXPLAIN (ANALYZE, FORMAT JSON): rows a node
// gave, times its loops, summed over the plan, for the specs that bound what a query reads
// (hot-port-plans, port-page-traces-once). No timings: the rows and loops are the same each run.
import type { Pool } from 'pg';
import { numberPlaceholders } from '../../src/storage/sql';

export interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Parent Relationship'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** The statement run under EXPLAIN ANALYZE (`?` placeholders, as the stores write them): its plan's root. */
export async function analyzedPlan(pool: Pool, sql: string, params: unknown[]): Promise<PlanNode> {
  const { rows } = await pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${numberPlaceholders(sql)}`, params);
  return rows[0]['QUERY PLAN'][0].Plan;
}

/**
 * The sum of `own` over the plan: a node it gives a number for counts that and is not looked into;
 * the others are looked into. A SubPlan (a correlated subquery of the select list) is left out.
 */
export function planSum(n: PlanNode, own: (n: PlanNode) => number | undefined): number {
  if (n['Parent Relationship'] === 'SubPlan') return 0;
  return own(n) ?? (n.Plans ?? []).reduce((a, p) => a + planSum(p, own), 0);
}

/** Whether the node or one below it reads this table. */
export const readsTable = (n: PlanNode, table: string): boolean => n['Relation Name'] === table || (n.Plans ?? []).some((p) => readsTable(p, table));
