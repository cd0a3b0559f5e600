/**
 * A source-code segmenter for HiRoPE's hierarchical positions (positional/hirope.ts): it splits code into its
 * top-level units (functions, class-like declarations, other blocks, and the text between them) with a small lexer
 * and a braces/indentation heuristic. The paper (Zhang et al. 2024, §3.1) extracts the hierarchy with a parser;
 * this file is a dependency-free stand-in that finds the top-level boundaries of ordinary code (`hiropeSegments`
 * lists what it gets wrong). Nothing here knows about RoPE: it maps characters to units, hirope.ts maps units to
 * positions.
 */
import { expectOneOf, expectOptions } from '../core/index.js';
import { checkString } from './checks.js';

/** What a top-level unit looks like: a function, a class-like declaration, another block, or the text between. */
export type HiRoPEUnitKind = 'function' | 'class' | 'block' | 'gap';

/** A character range [start, end) of a source file and the kind of unit it is. */
export interface HiRoPESegment {
  /** Character range [start, end) of the source. */
  start: number;
  end: number;
  kind: HiRoPEUnitKind;
}

/** 'braces': C/Java/JS/TS/Go/Rust-like; 'indent': Python-like; 'auto' guesses from the source. */
export type HiRoPESyntax = 'auto' | 'braces' | 'indent';

/** Options of `hiropeSegments`: `syntax`. */
export interface HiRoPESegmentsOptions {
  syntax?: HiRoPESyntax;
}

/**
 * Split source code into top-level units that partition it (every character in exactly one segment, in order).
 *
 * Braces: a unit is a top-level statement that opens a `{…}` block, from the start of the statement's first line
 * to the matching `}` plus the rest of that line (so `};`, `} // end` and `} else {` stay in it; a unit whose
 * first word is else/catch/finally, after only whitespace, joins the one before). A statement starts at the first
 * code line after a top-level `;` or unit, or at a column-0 line that does not continue the previous one. The
 * lexer skips braces inside '…' and "…" strings, `…${…}…` template literals (nested), // and /* *\/ comments and
 * regex literals (a `/` after an operator, an opening bracket or a keyword such as return). A top-level `{…}` with
 * other code after its `}` on that line (`import { a } from 'b';`, `const { a } = b;`) is a statement, not a unit.
 * Indentation: logical lines (brackets, triple-quoted strings and backslashes join physical lines; # comments are
 * skipped); a column-0 line opens a unit if it is a def/class/async def or the next code line is indented, and
 * the unit runs over the indented lines after it; column-0 else/elif/except/finally continue it; @decorators
 * join the def/class they precede.
 * Kinds come from the unit's header (the text before its first `{`, or its first line): class-like keywords
 * (class, interface, struct, enum, trait, impl, union, record) → 'class'; def/function/fn/func, an arrow, or a
 * header ending in a parameter list → 'function'; anything else → 'block'.
 *
 * Limits (a heuristic, not a parser): macros and preprocessor lines that open or close braces (`#define X {`) and
 * a regex literal after `)` (`if (a) /{/.test(s)`, read as a division) are mislexed; # comments are not
 * recognised in brace syntax; Rust lifetimes and char literals ('a) are read as strings up to the end of the
 * line; an unbalanced `{` makes the last unit run to the end and a stray top-level `}` is ignored; without
 * semicolons a statement ends only where a column-0 line starts that does not look like a continuation (so an
 * indented unit header after `x = 1` joins that statement); comments before a unit (doc comments) are gap text;
 * nested functions never become units (only the top level is split); tabs and spaces both count as indentation;
 * 'auto' only compares counts of colon-ended block headers with lines that open or close braces.
 */
export function hiropeSegments(source: string, options: HiRoPESegmentsOptions = {}): HiRoPESegment[] {
  const op = 'hiropeSegments';
  return segmentsOf(checkString(op, 'source', source), checkSyntax(op, expectOptions(op, 'options', options, ['syntax']).syntax));
}

/** An optional `syntax` option: 'auto' (default), 'braces' or 'indent'. */
export function checkSyntax(op: string, syntax: unknown): HiRoPESyntax {
  return syntax === undefined ? 'auto' : expectOneOf<HiRoPESyntax>(op, 'syntax', syntax, ['auto', 'braces', 'indent']);
}

