/**
 * The API reference: docs/api/<entry>.md, one page per package entry (API_ENTRIES), generated from the entry's
 * index.ts and the doc comments of the declarations it re-exports. Run `npm run docs` after changing a public
 * signature or doc comment; tests/scripts/api-docs.test.ts fails while the committed pages differ from what this
 * script writes, and while a public export has no doc comment.
 *
 * TypeScript 7's native `tsc` has no stable JS compiler API, so this file carries its own small parser of the export
 * syntax the repository uses: a tokenizer (strings, template literals, regular expressions, comments), then, at the top
 * level of each module, `export function` (with overloads), `export [abstract] class` (public members),
 * `export const`, `export interface`, `export type`, and the re-export lists `export [type] { a, b as c } from '…'`
 * and `export * from '…'`. Anything else after `export` (default exports, enums, namespaces, destructuring) is refused
 * with an error naming the file, so the reference never silently drops a name.
 *
 * A page links each export to the file that defines it (no line numbers, so the pages change only when a signature or
 * a doc comment does). Output is deterministic: source order, no dates.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { isEntryPoint } from './lib/entry.js';

/** A package entry: its import specifier, its index file (relative to the repository root) and its page's file name. */
export interface ApiEntry {
  /** The import specifier, e.g. `ropelab/core`. */
  readonly specifier: string;
  /** The entry's index file, relative to the repository root. */
  readonly index: string;
  /** The page's file name under docs/api/. */
  readonly page: string;
  /** When true the entry is documented only if its index file exists (an entry still being built). */
  readonly optional?: boolean;
}

/** Every entry the reference documents, in page order: the one list to extend when the package gains an entry. */
export const API_ENTRIES: readonly ApiEntry[] = [
  { specifier: 'ropelab', index: 'index.ts', page: 'index.md' },
  { specifier: 'ropelab/core', index: 'core/index.ts', page: 'core.md' },
  { specifier: 'ropelab/positional', index: 'positional/index.ts', page: 'positional.md' },
  { specifier: 'ropelab/nn', index: 'nn/index.ts', page: 'nn.md' },
  { specifier: 'ropelab/models', index: 'models/index.ts', page: 'models.md' },
  { specifier: 'ropelab/testing', index: 'testing/index.ts', page: 'testing.md', optional: true },
];

/** Where the pages go, relative to the repository root. */
export const API_DOCS_DIR = 'docs/api';

// ── tokenizer ──

type TokenKind = 'ident' | 'punct' | 'string' | 'template' | 'number' | 'regex' | 'comment';

/** One token: its kind, its text, and where it starts and ends in the source. */
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const REGEX_AFTER_KEYWORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'yield', 'await']);
const IDENT = /[\p{ID_Start}$_#][\p{ID_Continue}$\u200c\u200d]*/uy;
const NUMBER = /(?:0[xXbBoO][0-9a-fA-F_]+|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?)n?/y;

/** The tokens of a TypeScript source, comments included; `file` names the source in errors. */
export function tokenize(src: string, file = '<source>'): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (what: string, at: number): never => {
    const line = src.slice(0, at).split('\n').length;
    throw new Error(`api-docs: ${file}:${line}: ${what}`);
  };
  const lastSignificant = (): Token | undefined => {
    for (let k = tokens.length - 1; k >= 0; k--) if (tokens[k]!.kind !== 'comment') return tokens[k];
    return undefined;
  };
  const beforeLastSignificant = (): Token | undefined => {
    let seen = 0;
    for (let k = tokens.length - 1; k >= 0; k--) if (tokens[k]!.kind !== 'comment' && ++seen === 2) return tokens[k];
    return undefined;
  };
  const regexAllowed = (): boolean => {
    const p = lastSignificant();
    if (p === undefined) return true;
    if (p.kind === 'ident') return REGEX_AFTER_KEYWORD.has(p.text);
    if (p.kind === 'punct' && p.text === '!') {
      // a non-null assertion (`x! / y`) ends an expression; a prefix `!` does not
      const q = beforeLastSignificant();
      return q === undefined || !(q.kind === 'ident' || q.kind === 'number' || q.text === ')' || q.text === ']');
    }
    if (p.kind === 'punct') return p.text !== ')' && p.text !== ']';
    return false;
  };
  // Template literals nest: `${` opens an expression whose closing `}` resumes the template.
  const braceStack: ('brace' | 'template')[] = [];
  const scanTemplateRest = (from: number): number => {
    // from: just after ` or after the } that closes a substitution; returns the index after the closing ` or after ${
    let j = from;
    while (j < src.length) {
      const c = src[j]!;
      if (c === '\\') j += 2;
      else if (c === '`') return j + 1;
      else if (c === '$' && src[j + 1] === '{') {
        braceStack.push('template');
        return j + 2;
      } else j++;
    }
    return fail('unterminated template literal', from);
  };
  let start = 0;
  const push = (kind: TokenKind, end: number): void => {
    tokens.push({ kind, text: src.slice(start, end), start, end });
    i = end;
  };
  const SPACE = /[ \t\n\r\uFEFF]+/y;
  while (i < src.length) {
    SPACE.lastIndex = i;
    if (SPACE.test(src)) {
      i = SPACE.lastIndex;
      if (i >= src.length) break;
    }
    const c = src[i]!;
    start = i;
    if (c === '/' && src[i + 1] === '/') {
      const nl = src.indexOf('\n', i);
      push('comment', nl < 0 ? src.length : nl);
    } else if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      if (close < 0) fail('unterminated comment', i);
      push('comment', close + 2);
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (src[j] === '\n') fail('unterminated string', i);
        j++;
      }
      if (j >= src.length) fail('unterminated string', i);
      push('string', j + 1);
    } else if (c === '`') {
      push('template', scanTemplateRest(i + 1));
    } else if (c === '}' && braceStack[braceStack.length - 1] === 'template') {
      braceStack.pop();
      push('template', scanTemplateRest(i + 1));
    } else if ((c >= '0' && c <= '9') || (c === '.' && src[i + 1]! >= '0' && src[i + 1]! <= '9')) {
      NUMBER.lastIndex = i;
      NUMBER.exec(src);
      push('number', NUMBER.lastIndex);
    } else if ((IDENT.lastIndex = i) === i && IDENT.exec(src) !== null) {
      push('ident', IDENT.lastIndex);
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      for (;;) {
        const d = src[j];
        if (d === undefined || d === '\n') fail('unterminated regular expression', i);
        if (d === '\\') j += 2;
        else {
          if (d === '[') inClass = true;
          else if (d === ']') inClass = false;
          else if (d === '/' && !inClass) break;
          j++;
        }
      }
      j++;
      while (j < src.length && /[a-z]/.test(src[j]!)) j++;
      push('regex', j);
    } else if (c === '=' && src[i + 1] === '>') {
      push('punct', i + 2);
    } else if (c === '.' && src[i + 1] === '.' && src[i + 2] === '.') {
      push('punct', i + 3);
    } else {
      if (c === '{') braceStack.push('brace');
      else if (c === '}') braceStack.pop();
      push('punct', i + 1);
    }
  }
  return tokens;
}

