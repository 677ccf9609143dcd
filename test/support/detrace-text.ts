// Reads ovn-detrace's output back into steps: every OpenFlow step line with a cookie and the
// `  * ` / `   * ` lines ovn-detrace printed under it. The same reader is applied to our rendering,
// so the two are compared step by step.
//
// ovn-detrace indents a step's lines by the step's nesting level (leading spaces // 4, times 4):
// OVS 4.0 prints nested steps (e.g. a resubmit after `set_field:ANY->in_port`) at 4 spaces, and
// ovn-detrace 26.03 prints their records at `      * `. Annotations are returned without that
// level's indentation, so a nested step compares like a top-level one.
export interface DetraceStep {
  readonly line: string;
  readonly cookie: string;
  readonly annotations: string[];
}

const STEP = /^\s*\d+\. .*cookie 0x([0-9a-f]+)/;
const TABLE = /^\s*\d+\./;
const ANNOTATION = /^( +)\* /;

export function readDetrace(text: string): DetraceStep[] {
  const out: DetraceStep[] = [];
  let cur: (DetraceStep & { indent: number }) | null = null;
  for (const line of text.split('\n')) {
    const a = ANNOTATION.exec(line);
    if (a) {
      const extra = a[1].length - (cur?.indent ?? 0);
      if (cur && (extra === 2 || extra === 3)) cur.annotations.push(line.slice(cur.indent));
      continue;
    }
    if (TABLE.test(line) || line.trim() === '') cur = null;
    const m = STEP.exec(line);
    if (m) {
      const level = Math.floor((line.length - line.trimStart().length) / 4);
      cur = { line: line.trim(), cookie: '0x' + m[1].padStart(8, '0'), annotations: [], indent: level * 4 };
      out.push(cur);
    }
  }
  return out.map(({ line, cookie, annotations }) => ({ line, cookie, annotations }));
}

/** Python's `str.strip('"')`. */
const pyStrip = (s: string): string => s.replace(/^"+|"+$/g, '');

/**
 * A served OVN line as ovn-detrace prints it: ovn-detrace passes a logical flow's match and actions
 * and an ACL's match through `.strip('"')`, which eats a quote that belongs to them (a match ending
 * in `== "sw0-lr0"` is printed `== "sw0-lr0`). The served text keeps them whole; comparisons map
 * our line through this before comparing, and count where it changed something.
 */
export function asDetracePrints(line: string): string {
  const lf = /^(\s*\* Logical flow: .*?, match=\()(.*)(\), actions=\()(.*)\)$/.exec(line);
  if (lf) return `${lf[1]}${pyStrip(lf[2])}${lf[3]}${pyStrip(lf[4])})`;
  const acl = /^(\s*\* ACL: .*?, priority=\d+, match=\()(.*)(\), [a-z-]+(?: \(log\))?)$/.exec(line);
  if (acl) return `${acl[1]}${pyStrip(acl[2])}${acl[3]}`;
  return line;
}