/** hiropeSegments for a checked source and syntax (hiropePositions segments with it). */
export function segmentsOf(source: string, syntax: HiRoPESyntax): HiRoPESegment[] {
  const resolved = resolveSyntax(source, syntax);
  const raw = resolved === 'indent' ? indentUnits(source) : braceUnits(source);
  return fillGaps(source, raw);
}

function resolveSyntax(source: string, syntax: HiRoPESyntax): 'braces' | 'indent' {
  if (syntax === 'braces' || syntax === 'indent') return syntax;
  const colonHeaders = source.match(/^[ \t]*(async[ \t]+def|def|class|if|elif|else|for|while|with|try|except|finally)\b[^\n]*:[ \t]*(#[^\n]*)?$/gm)?.length ?? 0;
  const braceLines = source.match(/(\{[ \t]*$|^[ \t]*\})/gm)?.length ?? 0;
  return colonHeaders > braceLines ? 'indent' : 'braces';
}

type LexMode = 'code' | 'line' | 'block' | 'sq' | 'dq' | 'tpl' | 'regex';

/** A `/` after one of these (or at the start) begins a regex literal, not a division. */
const REGEX_AFTER = '(,=:[!&|?{};+-*%<>~^';
/** …or after one of these keywords (`return /x/`). */
const REGEX_KEYWORDS = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'yield', 'await', 'void', 'delete', 'throw', 'new', 'instanceof']);
const IDENT = /^[A-Za-z0-9_$]$/;
/** A line ending in one of these continues onto the next one. */
const CONTINUES = ',([{=+-*/%&|^?:<>.!~';
/** A column-0 line starting with one of these continues the statement before it. */
const CONTINUATION_START = '{)].,?:=+-*/%&|^<>';

/** Top-level `{…}` units of a brace language (see hiropeSegments). */
function braceUnits(src: string): HiRoPESegment[] {
  const n = src.length;
  const units: HiRoPESegment[] = [];
  let mode: LexMode = 'code';
  let depth = 0; // braces
  let paren = 0; // ( and [
  const tplExpr: number[] = []; // brace depth at each open `${`
  let regexClass = false;
  let escapedNewline = false;
  let lineStart = 0;
  let lineHasCode = false;
  let lastCode = '';
  let prevLineLast = '';
  let regionStart = -1; // first line of the top-level statement in progress
  let unitStart = -1;
  let headerEnd = -1;
  let pendingEnd = false; // the unit's `}` came; it ends with its line
  let afterClose = ''; // code after that `}` on its line
  let word = ''; // identifier or keyword ending at lastCode
  let lastCodeAt = -1;

  const close = (end: number): void => {
    if (/^[;,)\]]*$/.test(afterClose) || /^while\b/.test(afterClose)) {
      units.push({ start: unitStart, end, kind: classifyHeader(src.slice(unitStart, headerEnd)) });
      regionStart = -1;
    } else {
      regionStart = unitStart; // `import { a } from 'b';`, `const { a } = b;`, `f({ … }, 2);`: a statement, not a block
    }
    unitStart = -1;
    pendingEnd = false;
  };

  for (let i = 0; i < n; i++) {
    const c = src[i]!;
    if (c === '\n') {
      if (mode === 'line' || mode === 'regex' || ((mode === 'sq' || mode === 'dq') && !escapedNewline)) mode = 'code';
      escapedNewline = false;
      if (pendingEnd) close(i + 1);
      if (lineHasCode) prevLineLast = lastCode;
      lineStart = i + 1;
      lineHasCode = false;
      continue;
    }
    switch (mode) {
      case 'line':
        continue;
      case 'block':
        if (c === '*' && src[i + 1] === '/') {
          mode = 'code';
          i++;
        }
        continue;
      case 'sq':
      case 'dq':
        if (c === '\\') {
          if (src[i + 1] === '\n') escapedNewline = true;
          else i++;
        } else if (c === (mode === 'sq' ? "'" : '"')) mode = 'code';
        continue;
      case 'tpl':
        if (c === '\\') {
          if (src[i + 1] !== '\n') i++;
        } else if (c === '`') {
          mode = 'code';
        } else if (c === '$' && src[i + 1] === '{') {
          tplExpr.push(depth);
          mode = 'code';
          i++;
        }
        continue;
      case 'regex':
        if (c === '\\') {
          if (src[i + 1] !== '\n') i++;
        } else if (regexClass) {
          if (c === ']') regexClass = false;
        } else if (c === '[') regexClass = true;
        else if (c === '/') mode = 'code';
        continue;
      case 'code':
        break;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') continue;
    if (c === '/' && (src[i + 1] === '/' || src[i + 1] === '*')) {
      mode = src[i + 1] === '/' ? 'line' : 'block';
      i++;
      continue;
    }
    if (pendingEnd) afterClose += c;
    if (!lineHasCode) {
      lineHasCode = true;
      if (unitStart < 0 && depth === 0 && paren === 0 && tplExpr.length === 0) {
        const newStatement = i === lineStart && !CONTINUATION_START.includes(c) && !CONTINUES.includes(prevLineLast);
        if (regionStart < 0 || newStatement) regionStart = lineStart;
      }
    }
    switch (c) {
      case '{':
        if (depth === 0) {
          if (unitStart < 0) {
            unitStart = regionStart >= 0 ? regionStart : lineStart;
            headerEnd = i;
          }
          pendingEnd = false;
        }
        depth++;
        break;
      case '}':
        if (tplExpr.length > 0 && tplExpr[tplExpr.length - 1] === depth) {
          tplExpr.pop();
          mode = 'tpl';
        } else if (depth > 0) {
          depth--;
          if (depth === 0 && unitStart >= 0) {
            pendingEnd = true;
            afterClose = '';
          }
        }
        break;
      case '(':
      case '[':
        paren++;
        break;
      case ')':
      case ']':
        paren = Math.max(0, paren - 1);
        break;
      case ';':
        if (depth === 0 && paren === 0 && unitStart < 0) regionStart = -1;
        break;
      case "'":
        mode = 'sq';
        break;
      case '"':
        mode = 'dq';
        break;
      case '`':
        mode = 'tpl';
        break;
      case '/':
        if (lastCode === '' || REGEX_AFTER.includes(lastCode) || (IDENT.test(lastCode) && REGEX_KEYWORDS.has(word))) {
          mode = 'regex';
          regexClass = false;
        }
        break;
    }
    if (IDENT.test(c)) word = IDENT.test(lastCode) && lastCodeAt === i - 1 ? word + c : c;
    lastCode = c;
    lastCodeAt = i;
  }
  if (unitStart >= 0) {
    if (!pendingEnd) afterClose = ''; // unbalanced: the unit runs to the end
    close(n);
  }
  // `}\nelse {` (and catch/finally): the continuation joins the unit before it
  const merged: HiRoPESegment[] = [];
  for (const u of units) {
    const prev = merged[merged.length - 1];
    if (prev !== undefined && /^\s*$/.test(src.slice(prev.end, u.start)) && /^\s*(else|catch|finally)\b/.test(src.slice(u.start, u.end))) prev.end = u.end;
    else merged.push(u);
  }
  return merged;
}

