/**
 * Comparing a trace's `Datapath actions` with the actions of the installed datapath flow.
 *
 * ofproto/trace prints datapath port numbers (`3`), `dpctl/dump-flows -m` port names (`vif2`), and
 * recirculation ids differ between the translation that installed a flow and a later trace of the
 * same key (a new frozen state gets a new id). Both are normalised away before comparing.
 */
import { splitTopLevel } from './odp-scan';

/** `vif1 1/4: (dummy)` lines of `dpif/show`: port name → datapath port number. */
export function dpifShowPortNumbers(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s+(\S+) \d+\/(\d+):/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** Datapath actions with port names turned into numbers and every `recirc(0x…)` id blanked. */
export function normaliseDatapathActions(actions: string, portNumbers: ReadonlyMap<string, number> = new Map()): string {
  let out = actions.trim().replace(/recirc\(0x[0-9a-f]+\)/g, 'recirc(*)');
  // userspace(controller(…recirc_id=N…)) also names a recirculation id; and ofproto/trace, which
  // has no side effects, always composes controller actions with dont_send=1.
  out = out.replace(/recirc_id=\d+/g, 'recirc_id=*').replace(/dont_send=[01]/g, 'dont_send=*');
  if (portNumbers.size > 0) {
    out = out.replace(/(^|[(,])([A-Za-z][A-Za-z0-9_.-]*)(?=$|[),])/g, (all, lead: string, name: string) => {
      const number = portNumbers.get(name);
      return number === undefined ? all : `${lead}${number}`;
    });
  }
  return out;
}

export type ActionsComparison =
  | { readonly same: true; readonly how: 'equal' | 'slow_path' | 'paused_controller' }
  | { readonly same: false; readonly reason: string };

/**
 * Compares a traced pass with the installed flow. A pass the trace says is handled by the slow path
 * is installed as `userspace(pid=…,slow_path(…))` instead of its actions: that is agreement too.
 */
export function compareTracedActions(
  pass: { readonly datapathActions: string; readonly slowPath: readonly string[]; readonly steps?: readonly PassStep[] },
  installed: string,
  portNumbers: ReadonlyMap<string, number> = new Map(),
): ActionsComparison {
  if (sameDatapathActions(pass.datapathActions, installed, portNumbers)) return { same: true, how: 'equal' };
  if (/^userspace\(pid=\d+,slow_path\(.*\)\)$/.test(installed.trim())) {
    return pass.slowPath.length > 0
      ? { same: true, how: 'slow_path' }
      : { same: false, reason: 'installed as slow path but the trace gives no slow-path reason' };
  }
  if (agreesAtPausedController(pass, installed, portNumbers)) return { same: true, how: 'paused_controller' };
  return {
    same: false,
    reason: `traced "${normaliseDatapathActions(pass.datapathActions, portNumbers)}" vs installed "${normaliseDatapathActions(installed, portNumbers)}"`,
  };
}

/** True when both sides are the same actions once ports and recirculation ids are normalised. */
export function sameDatapathActions(traced: string, installed: string, portNumbers: ReadonlyMap<string, number> = new Map()): boolean {
  return normaliseDatapathActions(traced, portNumbers) === normaliseDatapathActions(installed, portNumbers);
}

/** What the paused-controller comparison needs of a trace step (TraceStep has it). */
interface PassStep {
  readonly items: ReadonlyArray<{ readonly kind: string; readonly text: string }>;
}

/** Top-level comma split of datapath actions, `drop` and blanks left out. */
export function splitDatapathActions(text: string): string[] {
  return splitTopLevel(text).map((a) => a.trim()).filter((a) => a && a !== 'drop');
}

const PAUSED_USERSPACE = /^userspace\(pid=\d+,controller\([^()]*\bcontinuation=1\b[^()]*\)\)$/;

/**
 * A translation that meets `controller(…,pause)` freezes: the installed flow ends with
 * `userspace(…controller(…continuation=1…))`, and ovs-vswitchd later resumes the packet with
 * ovn-controller's answer. ofproto/trace (OVS >= 3.2; it has no side effects) prints no userspace()
 * for it and instead restores the packet's headers with set() actions. The trace agrees with the
 * installed flow when a step of the trace has a paused controller action, the installed actions
 * before the userspace() are the trace's first actions, and the trace's remaining actions are only
 * those set() restorations.
 */
function agreesAtPausedController(
  pass: { readonly datapathActions: string; readonly steps?: readonly PassStep[] },
  installed: string,
  portNumbers: ReadonlyMap<string, number>,
): boolean {
  const inst = splitDatapathActions(normaliseDatapathActions(installed, portNumbers));
  const last = inst[inst.length - 1];
  if (!last || !PAUSED_USERSPACE.test(last)) return false;
  const paused = pass.steps?.some((s) => s.items.some((i) => i.kind === 'action' && /^controller\(.*\bpause\b.*\)$/.test(i.text.trim())));
  if (!paused) return false;
  const traced = splitDatapathActions(normaliseDatapathActions(pass.datapathActions, portNumbers));
  const head = inst.slice(0, -1);
  if (traced.length < head.length || head.some((a, i) => traced[i] !== a)) return false;
  return traced.slice(head.length).every((a) => a.startsWith('set(') || a.startsWith('set_masked('));
}
