/**
 * A minimal XML writer for the GPX and TCX exporters: elements, attributes, text, comments,
 * namespace declarations and pretty printing. It replaces xmlbuilder2 (≈ 314 KB of bundle per
 * Lambda, which pushed three handlers over 1 MB) with the 1 % of it we used; output is checked
 * by a real XML parser against what the GPX 1.1 / TCX v2 schemas require (test/unit/export-formats).
 * Escaping: & < > in text; & < > " in attributes; characters XML 1.0 forbids are dropped.
 */

const INVALID = /[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

const NEEDS_TEXT = /[&<>\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;

export function escText(s: string): string {
  // Fast path: the numbers and timestamps that make up most of a track need no escaping.
  if (!NEEDS_TEXT.test(s)) return s;
  return s.replace(INVALID, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escAttr(s: string): string {
  return escText(s)
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

type Attrs = Record<string, string>;

export class XmlElement {
  readonly name: string;
  readonly attrs: Attrs;
  readonly children: (XmlElement | { text: string } | { comment: string })[] = [];
  /** Namespace bindings declared on this element; lookups walk up to the root. */
  readonly #ns: Map<string, string> | undefined;
  readonly #parent: XmlElement | undefined;
  readonly #doc: XmlDocument | undefined;

  constructor(name: string, attrs: Attrs, parent: XmlElement | undefined, doc?: XmlDocument) {
    this.name = name;
    this.attrs = attrs;
    this.#parent = parent;
    this.#doc = doc;
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) {
        this.#ns ??= new Map();
        this.#ns.set(k === 'xmlns' ? '' : k.slice(6), v);
      }
    }
  }

  #lookup(prefix: string): string | undefined {
    for (let e: XmlElement | undefined = this; e; e = e.#parent) {
      const v = e.#ns?.get(prefix);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** `ele(name, attrs?)` or `ele(namespace, qualifiedName, attrs?)`. */
  ele(a: string, b?: string | Attrs, c?: Attrs): XmlElement {
    let ns: string | undefined;
    let name: string;
    let attrs: Attrs;
    if (typeof b === 'string') {
      ns = a;
      name = b;
      attrs = { ...(c ?? {}) };
    } else {
      name = a;
      attrs = { ...(b ?? {}) };
    }
    if (ns !== undefined) {
      const colon = name.indexOf(':');
      const prefix = colon < 0 ? '' : name.slice(0, colon);
      const declared = prefix === '' ? attrs.xmlns : attrs[`xmlns:${prefix}`];
      if (declared === undefined && this.#lookup(prefix) !== ns) {
        attrs = prefix === '' ? { xmlns: ns, ...attrs } : { [`xmlns:${prefix}`]: ns, ...attrs };
      }
    }
    const el = new XmlElement(name, attrs, this, this.#doc);
    this.children.push(el);
    return el;
  }

  /** Serialises the whole document this element belongs to (as xmlbuilder2 does). */
  end(o: { prettyPrint?: boolean } = {}): string {
    if (!this.#doc) throw new Error('element without a document');
    return this.#doc.end(o);
  }

  txt(text: string): this {
    this.children.push({ text });
    return this;
  }

  write(out: string[], indent: string | undefined, depth: number): void {
    const pad = indent === undefined ? '' : indent.repeat(depth);
    const nl = indent === undefined ? '' : '\n';
    const attrs = Object.entries(this.attrs)
      .map(([k, v]) => ` ${k}="${escAttr(v)}"`)
      .join('');
    if (this.children.length === 0) {
      out.push(`${pad}<${this.name}${attrs}/>${nl}`);
      return;
    }
    const onlyText = this.children.every((c) => 'text' in c);
    if (onlyText) {
      const text = this.children.map((c) => escText((c as { text: string }).text)).join('');
      out.push(`${pad}<${this.name}${attrs}>${text}</${this.name}>${nl}`);
      return;
    }
    out.push(`${pad}<${this.name}${attrs}>${nl}`);
    for (const c of this.children) {
      if (c instanceof XmlElement) c.write(out, indent, depth + 1);
      else if ('text' in c) out.push(`${pad}${indent ?? ''}${escText(c.text)}${nl}`);
      else out.push(`${pad}${indent ?? ''}<!--${c.comment.replace(/--/g, '- -')}-->${nl}`);
    }
    out.push(`${pad}</${this.name}>${nl}`);
  }
}

export class XmlDocument {
  readonly #decl: { version: string; encoding: string };
  readonly #prolog: string[] = [];
  #root: XmlElement | undefined;

  constructor(decl: { version: string; encoding: string }) {
    this.#decl = decl;
  }

  com(text: string): this {
    this.#prolog.push(`<!--${text.replace(/--/g, '- -')}-->`);
    return this;
  }

  ele(a: string, b?: string | Attrs, c?: Attrs): XmlElement {
    if (this.#root) throw new Error('an XML document has one root element');
    const holder = new XmlElement('#document', {}, undefined, this);
    this.#root = holder.ele(a, b, c);
    return this.#root;
  }

  end(o: { prettyPrint?: boolean } = {}): string {
    const indent = o.prettyPrint ? '  ' : undefined;
    const nl = o.prettyPrint ? '\n' : '';
    const out = [`<?xml version="${this.#decl.version}" encoding="${this.#decl.encoding}"?>${nl}`];
    for (const p of this.#prolog) out.push(`${p}${nl}`);
    this.#root?.write(out, indent, 0);
    return out.join('').replace(/\n$/, '');
  }
}

export function create(decl: { version: string; encoding: string }): XmlDocument {
  return new XmlDocument(decl);
}