// ── declarations ──

/** What a public name is. */
export type ExportKind = 'function' | 'class' | 'abstract class' | 'constant' | 'interface' | 'type';

/** A public member of a class or interface. */
export interface ApiMember {
  /** The member as declared (comments removed, on one line): `forward(x: Tensor): Tensor`. */
  readonly signature: string;
  /** Its doc comment's text (tags handled), or '' when it has none. */
  readonly doc: string;
}

/** One declaration of a name in a module (a function has one per overload; a const and a type may share a name). */
export interface Declaration {
  readonly name: string;
  readonly kind: ExportKind;
  /** The declaration without `export`, its body or its initializer (a const shows its type or a short initializer). */
  readonly signature: string;
  /** The doc comment's text (`@internal` and `@example` handled), or '' when it has none. */
  readonly doc: string;
  readonly internal: boolean;
  /** Public members (classes: constructor, properties, methods; interfaces and object types: their members). */
  readonly members: readonly ApiMember[];
  /** The module file, relative to the repository root, with forward slashes. */
  readonly file: string;
}

/** A re-export statement: `export { a, b as c } from './x.js'` (names) or `export * from './x.js'` (names null). */
export interface ReExport {
  /** [local name in the target module, exported name]; null for `export *`. */
  readonly names: readonly (readonly [string, string])[] | null;
  readonly from: string;
  /** The doc comment just before the statement ('' when none). */
  readonly doc: string;
}

/** A parsed module: its header summary, its exported declarations (in source order) and its re-exports. */
export interface ParsedModule {
  readonly file: string;
  /** The file's header doc comment's text ('' when the file has none). */
  readonly header: string;
  readonly declarations: readonly Declaration[];
  readonly reExports: readonly ReExport[];
}

/** Tokens after which a `{` still belongs to a type (an object type), not a body. */
const TYPE_CONTINUES = new Set([':', '|', '&', '=>', ',', '<', '?', '(', '[', '=', 'keyof', 'typeof', 'readonly', 'unique', 'infer', 'is', 'asserts', 'extends', 'implements', 'new']);

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE = new Set([')', ']', '}']);

class ModuleParser {
  private readonly tokens: Token[];
  private readonly code: Token[];
  /** For each significant token (index into code), the doc comment just before it ('' when none). */
  private readonly docBefore: string[];
  /** The comment tokens, in source order. */
  private readonly comments: Token[];
  constructor(
    private readonly src: string,
    readonly file: string,
  ) {
    this.tokens = tokenize(src, file);
    this.comments = this.tokens.filter((t) => t.kind === 'comment');
    this.code = [];
    this.docBefore = [];
    let doc = '';
    for (const [k, t] of this.tokens.entries()) {
      if (k === 0 && t.kind === 'comment') continue; // the file's header (every module opens with one), never a declaration's
      if (t.kind === 'comment') {
        if (t.text.startsWith('/**')) doc = t.text;
        continue;
      }
      this.code.push(t);
      this.docBefore.push(doc);
      doc = '';
    }
  }

  fail(what: string, at: number): never {
    const tok = this.code[Math.min(at, this.code.length - 1)];
    const line = tok === undefined ? 1 : this.src.slice(0, tok.start).split('\n').length;
    throw new Error(`api-docs: ${this.file}:${line}: ${what}`);
  }

  text(i: number): string {
    return this.code[i]?.text ?? '';
  }