/**
 * Kind of a unit from its header text (before the first `{`, or the first line), comments removed. Linear in the
 * header's length: no pattern here can backtrack over a long run of spaces (`f():      …` or `throws      …`).
 */
export function classifyHeader(header: string): HiRoPEUnitKind {
  const h = stripComments(header).trim();
  if (/\b(class|interface|struct|enum|trait|impl|union|record)\b/.test(h)) return 'class';
  if (/^(if|for|while|switch|catch|with|else|do|try|finally|return|unless|until|loop|match)\b/.test(h)) return 'block';
  if (/\b(function|fn|func|fun|def)\b/.test(h) || h.endsWith('=>') || endsInParameterList(h)) return 'function';
  return 'block';
}

/** Block comments, then // and # comments, each replaced by one space, in one pass per kind. */
function stripComments(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = text.indexOf('/*', at);
    if (open < 0) break;
    const close = text.indexOf('*/', open + 2);
    if (close < 0) break; // no later comment can close either
    out += text.slice(at, open) + ' ';
    at = close + 2;
  }
  out += text.slice(at);
  return out.replace(/\/\/[^\n]*/g, ' ').replace(/#[^\n]*/g, ' ');
}

/**
 * A header ending in a parameter list: its last `)` followed only by whitespace, a return type (`: T`, `-> T`
 * without = ; { } ( )), or a throws clause (`throws A, b.C`).
 */
function endsInParameterList(h: string): boolean {
  const close = h.lastIndexOf(')');
  if (close < 0) return false;
  const rest = h.slice(close + 1).trimStart();
  if (rest === '') return true;
  if (rest.startsWith(':') || rest.startsWith('->')) return !/[=;{}()]/.test(rest.slice(rest.startsWith(':') ? 1 : 2));
  return rest.startsWith('throws') && /^\s[\w.,\s]+$/.test(rest.slice(6));
}

