// Draws a laid-out path picture (graph.ts) as SVG: clusters for passes and datapaths, stage boxes
// a keyboard can reach (Tab, Enter), the dropping flow and its ACL in red, the output port in green.
// Names in labels are isolated (graph.ts through safe-text.ts isolate, drawn by html.ts bidiSvg).
import { bidiSvg, html } from './html';
import type { GNode, Picture } from './graph';

const pathD = (pts: Array<{ x: number; y: number }>) => pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');

export function PictureView({ pic, selected, onSelect, fit, lifetimes }: { pic: Picture; selected: string | null; onSelect: (n: GNode) => void; fit: boolean; lifetimes: Map<number, string> }) {
  const clusters = pic.nodes.filter((n) => n.role === 'pass' || n.role === 'datapath').sort((a, b) => (a.role === 'pass' ? -1 : 1) - (b.role === 'pass' ? -1 : 1));
  const boxes = pic.nodes.filter((n) => n.role !== 'pass' && n.role !== 'datapath');
  const key = (n: GNode) => (e: KeyboardEvent) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(n);
    }
  };
  return html`<svg class="picture" role="group" aria-label=${`path picture: ${pic.nodes.filter((n) => n.role === 'pass').length} passes, ${pic.stages} stages`}
      width=${fit ? '100%' : pic.width} height=${fit ? undefined : pic.height} viewBox=${`0 0 ${pic.width} ${pic.height}`}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead" /></marker></defs>
    ${clusters.map(
      (n) => html`<g class=${`cluster ${n.role}`} data-id=${n.id}>
        <rect x=${n.x} y=${n.y} width=${n.width} height=${n.height} rx="6" />
        ${n.role === 'datapath' ? html`<text x=${n.x + 4} y=${n.y - 4}>${bidiSvg(n.label)}</text>` : null}
      </g>`,
    )}
    ${pic.edges.map((e) => {
      // A recirculation's label sits over its last leg, between the passes (graph.ts leaves room).
      const at = e.points[e.points.length - 2];
      return html`<g class=${`edge ${e.kind}`}><path d=${pathD(e.points)} marker-end="url(#arrow)" />${e.label ? html`<text x=${at.x + 4} y=${at.y - 6}>${bidiSvg(e.label)}</text>` : null}</g>`;
    })}
    ${boxes.map(
      (n) => html`<g class=${`node ${n.role} ${n.mark ?? ''} ${selected === n.id ? 'selected' : ''}`} data-id=${n.id} tabindex="0" role="button"
          aria-label=${`${n.role} ${n.label}${n.sub ? `, ${n.sub}` : ''}${n.mark ? `, ${n.mark}` : ''}`} onClick=${() => onSelect(n)} onKeyDown=${key(n)}>
        <rect x=${n.x} y=${n.y} width=${n.width} height=${n.height} rx="4" />
        <text x=${n.x + 8} y=${n.y + 15}>${bidiSvg(n.label)}</text>
        ${n.sub ? html`<text class="sub" x=${n.x + 8} y=${n.y + 29}>${bidiSvg(n.sub)}</text>` : null}
        ${n.sub2 ? html`<text class="sub" x=${n.x + 8} y=${n.y + 43}>${n.sub2}${lifetimes.has(n.pass.id) ? ` · ${lifetimes.get(n.pass.id)}` : ''}</text>` : null}
      </g>`,
    )}
  </svg>`;
}