  /** Index after the bracket group that opens at i ((, [ or {). */
  skipGroup(i: number): number {
    const open = this.text(i);
    const close = OPEN[open];
    if (close === undefined) this.fail(`expected a bracket, found '${open}'`, i);
    const stack: string[] = [];
    for (let j = i; j < this.code.length; j++) {
      const t = this.code[j]!;
      if (t.kind !== 'punct') continue;
      if (OPEN[t.text] !== undefined) stack.push(OPEN[t.text]!);
      else if (CLOSE.has(t.text)) {
        if (stack.pop() !== t.text) this.fail(`unbalanced '${t.text}'`, j);
        if (stack.length === 0) return j + 1;
      }
    }
    return this.fail(`unclosed '${open}'`, i);
  }

  /** Index after the `<…>` type-parameter list that opens at i (i itself when there is none). */
  skipAngles(i: number): number {
    if (this.text(i) !== '<') return i;
    let depth = 0;
    for (let j = i; j < this.code.length; j++) {
      const t = this.text(j);
      if (OPEN[t] !== undefined) j = this.skipGroup(j) - 1;
      else if (t === '<') depth++;
      else if (t === '>') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return this.fail('unclosed type parameters', i);
  }

  /**
   * Scans a type (angle brackets count as brackets) from i; stops at depth 0 on a token in `stops`, or, when
   * `bodyBrace`, on a `{` that follows a complete type (the start of a body). Returns the stopping index.
   */
  scanType(i: number, stops: ReadonlySet<string>, bodyBrace: boolean): number {
    let angle = 0;
    for (let j = i; j < this.code.length; j++) {
      const t = this.code[j]!;
      if (t.kind !== 'punct' && t.kind !== 'ident') continue;
      if (angle === 0 && stops.has(t.text) && t.kind === 'punct') return j;
      if (t.text === '{' && angle === 0 && bodyBrace && j > 0) {
        const p = this.code[j - 1]!;
        const continues = (p.kind === 'punct' || p.kind === 'ident') && TYPE_CONTINUES.has(p.text);
        if (!continues) return j;
      }
      if (t.kind !== 'punct') continue;
      if (OPEN[t.text] !== undefined) j = this.skipGroup(j) - 1;
      else if (t.text === '<') angle++;
      else if (t.text === '>') angle--;
      else if (CLOSE.has(t.text)) return j;
    }
    return this.code.length;
  }

  /** Index of the first `;` (or closing bracket of the enclosing group) at depth 0 from i, expressions' `<` ignored. */
  scanExpression(i: number, what: string): number {
    for (let j = i; j < this.code.length; j++) {
      const t = this.code[j]!;
      if (t.kind !== 'punct') continue;
      if (t.text === ';' || CLOSE.has(t.text)) return j;
      if (t.text === ',' && this.code[j + 1]?.kind === 'ident' && (this.text(j + 2) === '=' || this.text(j + 2) === ':')) this.fail(`${what}: several declarators in one statement are not supported`, j);
      if (OPEN[t.text] !== undefined) j = this.skipGroup(j) - 1;
    }
    return this.code.length;
  }

  /** The source between tokens a (inclusive) and b (exclusive), comments removed, dedented by token a's column. */
  sourceText(a: number, b: number): string {
    if (b <= a) return '';
    const from = this.code[a]!.start;
    const to = this.code[b - 1]!.end;
    let out = '';
    let at = from;
    let lo = 0;
    let hi = this.comments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.comments[mid]!.start < from) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < this.comments.length && this.comments[k]!.end <= to; k++) {
      const t = this.comments[k]!;
      out += this.src.slice(at, t.start);
      at = t.end;
    }
    out += this.src.slice(at, to);
    const column = from - (this.src.lastIndexOf('\n', from - 1) + 1);
    const lines = out.split('\n').map((line, k) => (k === 0 ? line : line.slice(Math.min(column, line.length - line.trimStart().length))));
    return lines
      .map((l) => l.trimEnd())
      .filter((l) => l.length > 0)
      .join('\n');
  }

  oneLine(a: number, b: number): string {
    return this.sourceText(a, b).replace(/\s*\n\s*/g, ' ').replace(/([([{<]) /g, '$1').replace(/,\s*([)\]}>])/g, '$1').replace(/ ([)\]>])/g, '$1');
  }

  parse(): ParsedModule {
    const declarations: Declaration[] = [];
    const reExports: ReExport[] = [];
    const first = this.tokens[0];
    let header = '';
    if (first !== undefined && first.kind === 'comment' && first.text.startsWith('/**')) header = cleanDoc(first.text).text;
    for (let i = 0; i < this.code.length; ) {
      const t = this.code[i]!;
      if (t.kind === 'punct' && OPEN[t.text] !== undefined) {
        i = this.skipGroup(i);
        continue;
      }
      if (t.kind === 'ident' && t.text === 'export') {
        const { next, declaration, reExport } = this.parseExport(i);
        if (declaration !== undefined) declarations.push(declaration);
        if (reExport !== undefined) reExports.push(reExport);
        i = next;
        continue;
      }
      i++;
    }
    // With overloads, the implementation's signature is not part of the API (TypeScript hides it): keep the overloads.
    const overloaded = new Set(declarations.filter((d) => d.kind === 'function' && d.signature.endsWith(';')).map((d) => d.name));
    const visible = declarations.filter((d) => !(overloaded.has(d.name) && d.kind === 'function' && !d.signature.endsWith(';')));
    return { file: this.file, header, declarations: visible, reExports };
  }

  parseExport(at: number): { next: number; declaration?: Declaration; reExport?: ReExport } {
    const rawDoc = this.docBefore[at]!;
    let i = at + 1;
    if (this.text(i) === '*' || this.text(i) === '{' || (this.text(i) === 'type' && this.text(i + 1) === '{')) {
      if (this.text(i) === 'type') i++;
      let names: [string, string][] | null = null;
      if (this.text(i) === '*') {
        if (this.text(i + 1) === 'as') this.fail('`export * as name` is not supported', i);
        i++;
      } else {
        names = [];
        const end = this.skipGroup(i) - 1;
        for (let j = i + 1; j < end; ) {
          if (this.text(j) === 'type' && this.code[j + 1]?.kind === 'ident' && this.text(j + 1) !== 'as' && this.text(j + 1) !== ',') j++;
          const local = this.text(j);
          let exported = local;
          j++;
          if (this.text(j) === 'as') {
            exported = this.text(j + 1);
            j += 2;
          }
          names.push([local, exported]);
          if (this.text(j) === ',') j++;
        }
        i = end + 1;
      }
      if (this.text(i) !== 'from') this.fail('a local `export { … }` list is not supported (export the declaration itself)', i);
      const spec = this.code[i + 1];
      if (spec?.kind !== 'string') this.fail('expected a module specifier', i + 1);
      i += 2;
      if (this.text(i) === ';') i++;
      return { next: i, reExport: { names, from: spec.text.slice(1, -1), doc: rawDoc === '' ? '' : cleanDoc(rawDoc).text } };
    }
    const { text: doc, internal } = cleanDoc(rawDoc);
    let abstract = false;
    while (['declare', 'abstract', 'async'].includes(this.text(i))) {
      if (this.text(i) === 'abstract') abstract = true;
      i++;
    }
    const keyword = this.text(i);
    if (!['function', 'class', 'interface', 'type', 'const', 'let', 'var'].includes(keyword)) this.fail(`export ${keyword} is not supported by scripts/api-docs.ts`, i);
    const sigStart = keyword === 'function' || keyword === 'class' ? (abstract && keyword === 'class' ? i - 1 : at + 1) : i;
    const nameAt = keyword === 'function' && this.text(i + 1) === '*' ? i + 2 : i + 1;
    const name = this.text(nameAt);
    if (this.code[nameAt]?.kind !== 'ident') this.fail(`export ${keyword}: expected a name`, nameAt);
    const base = { name, doc, internal, file: this.file };
    switch (keyword) {
      case 'function': {
        let j = this.skipAngles(nameAt + 1);
        if (this.text(j) !== '(') this.fail(`function ${name}: expected its parameters`, j);
        j = this.skipGroup(j);
        if (this.text(j) === ':') j = this.scanType(j + 1, new Set([';']), true);
        const signature = this.sourceText(sigStart, j);
        const next = this.text(j) === ';' ? j + 1 : this.text(j) === '{' ? this.skipGroup(j) : this.fail(`function ${name}: expected a body or ';'`, j);
        const overload = this.text(j) === ';';
        return { next, declaration: { ...base, kind: 'function', signature: overload ? signature + ';' : signature, members: [] } };
      }
      case 'class': {
        const bodyAt = this.scanType(nameAt + 1, new Set(), true);
        if (this.text(bodyAt) !== '{') this.fail(`class ${name}: expected its body`, bodyAt);
        const members = this.parseClassMembers(bodyAt);
        return {
          next: this.skipGroup(bodyAt),
          declaration: { ...base, kind: abstract ? 'abstract class' : 'class', signature: this.sourceText(sigStart, bodyAt), members },
        };
      }
      case 'interface': {
        const bodyAt = this.scanType(nameAt + 1, new Set(), true);
        if (this.text(bodyAt) !== '{') this.fail(`interface ${name}: expected its body`, bodyAt);
        const next = this.skipGroup(bodyAt);
        return { next, declaration: { ...base, kind: 'interface', signature: this.sourceText(i, next), members: this.parseTypeMembers(bodyAt) } };
      }
      case 'type': {
        let j = this.skipAngles(nameAt + 1);
        if (this.text(j) !== '=') this.fail(`type ${name}: expected '='`, j);
        const end = this.scanType(j + 1, new Set([';']), false);
        const objectType = this.text(j + 1) === '{' && this.skipGroup(j + 1) === end;
        const members = objectType ? this.parseTypeMembers(j + 1) : [];
        // An object type is shown bare with its members listed; any other type keeps its comments in the code.
        const signature = objectType ? this.sourceText(i, end) : this.sourceWithComments(i, end);
        return { next: this.text(end) === ';' ? end + 1 : end, declaration: { ...base, kind: 'type', signature, members } };
      }
      case 'const':
      case 'let':
      case 'var': {
        let j = nameAt + 1;
        let typeText = '';
        if (this.text(j) === ':') {
          const end = this.scanType(j + 1, new Set(['=', ';']), false);
          typeText = this.oneLine(j + 1, end);
          j = end;
        }
        let signature = `${keyword} ${name}`;
        let kind: ExportKind = 'constant';
        let end = j;
        if (this.text(j) === '=') {
          end = this.scanExpression(j + 1, `${keyword} ${name}`);
          const init = this.describeInitializer(j + 1, end);
          if (typeText === '') {
            if (init.type !== undefined) typeText = init.type;
            else signature += ` = ${init.text}`;
          }
          if (init.isFunction) kind = 'function';
        }
        if (typeText !== '') signature += `: ${typeText}`;
        if (/^\(.*\)\s*=>/.test(typeText)) kind = 'function';
        return { next: this.text(end) === ';' ? end + 1 : end, declaration: { ...base, kind, signature, members: [] } };
      }
      default:
        return this.fail(`export ${keyword} is not supported by scripts/api-docs.ts`, i);
    }
  }

  sourceWithComments(a: number, b: number): string {
    const from = this.code[a]!.start;
    const to = this.code[b - 1]!.end;
    const column = from - (this.src.lastIndexOf('\n', from - 1) + 1);
    return this.src
      .slice(from, to)
      .split('\n')
      .map((line, k) => (k === 0 ? line : line.slice(Math.min(column, line.length - line.trimStart().length))).trimEnd())
      .join('\n');
  }

  /**
   * What an initializer tells about a const: an arrow function's own signature, the declared return type of a local
   * factory it calls, or its text when that is short.
   */
  describeInitializer(a: number, b: number): { type?: string; text: string; isFunction: boolean } {
    const whole = this.oneLine(a, b);
    const short = whole.length <= 100 ? whole : '…';
    // an arrow function: (params): Ret => …
    if (this.text(a) === '(' || this.text(a) === '<') {
      const p = this.skipAngles(a);
      if (this.text(p) === '(') {
        let j = this.skipGroup(p);
        let ret = '';
        if (this.text(j) === ':') {
          const end = this.scanType(j + 1, new Set(['=>']), false);
          ret = this.oneLine(j + 1, end);
          j = end;
        }
        if (this.text(j) === '=>' && ret !== '') return { type: `${this.oneLine(a, this.skipGroup(p))} => ${ret}`, text: short, isFunction: true };
        if (this.text(j) === '=>') return { text: short, isFunction: true };
      }
    }
    // a call of a function declared in this module with a return type
    if (this.code[a]?.kind === 'ident' && this.text(a + 1) === '(' && this.skipGroup(a + 1) === b) {
      const ret = this.localReturnType(this.text(a));
      if (ret !== undefined) return { type: ret, text: short, isFunction: /^\(.*\)\s*=>/.test(ret) };
    }
    return { text: short, isFunction: false };
  }

  /** The declared return type of the module's function `name` (exported or not), if it declares one. */
  localReturnType(name: string): string | undefined {
    for (let i = 0; i + 1 < this.code.length; i++) {
      if (this.text(i) !== 'function' || this.text(i + 1) !== name) continue;
      let j = this.skipAngles(i + 2);
      if (this.text(j) !== '(') continue;
      j = this.skipGroup(j);
      if (this.text(j) !== ':') return undefined;
      return this.oneLine(j + 1, this.scanType(j + 1, new Set([';']), true));
    }
    return undefined;
  }

  /** The public members of the class whose body opens at `open`. */
  parseClassMembers(open: number): ApiMember[] {
    const close = this.skipGroup(open) - 1;
    const members: ApiMember[] = [];
    const MODIFIERS = new Set(['public', 'private', 'protected', 'static', 'readonly', 'abstract', 'override', 'async', 'declare', 'accessor', 'get', 'set']);
    const NAME_FOLLOWS = new Set(['(', ':', '=', ';', '?', '!', '<', '}']);
    for (let i = open + 1; i < close; ) {
      if (this.text(i) === ';') {
        i++;
        continue;
      }
      const { text: doc, internal } = cleanDoc(this.docBefore[i]!);
      const mods: string[] = [];
      while (MODIFIERS.has(this.text(i)) && !NAME_FOLLOWS.has(this.text(i + 1)) && this.code[i + 1]?.kind !== undefined) {
        mods.push(this.text(i));
        i++;
      }
      if (this.text(i) === '*') i++;
      if (mods.includes('static') && this.text(i) === '{') {
        i = this.skipGroup(i); // a static block
        continue;
      }
      const nameAt = i;
      const first = this.code[i]!;
      i = first.text === '[' ? this.skipGroup(i) : i + 1;
      if (this.text(i) === '?' || this.text(i) === '!') i++;
      let sigEnd: number;
      if (this.text(i) === '(' || this.text(i) === '<') {
        let j = this.skipAngles(i);
        j = this.skipGroup(j);
        if (this.text(j) === ':') j = this.scanType(j + 1, new Set([';', '}']), true);
        sigEnd = j;
        i = this.text(j) === '{' ? this.skipGroup(j) : this.text(j) === ';' ? j + 1 : j;
      } else {
        let j = i;
        if (this.text(j) === ':') j = this.scanType(j + 1, new Set([';', '=', '}']), false);
        sigEnd = j;
        if (this.text(j) === '=') {
          const end = this.scanExpression(j + 1, `property ${first.text}`);
          if (sigEnd === i) {
            const init = this.oneLine(j + 1, end);
            if (init.length <= 60) sigEnd = end; // a short initializer stands for the type
          }
          j = end;
        }
        i = this.text(j) === ';' ? j + 1 : j;
      }
      const hidden = mods.includes('private') || mods.includes('protected') || first.text.startsWith('#') || internal;
      if (hidden) continue;
      const shown = mods.filter((m) => m !== 'public' && m !== 'override' && m !== 'declare');
      const signature = [...shown, this.oneLine(nameAt, sigEnd)].join(' ');
      members.push({ signature, doc });
    }
    return members;
  }

  /** The members of the interface or object type whose body opens at `open`. */
  parseTypeMembers(open: number): ApiMember[] {
    const close = this.skipGroup(open) - 1;
    const members: ApiMember[] = [];
    for (let i = open + 1; i < close; ) {
      if (this.text(i) === ';' || this.text(i) === ',') {
        i++;
        continue;
      }
      const { text: doc, internal } = cleanDoc(this.docBefore[i]!);
      const end = this.scanType(i, new Set([';', ',']), false);
      if (!internal) members.push({ signature: this.oneLine(i, end), doc });
      i = end;
    }
    return members;
  }
}

