/**
 * A small well-formedness check for the SVG the benchmark writes (no XML parser is a dependency):
 * one root element, every tag closed in order, attributes quoted, and no bare `<` or `&` in text.
 */
export function checkWellFormed(xml: string): { root: string; elements: Map<string, number> } {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/g;
  const stack: string[] = [];
  const elements = new Map<string, number>();
  let root: string | null = null;
  let last = 0;
  for (let match = tag.exec(body); match !== null; match = tag.exec(body)) {
    checkText(body.slice(last, match.index));
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = match;
    if (closing === '/') {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? 'nothing'}>`);
      continue;
    }
    if (stack.length === 0) {
      if (root !== null) throw new Error(`second root element <${name}>`);
      root = name!;
    }
    elements.set(name!, (elements.get(name!) ?? 0) + 1);
    if (selfClosing !== '/') stack.push(name!);
  }
  checkText(body.slice(last));
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (root === null) throw new Error('no root element');
  return { root, elements };
}

function checkText(text: string): void {
  if (text.includes('<') || text.includes('>')) throw new Error(`markup that is not a well-formed tag: ${JSON.stringify(text.slice(0, 80))}`);
  const ampersand = /&(?!(amp|lt|gt|quot|apos|#\d+);)/.exec(text);
  if (ampersand !== null) throw new Error(`bare & in ${JSON.stringify(text.slice(0, 80))}`);
}

/** How many times `needle` occurs in `text`. */
export function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
