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