/** Parses one module's source. */
export function parseModule(src: string, file: string): ParsedModule {
  return new ModuleParser(src, file).parse();
}

/**
 * A doc comment's text: the comment markers and the leading ` * ` removed, `@internal` removed (and reported),
 * `@example` turned into a TypeScript code block.
 */
export function cleanDoc(raw: string): { text: string; internal: boolean } {
  if (raw === '') return { text: '', internal: false };
  const lines = raw
    .replace(/^\/\*\*/, '')
    .replace(/\*\/$/, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, '').trimEnd());
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  let internal = false;
  const out: string[] = [];
  let inExample = false;
  for (let line of lines) {
    if (/^\s*@internal\b/.test(line)) {
      internal = true;
      line = line.replace(/^\s*@internal\s*/, '');
    }
    const example = /^\s*@example\b\s*(.*)$/.exec(line);
    if (example !== null) {
      if (inExample) out.push('```');
      out.push('', 'Example:', '', '```ts');
      if (example[1]!.trim() !== '') out.push(example[1]!);
      inExample = true;
      continue;
    }
    if (inExample && /^\s*@\w/.test(line)) {
      out.push('```');
      inExample = false;
    }
    out.push(line);
  }
  if (inExample) out.push('```');
  // a one-line comment can carry a tag inline: `/** @internal text */`
  return { text: out.join('\n').trim(), internal };
}

