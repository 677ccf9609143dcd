// The copies of each open vlog lifetime's flow on the userspace datapath's flow tables (one per PMD
// thread, and the non-PMD one's): which tables logged a flow_add of it, and what the copies counted,
// so that a check reading one copy (dpctl/get-flow answers the first found) tells another copy's
// smaller counters from counters that fell. Stored as datapath_flow.pmd_copies (pmd-copies-column.ts);
// when, by VlogLifetimes (vlog-lifetimes.ts), whose ids key them (a held-back lifetime's negative one
// moved once stored).
import { type Counts, type VlogCopies, vlogCopiesOf, vlogCopiesText } from './pmd-copies-column';

/** The userspace datapath's non-PMD flow table as a copy holder (VlogCopies.pmds). */
export const NON_PMD = 'main';

/**
 * The flow table a log line installed a copy in, as VlogLifetimes.installed takes it, or null when
 * the line cannot say. In lib/dpif-netdev.c every dp_netdev_pmd_thread has a flow_table of its own,
 * the non-PMD one (NON_PMD_CORE_ID) too, and dp_netdev_flow_add logs flow_add from the thread that
 * installs: a PMD (`pmd-c01/id:7`) into its own table; any other into the non-PMD one (the main
 * thread polling the ports no PMD polls in dpif_netdev_run, and whatever thread executes a packet:
 * dpif_netdev_execute, a packet-out that recirculates), logged with no thread (the main thread) or
 * its own name. dpctl/get-flow reads that table as well as the PMDs' (dpif_netdev_flow_get walks
 * poll_threads), so a flow installed by a PMD and by the main thread has two copies. Null: a
 * flow_mod or the kernel's put (they change or make the one copy there is), and syslog (no thread).
 */
export function copyHolder(type: string, record: { thread: string | null; origin: unknown }): string | null {
  if (type !== 'flow_add' || record.origin !== null) return null;
  return record.thread?.startsWith('pmd') ? record.thread : NON_PMD;
}

/**
 * Open lifetimes whose flow_add a PMD thread (or the non-PMD table) logged: the PMDs holding a copy,
 * and the copies' counters (counted). Stored with the lifetime once two PMDs hold one (pmd_copies),
 * and read back when a later run meets it (load): the log is followed from its end after a restart,
 * so the flow_add lines are not read again.
 */
export class VlogPmdCopies {
  private readonly copies = new Map<number, VlogCopies>();

  /** `thread` (copyHolder) logged lifetime `id`'s flow_add: true if its table is a copy holder not known before. */
  note(id: number, thread: string | null): boolean {
    if (!thread?.startsWith('pmd') && thread !== NON_PMD) return false;
    const c = this.copies.get(id);
    if (c?.pmds.has(thread)) return false;
    if (c) c.pmds.add(thread);
    else this.copies.set(id, { pmds: new Set([thread]), retired: { packets: 0, bytes: 0 }, last: null });
    return true;
  }

  /** What note(id, thread) did, undone (a write job that rolled back): the thread's table not known. */
  unnote(id: number, thread: string): void {
    const c = this.copies.get(id);
    c?.pmds.delete(thread);
    if (c && !c.pmds.size) this.copies.delete(id);
  }

  /** Lifetime `id`'s pmd_copies column (null: one copy, nothing retired). */
  text(id: number): string | null {
    return vlogCopiesText(this.copies.get(id));
  }

  /** A held-back lifetime's copies go on under its stored id. */
  move(from: number, to: number): void {
    const c = this.copies.get(from);
    this.copies.delete(from);
    if (c) this.copies.set(to, c);
  }

  delete(id: number): void {
    this.copies.delete(id);
  }

  /** Deleted, as they were: for restore (a write job that rolled back). */
  take(id: number): VlogCopies | undefined {
    const c = this.copies.get(id);
    this.copies.delete(id);
    return c;
  }

  /** Lifetime `id`'s copies as take() gave them, unless known anew since. */
  restore(id: number, c: VlogCopies): void {
    if (!this.copies.has(id)) this.copies.set(id, c);
  }

  /** A stored lifetime's copies as a previous run stored them, unless this run knows them already. */
  load(open: { id: number; pmdCopies: string | null; packets: number; bytes: number }): void {
    if (this.copies.has(open.id)) return;
    const c = vlogCopiesOf(open.pmdCopies, open);
    if (c) this.copies.set(open.id, c);
  }

  /**
   * A check's counters (`f`) as its lifetime's (`total`: its newest counters), or null when they fell
   * (its flow deleted unlogged and installed again). On the userspace datapath every PMD that receives
   * the flow's packets holds a copy (same UFID, own counters, each deleted on its own), and
   * `dpctl/get-flow` answers one: the
   * first PMD found holding one (lib/dpctl.c asks with PMD_ID_NULL; dpctl has no pmd= for it). So for
   * a lifetime that two PMDs or more logged installed (the non-PMD table counts as one: copyHolder),
   * a reading below the copy's last is another copy's, the copy read before having left: the
   * lifetime goes on, the copy that left still counted.
   */
  counted(id: number, total: Counts, f: Counts): Counts | null {
    const c = this.copies.get(id);
    // No copy read yet in this run: the copy read before is the lifetime's counters (`total`: the
    // newest, a check's held back or the row's) less what retired, bytes as packets (retiring its
    // packets alone made the lifetime's bytes fall).
    const before = c?.last ?? { packets: total.packets - (c?.retired.packets ?? 0), bytes: total.bytes - (c?.retired.bytes ?? 0) };
    if (f.packets < before.packets) {
      if (!c || c.pmds.size < 2) return null;
      c.retired = { packets: c.retired.packets + before.packets, bytes: c.retired.bytes + before.bytes };
    }
    if (c) c.last = { packets: f.packets, bytes: f.bytes };
    return { packets: (c?.retired.packets ?? 0) + f.packets, bytes: (c?.retired.bytes ?? 0) + f.bytes };
  }
}
