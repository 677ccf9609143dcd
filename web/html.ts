import { h } from 'preact';
import htm from 'htm';
import { isolatedParts } from './safe-text';

export const html = htm.bind(h);

/** Same-origin link that the router handles without a reload. */
export function go(href: string, e?: Event): void {
  if (e) {
    const m = e as MouseEvent;
    if (m.ctrlKey || m.metaKey || m.shiftKey || m.button === 1) return;
    e.preventDefault();
  }
  history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
}

export const link = (href: string, text: unknown, cls = '') => html`<a href=${href} class=${cls} onClick=${(e: Event) => go(href, e)}>${text}</a>`;

/**
 * A line whose names were isolated (safe-text.ts isolate: describe.ts verdictText, verdictNotes)
 * with each name in a <bdi>: isolated the same, and the page's text is the words alone.
 */
export const bidiLine = (line: string) => isolatedParts(line).map((s, i) => (i % 2 ? html`<bdi>${s}</bdi>` : s));

/**
 * The same for a label of the path picture (SVG has no <bdi>): each name in a <tspan> isolated by
 * CSS (style.css `.picture tspan.name`), so an override in it cannot turn the label around.
 */
export const bidiSvg = (line: string) => isolatedParts(line).map((s, i) => (i % 2 ? html`<tspan class="name">${s}</tspan>` : s));