// ── resolution ──

/** One public name of an entry, resolved to its declarations. */
export interface ApiExport {
  readonly name: string;
  /** Its declarations (overloads, or a const and a type of one name), all in one file. */
  readonly declarations: readonly Declaration[];
  /** The source file, relative to the repository root. */
  readonly file: string;
  /** The re-export's target module (the section it is listed under). */
  readonly section: string;
}

/** An entry's public surface: its exports (in index order), and the other entries it re-exports whole. */
export interface ApiSurface {
  readonly entry: ApiEntry;
  readonly header: string;
  readonly exports: readonly ApiExport[];
  /** Entries re-exported with `export *` from the index (the root re-exports the folders). */
  readonly reExportedEntries: readonly ApiEntry[];
}

class Resolver {
  private readonly modules = new Map<string, ParsedModule>();
  constructor(private readonly root: string) {}

  module(file: string): ParsedModule {
    let m = this.modules.get(file);
    if (m === undefined) {
      const path = join(this.root, file);
      if (!existsSync(path)) throw new Error(`api-docs: ${file} does not exist`);
      m = parseModule(readFileSync(path, 'utf8'), file);
      this.modules.set(file, m);
    }
    return m;
  }

  /** The repository-relative .ts file that `spec` (as written in `from`) names. */
  target(from: string, spec: string): string {
    if (!spec.startsWith('.')) throw new Error(`api-docs: ${from}: re-export from a package ('${spec}') is not supported`);
    const base = posix.normalize(posix.join(posix.dirname(from), spec));
    const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), `${base}.ts`, `${base}/index.ts`];
    for (const c of candidates) if (existsSync(join(this.root, c))) return c;
    throw new Error(`api-docs: ${from}: cannot find the module '${spec}'`);
  }

  /** The declarations of `name` as exported by `file`, following re-exports; [] when the module does not export it. */
  find(file: string, name: string, seen = new Set<string>()): Declaration[] {
    const key = `${file}#${name}`;
    if (seen.has(key)) return [];
    seen.add(key);
    const m = this.module(file);
    const own = m.declarations.filter((d) => d.name === name);
    if (own.length > 0) return own;
    for (const r of m.reExports) {
      if (r.names === null) {
        const found = this.find(this.target(file, r.from), name, seen);
        if (found.length > 0) return found;
      } else {
        const hit = r.names.find(([, exported]) => exported === name);
        if (hit !== undefined) return this.find(this.target(file, r.from), hit[0], seen);
      }
    }
    return [];
  }

  /** Every name `file` exports, in source order (re-exports expanded). */
  names(file: string, seen = new Set<string>()): string[] {
    if (seen.has(file)) return [];
    seen.add(file);
    const m = this.module(file);
    const out = new Set<string>(m.declarations.map((d) => d.name));
    for (const r of m.reExports) {
      const list = r.names === null ? this.names(this.target(file, r.from), seen) : r.names.map(([, e]) => e);
      for (const n of list) out.add(n);
    }
    return [...out];
  }

  surface(entry: ApiEntry, entries: readonly ApiEntry[]): ApiSurface {
    const m = this.module(entry.index);
    const exports: ApiExport[] = [];
    const reExportedEntries: ApiEntry[] = [];
    const add = (name: string, local: string, target: string): void => {
      const declarations = this.find(target, local);
      if (declarations.length === 0) throw new Error(`api-docs: ${entry.index}: '${local}' is not exported by ${target}`);
      const renamed = local === name ? declarations : declarations.map((d) => ({ ...d, name }));
      if (exports.some((e) => e.name === name)) return;
      exports.push({ name, declarations: renamed, file: declarations[0]!.file, section: target });
    };
    for (const d of m.declarations) if (!exports.some((e) => e.name === d.name)) exports.push({ name: d.name, declarations: m.declarations.filter((x) => x.name === d.name), file: d.file, section: entry.index });
    for (const r of m.reExports) {
      const target = this.target(entry.index, r.from);
      if (r.names === null) {
        const sub = entries.find((e) => e.index === target);
        if (sub !== undefined) reExportedEntries.push(sub);
        else for (const n of this.names(target)) add(n, n, target);
      } else for (const [local, exported] of r.names) add(exported, local, target);
    }
    return { entry, header: m.header, exports, reExportedEntries };
  }
}

