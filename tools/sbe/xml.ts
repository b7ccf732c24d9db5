/**
 * A small XML reader for SBE schemas: elements, attributes, text, comments, the XML declaration
 * and CDATA; the five predefined entities and numeric character references. Enough for the
 * schemas this repository generates codecs from; anything else is an error naming its line.
 */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
  readonly line: number;
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string, line: number): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_m, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    const value = ENTITIES[name];
    if (value === undefined) throw new Error(`line ${line}: unknown entity &${name};`);
    return value;
  });
}

export function parseXml(source: string): XmlElement {
  let i = 0;
  let line = 1;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const advance = (to: number): void => {
    for (let k = i; k < to; k++) if (source.charCodeAt(k) === 10) line++;
    i = to;
  };
  const expectEnd = (marker: string, what: string): number => {
    const end = source.indexOf(marker, i);
    if (end < 0) throw new Error(`line ${line}: unterminated ${what}`);
    return end;
  };
  while (i < source.length) {
    if (source.startsWith('<!--', i)) {
      advance(expectEnd('-->', 'comment') + 3);
    } else if (source.startsWith('<?', i)) {
      advance(expectEnd('?>', 'processing instruction') + 2);
    } else if (source.startsWith('<![CDATA[', i)) {
      const end = expectEnd(']]>', 'CDATA');
      if (stack.length > 0) stack[stack.length - 1]!.text += source.slice(i + 9, end);
      advance(end + 3);
    } else if (source.startsWith('<!', i)) {
      advance(expectEnd('>', 'declaration') + 1);
    } else if (source.startsWith('</', i)) {
      const end = expectEnd('>', 'end tag');
      const name = source.slice(i + 2, end).trim();
      const open = stack.pop();
      if (open === undefined || open.name !== name) throw new Error(`line ${line}: </${name}> does not close <${open?.name ?? 'nothing'}>`);
      advance(end + 1);
    } else if (source[i] === '<') {
      const startLine = line;
      const m = /^<([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(source.slice(i));
      if (m === null) throw new Error(`line ${line}: malformed tag`);
      const attributes: Record<string, string> = {};
      for (const a of m[2]!.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attributes[a[1]!] = decodeEntities(a[2] ?? a[3] ?? '', startLine);
      const element: XmlElement = { name: m[1]!, attributes, children: [], text: '', line: startLine };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
      else if (root === null) root = element;
      else throw new Error(`line ${line}: a second root element <${element.name}>`);
      if (m[3] !== '/') stack.push(element);
      advance(i + m[0].length);
    } else {
      const next = source.indexOf('<', i);
      const end = next < 0 ? source.length : next;
      if (stack.length > 0) stack[stack.length - 1]!.text += decodeEntities(source.slice(i, end), line);
      else if (source.slice(i, end).trim() !== '') throw new Error(`line ${line}: text outside the root element`);
      advance(end);
    }
  }
  if (stack.length > 0) throw new Error(`line ${line}: <${stack[stack.length - 1]!.name}> is not closed`);
  if (root === null) throw new Error('no root element');
  return root;
}
