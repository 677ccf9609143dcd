// Reads ovn-detrace's output back into steps: every OpenFlow step line with a cookie and the
// `  * ` / `   * ` lines ovn-detrace printed under it. The same reader is applied to our rendering,
// so the two are compared step by step.
export interface DetraceStep {
  readonly line: string;
  readonly cookie: string;
  readonly annotations: string[];
}

const STEP = /^\s*\d+\. .*cookie 0x([0-9a-f]+)/;
const TABLE = /^\s*\d+\./;

export function readDetrace(text: string): DetraceStep[] {
  const out: DetraceStep[] = [];
  let cur: DetraceStep | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('  * ') || line.startsWith('   * ')) {
      if (cur) cur.annotations.push(line);
      continue;
    }
    if (TABLE.test(line) || line.trim() === '') cur = null;
    const m = STEP.exec(line);
    if (m) {
      cur = { line: line.trim(), cookie: '0x' + m[1].padStart(8, '0'), annotations: [] };
      out.push(cur);
    }
  }
  return out;
}