/** The entries documented now: every listed one, the optional ones only where their index file exists. */
export function activeEntries(root: string, entries: readonly ApiEntry[] = API_ENTRIES): ApiEntry[] {
  return entries.filter((e) => !e.optional || existsSync(join(root, e.index)));
}

// ── rendering ──

/** Markdown-safe prose: outside `code spans` and code blocks, `<`, `*`, `_` and link-making brackets are escaped. */
export function escapeMarkdown(text: string): string {
  let inFence = false;
  return text
    .split('\n')
    .map((line) => {
      if (line.trimStart().startsWith('```')) {
        inFence = !inFence;
        return line;
      }
      if (inFence) return line;
      const parts = line.split(/(`[^`]*`)/);
      // brackets stay readable (shapes like [batch, seq, dim]); only `](`, `][` and a leading `[…]:` could make a link
      const escaped = parts.map((p, k) =>
        k % 2 === 1 ? p : p.replace(/[\\*_]/g, (c) => `\\${c}`).replace(/</g, '&lt;').replace(/\]([([])/g, ']\\$1'),
      );
      return escaped.join('').replace(/^(\s*)([#>+]|\[[^\]]*\]:)/, '$1\\$2');
    })
    .join('\n');
}

/** The first paragraph of a doc comment, on one line. */
export function summaryOf(doc: string): string {
  const para = doc.split(/\n\s*\n/)[0] ?? '';
  return para.replace(/\s*\n\s*/g, ' ').trim();
}

/** GitHub's anchor for a heading's text (lower case; punctuation dropped; spaces to hyphens). */
export function headingSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

class Slugs {
  private readonly used = new Map<string, number>();
  take(heading: string): string {
    const base = headingSlug(heading);
    const n = this.used.get(base) ?? 0;
    this.used.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  }
}

const tableCell = (s: string): string => escapeMarkdown(s).replace(/\|/g, '\\|');
const fileLink = (file: string): string => `[${file}](${posix.join('..', '..', file)})`;

/** The primary kind of an export (a const merged with a type of the same name is listed by the const). */
export function kindOf(e: ApiExport): ExportKind {
  return e.declarations[0]!.kind;
}

/** The doc text of an export: its first documented declaration's. */
export function docOf(e: ApiExport): string {
  return e.declarations.find((d) => d.doc !== '')?.doc ?? '';
}

function renderMembers(title: string, members: readonly ApiMember[]): string[] {
  if (members.length === 0) return [];
  const out = [`${title}:`, ''];
  for (const m of members) {
    const doc = m.doc === '' ? '' : ` — ${escapeMarkdown(m.doc).replace(/\n/g, '\n  ')}`;
    out.push(`- \`${m.signature.replace(/`/g, "'")}\`${doc}`);
  }
  out.push('');
  return out;
}

