import { DOMParser } from '@xmldom/xmldom';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { create } from '../../functions/core/export/xml.ts';

describe('XML writer', () => {
  it('declares namespaces once, escapes text and attributes, writes comments and empty elements', () => {
    const doc = create({ version: '1.0', encoding: 'UTF-8' });
    doc.com(' a -- b ');
    const root = doc.ele('urn:a', 'root', { 'xmlns:x': 'urn:x', v: 'say "hi" & <bye>' });
    root.ele('urn:x', 'x:child').txt('1 < 2 & 3 > 2');
    root.ele('urn:a', 'same').txt('default ns inherited');
    root.ele('urn:y', 'y:other');
    root.ele('empty');
    const xml = root.end({ prettyPrint: true });
    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<!-- a - - b -->\n<root xmlns="urn:a"/,
    );
    expect(xml).toContain('<x:child>1 &lt; 2 &amp; 3 &gt; 2</x:child>');
    expect(xml).toContain('<same>default ns inherited</same>');
    expect(xml).toContain('<y:other xmlns:y="urn:y"/>');
    const d = new DOMParser().parseFromString(xml, 'text/xml');
    const r = d.documentElement!;
    expect(r.getAttribute('v')).toBe('say "hi" & <bye>');
    expect(d.getElementsByTagNameNS('urn:x', 'child')[0]?.textContent).toBe('1 < 2 & 3 > 2');
    expect(d.getElementsByTagNameNS('urn:a', 'same')).toHaveLength(1);
  });

  it('property: any text survives a parse round trip (minus characters XML 1.0 forbids)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.string({ unit: 'binary', maxLength: 30 }),
        (text, attr) => {
          const doc = create({ version: '1.0', encoding: 'UTF-8' });
          const root = doc.ele('r', { a: attr });
          root.ele('t').txt(text);
          const d = new DOMParser().parseFromString(doc.end(), 'text/xml');
          const legal = (s: string) =>
            s.replace(/[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '');
          expect(d.documentElement?.getAttribute('a')).toBe(legal(attr));
          expect(d.getElementsByTagName('t')[0]?.textContent ?? '').toBe(
            legal(text).replace(/\r\n?/g, '\n'),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
