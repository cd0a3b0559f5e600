/** The well-formedness check every chart test shares: an <svg> document, balanced tags, escaped text, no NaN/Infinity. */
import * as assert from 'uvu/assert';

export function assertWellFormedSvg(svg: string): void {
  assert.ok(svg.startsWith('<svg'), 'an <svg> document');
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    if (selfClose) continue;
    if (close) assert.is(stack.pop(), name, `closing </${name}>`);
    else stack.push(name!);
  }
  assert.equal(stack, [], 'unclosed tags');
  assert.not.ok(/[<>]/.test(svg.replace(/<[^>]*>/g, '')), 'stray angle bracket in text');
  assert.not.ok(/&(?!(amp|lt|gt|quot|#39);)/.test(svg), 'unescaped &');
  assert.not.ok(/NaN|Infinity/.test(svg), 'no NaN or Infinity');
}