function renderExport(e: ApiExport, slugs: Slugs): { lines: string[]; anchor: string } {
  const anchor = slugs.take(e.name);
  const decls = e.declarations;
  const kinds = [...new Set(decls.map((d) => d.kind))];
  const out = [`### \`${e.name}\``, '', `*${kinds.join(' and ')}* · defined in ${fileLink(e.file)}`, ''];
  const internal = decls.some((d) => d.internal);
  if (internal) out.push('*Internal: exported for other parts of ropelab; not meant for users.*', '');
  out.push('```ts', decls.map((d) => d.signature).join('\n'), '```', '');
  const docs = decls.filter((d) => d.doc !== '');
  if (docs.length > 1 && new Set(docs.map((d) => d.doc)).size > 1) {
    for (const d of docs) out.push(`- \`${d.signature.replace(/\s*\n\s*/g, ' ').replace(/`/g, "'")}\` — ${escapeMarkdown(d.doc).replace(/\n/g, '\n  ')}`);
    out.push('');
  } else if (docs.length > 0) out.push(escapeMarkdown(docs[0]!.doc), '');
  else out.push('*No doc comment.*', '');
  for (const d of decls) {
    const title = d.kind === 'class' || d.kind === 'abstract class' ? 'Public members' : 'Members';
    out.push(...renderMembers(title, d.members));
  }
  return { lines: out, anchor };
}

const GENERATED = (index: string): string =>
  `<!-- Generated by scripts/api-docs.ts (\`npm run docs\`) from ${index} and the doc comments it re-exports. Do not edit: run \`npm run docs\`. -->`;