interface LogicalLine {
  start: number;
  /** End of its last physical line, newline included. */
  end: number;
  indent: number;
  text: string;
}

/** Top-level units of an indentation language (see hiropeSegments). */
function indentUnits(src: string): HiRoPESegment[] {
  const n = src.length;
  const logical: LogicalLine[] = [];
  let brackets = 0;
  let str: { quote: string; triple: boolean } | null = null;
  let backslash = false;
  for (let start = 0; start < n; ) {
    const nl = src.indexOf('\n', start);
    const end = nl < 0 ? n : nl + 1;
    const continued = brackets > 0 || str !== null || backslash;
    let col = start;
    while (col < end && (src[col] === ' ' || src[col] === '\t' || src[col] === '\r' || src[col] === '\f')) col++;
    const first = col < end && src[col] !== '\n' ? src[col]! : '';
    if (continued) {
      const last = logical[logical.length - 1];
      if (last !== undefined) last.end = end;
    } else if (first !== '' && first !== '#') {
      logical.push({ start, end, indent: col - start, text: src.slice(col, nl < 0 ? n : nl) });
    }
    // scan the line for strings, comments and brackets
    backslash = false;
    for (let i = start; i < end; i++) {
      const c = src[i]!;
      if (str !== null) {
        if (c === '\\') i++;
        else if (c === str.quote && (!str.triple || (src[i + 1] === c && src[i + 2] === c))) {
          if (str.triple) i += 2;
          str = null;
        }
        continue;
      }
      if (c === '#') break;
      if (c === "'" || c === '"') {
        const triple = src[i + 1] === c && src[i + 2] === c;
        str = { quote: c, triple };
        if (triple) i += 2;
      } else if (c === '(' || c === '[' || c === '{') brackets++;
      else if (c === ')' || c === ']' || c === '}') brackets = Math.max(0, brackets - 1);
      else if (c === '\\' && (src[i + 1] === '\n' || (src[i + 1] === '\r' && src[i + 2] === '\n'))) backslash = true;
    }
    if (str !== null && !str.triple) str = null; // an unclosed one-line string ends with its line
    start = end;
  }

  const units: HiRoPESegment[] = [];
  let cur: HiRoPESegment | null = null;
  let decoratorStart = -1;
  for (let j = 0; j < logical.length; j++) {
    const L = logical[j]!;
    if (L.indent > 0) {
      if (cur !== null) cur.end = L.end;
      continue;
    }
    if (cur !== null && /^(else|elif|except|finally)\b/.test(L.text)) {
      cur.end = L.end;
      continue;
    }
    if (cur !== null) {
      units.push(cur);
      cur = null;
    }
    if (L.text.startsWith('@')) {
      if (decoratorStart < 0) decoratorStart = L.start;
      continue;
    }
    const def = /^(async[ \t]+def|def|class)\b/.exec(L.text);
    const opens = j + 1 < logical.length && logical[j + 1]!.indent > 0;
    if (def !== null || opens) {
      const kind: HiRoPEUnitKind = def !== null ? (def[1] === 'class' ? 'class' : 'function') : 'block';
      cur = { start: decoratorStart >= 0 ? decoratorStart : L.start, end: L.end, kind };
    }
    decoratorStart = -1;
  }
  if (cur !== null) units.push(cur);
  return units;
}

/** Fill the text between units with 'gap' segments; whitespace-only text joins the unit before (or after) it. */
function fillGaps(src: string, units: readonly HiRoPESegment[]): HiRoPESegment[] {
  const out: HiRoPESegment[] = [];
  let carry = -1; // leading whitespace waiting for the first segment
  const push = (s: HiRoPESegment): void => {
    if (carry >= 0) {
      s.start = carry;
      carry = -1;
    }
    out.push(s);
  };
  const gap = (a: number, b: number): void => {
    if (b <= a) return;
    if (/^\s*$/.test(src.slice(a, b))) {
      const last = out[out.length - 1];
      if (last !== undefined) last.end = b;
      else if (carry < 0) carry = a;
    } else push({ start: a, end: b, kind: 'gap' });
  };
  let pos = 0;
  for (const u of units) {
    gap(pos, u.start);
    push({ start: u.start, end: u.end, kind: u.kind });
    pos = u.end;
  }
  gap(pos, src.length);
  if (carry >= 0) out.push({ start: carry, end: src.length, kind: 'gap' }); // whitespace only
  return out;
}