/** The page of one entry. `surfaces` gives the pages of the entries it re-exports whole. */
export function renderPage(s: ApiSurface, surfaces: readonly ApiSurface[]): string {
  const out: string[] = [GENERATED(s.entry.index), '', `# \`${s.entry.specifier}\``, ''];
  if (s.header !== '') out.push(escapeMarkdown(s.header), '');
  const n = s.exports.length;
  const sub = s.reExportedEntries.map((e) => surfaces.find((x) => x.entry === e)!);
  const total = n + sub.reduce((a, x) => a + x.exports.length, 0);
  out.push(`\`import { … } from '${s.entry.specifier}'\` · ${total} exports · index: ${fileLink(s.entry.index)}`, '');
  for (const x of sub) {
    out.push(`## Re-exported from [\`${x.entry.specifier}\`](${x.entry.page})`, '');
    out.push('| name | kind | summary |', '|---|---|---|');
    const slugs = pageSlugs(x);
    for (const e of x.exports) out.push(`| [\`${e.name}\`](${x.entry.page}#${slugs.get(e.name)}) | ${kindOf(e)} | ${tableCell(summaryOf(docOf(e)))} |`);
    out.push('');
  }
  if (n === 0) return finish(out);
  const slugs = new Slugs();
  // the contents table comes first on the page, so the anchors are known before the sections are written
  const sections = new Map<string, ApiExport[]>();
  for (const e of s.exports) sections.set(e.section, [...(sections.get(e.section) ?? []), e]);
  const body: string[] = [];
  const anchors = new Map<string, string>();
  slugs.take('Contents');
  for (const [section, list] of sections) {
    slugs.take(section);
    body.push(`## ${section}`, '');
    body.push(...sectionIntro(s, section));
    for (const e of list) {
      const { lines, anchor } = renderExport(e, slugs);
      anchors.set(e.name, anchor);
      body.push(...lines);
    }
  }
  out.push('## Contents', '', '| name | kind | summary |', '|---|---|---|');
  for (const e of s.exports) out.push(`| [\`${e.name}\`](#${anchors.get(e.name)}) | ${kindOf(e)} | ${tableCell(summaryOf(docOf(e)))} |`);
  out.push('', ...body);
  return finish(out);
}

const headers = new Map<string, string>();
function sectionIntro(s: ApiSurface, section: string): string[] {
  const h = headers.get(section) ?? '';
  const link = `Source: ${fileLink(section)}.`;
  return h === '' ? [link, ''] : [escapeMarkdown(summaryOf(h)), '', link, ''];
}

/** The anchors of an entry's page (the same walk as renderPage's). */
function pageSlugs(s: ApiSurface): Map<string, string> {
  const slugs = new Slugs();
  const anchors = new Map<string, string>();
  slugs.take('Contents');
  const sections = new Map<string, ApiExport[]>();
  for (const e of s.exports) sections.set(e.section, [...(sections.get(e.section) ?? []), e]);
  for (const [section, list] of sections) {
    slugs.take(section);
    for (const e of list) anchors.set(e.name, slugs.take(e.name));
  }
  return anchors;
}

function finish(lines: string[]): string {
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n') + '\n';
}

/** The reference built once: the entries' public surfaces and their pages (file name → content). */
export interface ApiReference {
  readonly surfaces: readonly ApiSurface[];
  readonly pages: ReadonlyMap<string, string>;
}

/** Builds the reference of the repository at `root` (parsing every module once). */
export function buildApiReference(root: string, entries: readonly ApiEntry[] = activeEntries(root)): ApiReference {
  const resolver = new Resolver(root);
  const surfaces = entries.map((e) => resolver.surface(e, entries));
  headers.clear();
  for (const s of surfaces) for (const e of s.exports) if (!headers.has(e.section)) headers.set(e.section, resolver.module(e.section).header);
  const pages = new Map<string, string>();
  for (const s of surfaces) pages.set(s.entry.page, renderPage(s, surfaces));
  return { surfaces, pages };
}

/** The public exports without a doc comment, as `ropelab/core: name (kind, file)`. */
export function undocumentedExports(surfaces: readonly ApiSurface[]): string[] {
  const out: string[] = [];
  for (const s of surfaces) for (const e of s.exports) if (docOf(e) === '') out.push(`${s.entry.specifier}: ${e.name} (${kindOf(e)}, ${e.file})`);
  return out;
}

/** How many distinct declarations the surfaces export (a name re-exported by two entries counts once). */
export function countExports(surfaces: readonly ApiSurface[]): number {
  return new Set(surfaces.flatMap((s) => s.exports.map((e) => `${e.file}#${e.declarations[0]!.name}`))).size;
}

/** The committed page files under `root`/docs/api (file name → content). */
export function readCommittedPages(root: string): Map<string, string> {
  const dir = join(root, API_DOCS_DIR);
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.md')) out.set(f, readFileSync(join(dir, f), 'utf8'));
  return out;
}

/** Writes the pages under `root`/docs/api, removing the pages of entries no longer generated. */
export function writeApiDocs(root: string): ApiReference {
  const ref = buildApiReference(root);
  const dir = join(root, API_DOCS_DIR);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.md') && !ref.pages.has(f)) rmSync(join(dir, f));
  for (const [f, text] of ref.pages) writeFileSync(join(dir, f), text);
  return ref;
}

function main(): void {
  const root = process.cwd();
  const t0 = performance.now();
  const { pages, surfaces } = writeApiDocs(root);
  const undocumented = undocumentedExports(surfaces);
  const ms = Math.round(performance.now() - t0);
  console.log(`${API_DOCS_DIR}/: ${pages.size} pages, ${countExports(surfaces)} exports, ${undocumented.length} without a doc comment (${ms} ms)`);
  for (const u of undocumented) console.log(`  no doc comment: ${u}`);
}

if (isEntryPoint(import.meta.url, 'api-docs')) main();
