/**
 * HiRoPE (Zhang, Li, Zhang, Jin, "HiRoPE: Length Extrapolation for Code Models Using Hierarchical Position",
 * ACL 2024) — the form proposed in the spec (§7), since no reference code exists: every token gets a token-level
 * position p_tok and a unit-level position p_hi (index of its top-level function/class/block); the high-frequency
 * pairs i < s rotate with p_tok, the low-frequency pairs i ≥ s with p_hi, each pair keeping its own θ_i; and a
 * window keeps attention between tokens closer than L_window identical to plain RoPE.
 *
 * Choices this file makes (each configurable unless stated):
 * - segmentation: a small lexer and a braces/indentation heuristic, not a parser (see `segmentCode` for limits);
 * - text between units ('gap'): its own unit index (default) or the previous unit's (`gaps: 'previous'`);
 * - p_tok: reset to 0 at the start of each unit index (default, the "exponential" reading) or global (`tokenIndex`);
 * - whitespace-only text between units always joins the unit before it (fixed, so blank lines add no index);
 * - tokens are characters unless the caller passes its token list (tokens map to units by their first character);
 * - the window compares global positions (`position`, 0…T−1 by default), not p_tok, so it measures real distance;
 * - `HiRoPE` (one rotation of q and k) is the window-0 form; the windowed form needs `hiropeScores` (two passes).
 */
import { DTypeError, ShapeError, Tensor, ValueError, describeValue, expectInteger, expectNumber, expectOneOf, expectTensor, fmtShape, matmul, where } from '../core/index.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import { checkAttentionFactor, checkBase, checkHead, checkInvFreq, checkLayout, checkOptions, checkPositions, checkRotaryDim, checkSize, positionsTensor } from './checks.js';
import { anglesOf as rotaryAnglesOf, invFreqLadder, rotateBy, type PairLayout } from './rope.js';

// ── segmentation ──

/** What a top-level unit looks like: a function, a class-like declaration, another block, or the text between. */
export type HiropeUnitKind = 'function' | 'class' | 'block' | 'gap';

export interface HiropeSegment {
  /** Character range [start, end) of the source. */
  start: number;
  end: number;
  kind: HiropeUnitKind;
}

export interface HiropeUnit extends HiropeSegment {
  /** The unit-level position p_hi given to its tokens. */
  index: number;
}

/** 'braces': C/Java/JS/TS/Go/Rust-like; 'indent': Python-like; 'auto' guesses from the source. */
export type HiropeSyntax = 'auto' | 'braces' | 'indent';

export interface SegmentCodeOptions {
  syntax?: HiropeSyntax;
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
export function segmentCode(source: string, options: SegmentCodeOptions = {}): HiropeSegment[] {
  const op = 'segmentCode';
  if (typeof source !== 'string') throw new DTypeError(op, `source must be a string, got ${describeValue(source)}`, 'source');
  return segmentsOf(source, checkSyntax(op, checkOptions(op, options, ['syntax']).syntax));
}

/** An optional `syntax` option: 'auto' (default), 'braces' or 'indent'. */
function checkSyntax(op: string, syntax: unknown): HiropeSyntax {
  return syntax === undefined ? 'auto' : expectOneOf<HiropeSyntax>(op, 'syntax', syntax, ['auto', 'braces', 'indent']);
}

/** segmentCode for a checked source and syntax. */
function segmentsOf(source: string, syntax: HiropeSyntax): HiropeSegment[] {
  const resolved = resolveSyntax(source, syntax);
  const raw = resolved === 'indent' ? indentUnits(source) : braceUnits(source);
  return fillGaps(source, raw);
}

function resolveSyntax(source: string, syntax: HiropeSyntax): 'braces' | 'indent' {
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

/** Top-level `{…}` units of a brace language (see segmentCode). */
function braceUnits(src: string): HiropeSegment[] {
  const n = src.length;
  const units: HiropeSegment[] = [];
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
  const merged: HiropeSegment[] = [];
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
export function classifyHeader(header: string): HiropeUnitKind {
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

/** Top-level units of an indentation language (see segmentCode). */
function indentUnits(src: string): HiropeSegment[] {
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

  const units: HiropeSegment[] = [];
  let cur: HiropeSegment | null = null;
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
      const kind: HiropeUnitKind = def !== null ? (def[1] === 'class' ? 'class' : 'function') : 'block';
      cur = { start: decoratorStart >= 0 ? decoratorStart : L.start, end: L.end, kind };
    }
    decoratorStart = -1;
  }
  if (cur !== null) units.push(cur);
  return units;
}

/** Fill the text between units with 'gap' segments; whitespace-only text joins the unit before (or after) it. */
function fillGaps(src: string, units: readonly HiropeSegment[]): HiropeSegment[] {
  const out: HiropeSegment[] = [];
  let carry = -1; // leading whitespace waiting for the first segment
  const push = (s: HiropeSegment): void => {
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

// ── hierarchical positions ──

export interface HiropePositionsOptions extends SegmentCodeOptions {
  /** p_tok: 'reset' restarts at 0 in each unit index (default), 'global' counts from the start. */
  tokenIndex?: 'reset' | 'global';
  /** Text between units: 'own' gives it its own running unit index (default), 'previous' the unit's before it. */
  gaps?: 'own' | 'previous';
}

/** Positions of each token at three levels, all float64 of length T (the number of tokens). */
export interface HiropePositions {
  /** p_tok: token-level position. */
  token: Float64Array;
  /** p_hi: unit-level position (the unit index). */
  unit: Float64Array;
  /** Global token index 0…T−1 (plain RoPE and the window use it). */
  position: Float64Array;
  /** The segmentation with each segment's unit index; it partitions the source. */
  units: HiropeUnit[];
}

/**
 * Hierarchical positions for source code (HiRoPE, spec §7 proposal): segment `source` into top-level units
 * (`segmentCode`) and give token t its unit index p_hi and its token index p_tok. `source` is a string (one token
 * per UTF-16 code unit) or the caller's token strings, whose concatenation is the source; a token belongs to the
 * segment holding its first character (an empty token to the one at its offset).
 */
export function hiropePositions(source: string | readonly string[], options: HiropePositionsOptions = {}): HiropePositions {
  const op = 'hiropePositions';
  const o = checkOptions(op, options, ['syntax', 'tokenIndex', 'gaps']);
  const syntax = checkSyntax(op, o.syntax);
  const tokenIndex = o.tokenIndex === undefined ? 'reset' : expectOneOf(op, 'tokenIndex', o.tokenIndex, ['reset', 'global']);
  const gaps = o.gaps === undefined ? 'own' : expectOneOf(op, 'gaps', o.gaps, ['own', 'previous']);
  let text: string;
  let offsets: Int32Array;
  if (typeof source === 'string') {
    text = source;
    offsets = Int32Array.from({ length: source.length }, (_, i) => i);
  } else if (Array.isArray(source)) {
    const tokens: readonly unknown[] = source;
    offsets = new Int32Array(tokens.length);
    let at = 0;
    tokens.forEach((t, j) => {
      if (typeof t !== 'string') throw new DTypeError(op, `source[${j}] must be a token string, got ${describeValue(t)}`, 'source');
      offsets[j] = at;
      at += t.length;
    });
    text = source.join('');
  } else {
    throw new DTypeError(op, `source must be a string or an array of token strings, got ${describeValue(source)}`, 'source');
  }

  const segments = segmentsOf(text, syntax);
  let counter = -1;
  const units: HiropeUnit[] = segments.map((s, ordinal) => {
    if (gaps === 'own') return { ...s, index: ordinal };
    if (s.kind !== 'gap') counter++;
    return { ...s, index: Math.max(counter, 0) };
  });

  const T = offsets.length;
  const token = new Float64Array(T);
  const unit = new Float64Array(T);
  const position = new Float64Array(T);
  let seg = 0;
  let runStart = 0;
  for (let t = 0; t < T; t++) {
    while (seg + 1 < units.length && offsets[t]! >= units[seg]!.end) seg++;
    const idx = units.length > 0 ? units[seg]!.index : 0;
    if (t > 0 && idx !== unit[t - 1]) runStart = t;
    unit[t] = idx;
    token[t] = tokenIndex === 'global' ? t : t - runStart;
    position[t] = t;
  }
  return { token, unit, position, units };
}

// ── angles and scores ──

/** Positions as a float64 tensor [T] or [B, T], or a plain array [T]. */
export type LevelPositions = Tensor | ArrayLike<number>;

function asPositions(x: LevelPositions, op: string, arg: string): Tensor {
  const t = positionsTensor(op, arg, x);
  if (t.ndim !== 1 && t.ndim !== 2) throw new ShapeError(op, `${arg}=${fmtShape(t.shape)} must be [T] or [B, T]`, arg);
  return t;
}

/**
 * φ[t, i] = p_tok[t]·θ_i for pairs i < split, p_hi[t]·θ_i for i ≥ split (HiRoPE, spec §7): token [T] (or [B, T])
 * and unit of the same shape → angles [..., T, P], float64. split = P gives plain RoPE angles of `token`.
 */
export function hiropeAngles(token: LevelPositions, unit: LevelPositions, invFreq: ArrayLike<number>, split: number): Tensor {
  const op = 'hiropeAngles';
  const theta = checkInvFreq(op, 'invFreq', invFreq);
  return levelAngles(op, token, unit, theta, checkSplit(op, split, theta.length));
}

/** A split pair index: an integer in [0, pairs]. */
function checkSplit(op: string, split: unknown, pairs: number): number {
  return expectInteger(op, 'split', split, { min: 0, max: pairs });
}

/** hiropeAngles for a checked table and split; the levels are checked here, under `op`. */
function levelAngles(op: string, token: unknown, unit: unknown, invFreq: Float64Array, split: number, prefix = ''): Tensor {
  const tok = asPositions(token as LevelPositions, op, `${prefix}token`);
  const hi = asPositions(unit as LevelPositions, op, `${prefix}unit`);
  if (tok.shape.length !== hi.shape.length || tok.shape.some((d, i) => d !== hi.shape[i])) {
    throw new ShapeError(op, `${prefix}token=${fmtShape(tok.shape)} and ${prefix}unit=${fmtShape(hi.shape)} differ (one of each per token)`, `${prefix}unit`);
  }
  const P = invFreq.length;
  const out = new Float64Array(tok.size * P);
  for (let t = 0; t < tok.size; t++) {
    const m = tok.data[t]!;
    const u = hi.data[t]!;
    for (let i = 0; i < P; i++) out[t * P + i] = (i < split ? m : u) * invFreq[i]!;
  }
  return new Tensor(out, [...tok.shape, P]);
}

/** Per-token hierarchical positions; `position` (global index, for plain RoPE and the window) defaults to 0…T−1. */
export interface HiropeLevels {
  token: LevelPositions;
  unit: LevelPositions;
  position?: LevelPositions;
}

export interface HiropeScoreOptions {
  invFreq: ArrayLike<number>;
  /** Pairs i < split rotate with p_tok, i ≥ split with p_hi. */
  split: number;
  /** |m − n| < window (global positions) uses plain RoPE logits; others the hierarchical ones. 0: none; ∞: all. */
  window: number;
  /** Default 'half'. */
  layout?: PairLayout;
  /** Multiplier on rotated q and k (the logit gets its square); default 1. */
  attentionFactor?: number;
}

/** Angles [..., T, P] for x [B, H, T, d]: per-sequence positions [B, T] get a head axis, [B, 1, T, P]. */
function forHeads(angles: Tensor): Tensor {
  return angles.ndim === 3 ? angles.reshape([angles.shape[0]!, 1, angles.shape[1]!, angles.shape[2]!]) : angles;
}

/**
 * HiRoPE attention logits ⟨q̃_m, k̃_n⟩ (spec §7, ReRoPE-style merge): two score passes — plain RoPE with global
 * positions and hierarchical angles — merged by the distance mask |m − n| < window, all through differentiable
 * ops (applyRotary, matmul, where). q [..., Tq, d], k [..., Tk, d] with the same heads (repeat grouped KV heads
 * first); positions one HiropeLevels for both (self-attention) or { q, k }. Returns raw dot products [..., Tq, Tk]:
 * the caller applies 1/√d, the causal mask and softmax. A pass that the mask never selects is skipped.
 * The windowed form cannot be one rotation of q and k: a pair's angle would have to depend on the other token.
 */
export function hiropeScores(q: Tensor, k: Tensor, positions: HiropeLevels | { q: HiropeLevels; k: HiropeLevels }, options: HiropeScoreOptions): Tensor {
  const op = 'hiropeScores';
  if (options === undefined) throw new DTypeError(op, 'options must be an options object with invFreq, split and window, got undefined', 'options');
  const o = checkOptions(op, options, ['invFreq', 'split', 'window', 'layout', 'attentionFactor']);
  const invFreq = checkInvFreq(op, 'invFreq', o.invFreq);
  const settings: ScoreSettings = {
    invFreq,
    split: checkSplit(op, o.split, invFreq.length),
    window: checkWindow(op, o.window),
    layout: checkLayout(op, o.layout),
    attentionFactor: checkAttentionFactor(op, o.attentionFactor),
  };
  return scoresOf(op, q, k, positions, settings);
}

/** A window L: a number ≥ 0, Infinity allowed (every pair inside: plain RoPE). */
function checkWindow(op: string, window: unknown): number {
  return expectNumber(op, 'window', window, { min: 0, nonFinite: true });
}

/** hiropeScores' options, checked. */
interface ScoreSettings {
  invFreq: Float64Array;
  split: number;
  window: number;
  layout: PairLayout;
  attentionFactor: number;
}

/** One HiropeLevels argument: an object with token and unit (and optionally position). */
function checkLevels(op: string, arg: string, levels: unknown): HiropeLevels {
  if (levels === null || typeof levels !== 'object' || Array.isArray(levels) || levels instanceof Tensor) {
    throw new DTypeError(op, `${arg} must be an object { token, unit, position? }, got ${describeValue(levels)}`, arg);
  }
  return levels as HiropeLevels;
}

/** hiropeScores with checked settings; q, k and positions are checked here, under `op`. */
function scoresOf(op: string, q: unknown, k: unknown, positions: unknown, settings: ScoreSettings): Tensor {
  const { invFreq, split, window, layout, attentionFactor } = settings;
  expectTensor(op, 'q', q);
  expectTensor(op, 'k', k);
  const R = 2 * invFreq.length;
  const d = q.shape[q.ndim - 1];
  if (q.ndim < 2 || k.ndim < 2 || k.shape[k.ndim - 1] !== d || d! < R || q.ndim !== k.ndim || q.shape.slice(0, -2).some((n, i) => n !== k.shape[i])) {
    throw new ShapeError(op, `need q [..., Tq, d] and k [..., Tk, d] with the same leading axes and d ≥ 2·pairs = ${R} — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)}`, 'q');
  }
  const pair = checkLevels(op, 'positions', positions) as HiropeLevels | { q: HiropeLevels; k: HiropeLevels };
  const split2 = 'q' in pair || 'k' in pair;
  const qLevels = split2 ? checkLevels(op, 'positions.q', (pair as { q: unknown }).q) : (pair as HiropeLevels);
  const kLevels = split2 ? checkLevels(op, 'positions.k', (pair as { k: unknown }).k) : (pair as HiropeLevels);
  const qArg = split2 ? 'positions.q.' : 'positions.';
  const kArg = split2 ? 'positions.k.' : 'positions.';
  const Tq = q.shape[q.ndim - 2]!;
  const Tk = k.shape[k.ndim - 2]!;
  const qPos = qLevels.position === undefined ? arangePositions(Tq) : asPositions(qLevels.position, op, `${qArg}position`);
  const kPos = kLevels.position === undefined ? arangePositions(Tk) : asPositions(kLevels.position, op, `${kArg}position`);
  const qHier = levelAngles(op, qLevels.token, qLevels.unit, invFreq, split, qArg);
  const kHier = levelAngles(op, kLevels.token, kLevels.unit, invFreq, split, kArg);
  const mask = windowMask(op, qPos, kPos, Tq, Tk, window);
  const rot = { layout, scale: attentionFactor, rotaryDim: R };
  const logits = (qa: Tensor, ka: Tensor): Tensor => matmul(rotateBy(op, q, forHeads(qa), rot), rotateBy(op, k, forHeads(ka), rot), { transposeB: true });
  const plain = mask.any ? logits(rotaryAnglesOf(qPos, invFreq), rotaryAnglesOf(kPos, invFreq)) : null;
  const hier = mask.all ? null : logits(qHier, kHier);
  if (hier === null) return plain!;
  if (plain === null) return hier;
  return where(mask.tensor, plain, hier);
}

function arangePositions(T: number): Tensor {
  return new Tensor(Float64Array.from({ length: T }, (_, i) => i), [T]);
}

/** 1 where |m − n| < window: [Tq, Tk] for shared positions, [B, 1, Tq, Tk] for per-sequence ones. */
function windowMask(op: string, qPos: Tensor, kPos: Tensor, Tq: number, Tk: number, window: number): { tensor: Tensor; any: boolean; all: boolean } {
  const check = (p: Tensor, T: number, arg: string): number => {
    if (p.shape[p.ndim - 1] !== T) throw new ShapeError(op, `${arg}=${fmtShape(p.shape)} does not cover ${T} tokens (one position per token)`, arg);
    return p.ndim === 2 ? p.shape[0]! : 1;
  };
  const Bq = check(qPos, Tq, 'positions.q.position');
  const Bk = check(kPos, Tk, 'positions.k.position');
  if (Bq !== Bk && Bq !== 1 && Bk !== 1) throw new ShapeError(op, `query positions=${fmtShape(qPos.shape)} and key positions=${fmtShape(kPos.shape)} have different batches`, 'positions');
  const B = Math.max(Bq, Bk);
  const data = new Float64Array(B * Tq * Tk);
  let count = 0;
  for (let b = 0; b < B; b++) {
    const qo = (Bq === 1 ? 0 : b) * Tq;
    const ko = (Bk === 1 ? 0 : b) * Tk;
    for (let m = 0; m < Tq; m++) {
      for (let n = 0; n < Tk; n++) {
        const inside = Math.abs(qPos.data[qo + m]! - kPos.data[ko + n]!) < window;
        if (inside) count++;
        data[(b * Tq + m) * Tk + n] = inside ? 1 : 0;
      }
    }
  }
  const shape = qPos.ndim === 1 && kPos.ndim === 1 ? [Tq, Tk] : [B, 1, Tq, Tk];
  return { tensor: new Tensor(data, shape), any: count > 0, all: count === data.length };
}

/** HiropeLevels (or plain arrays) → the [T, 2] positions tensor HiRoPE.encodeQK takes: [..., 0] p_tok, [..., 1] p_hi. */
export function hiropePositionTensor(levels: HiropeLevels): Tensor {
  const op = 'hiropePositionTensor';
  checkLevels(op, 'levels', levels);
  const tok = asPositions(levels.token, op, 'token');
  const hi = asPositions(levels.unit, op, 'unit');
  if (levels.position !== undefined) asPositions(levels.position, op, 'position'); // not stored, but a bad one is a mistake
  if (tok.shape.length !== hi.shape.length || tok.shape.some((d, i) => d !== hi.shape[i])) {
    throw new ShapeError(op, `token=${fmtShape(tok.shape)} and unit=${fmtShape(hi.shape)} differ`, 'unit');
  }
  const out = new Float64Array(tok.size * 2);
  for (let t = 0; t < tok.size; t++) {
    out[2 * t] = tok.data[t]!;
    out[2 * t + 1] = hi.data[t]!;
  }
  return new Tensor(out, [...tok.shape, 2]);
}

export interface HiRoPEOptions {
  /** Token-level pairs s (pairs i < s use p_tok); default ⌊pairs/2⌋. */
  split?: number;
  base?: number;
  /** Precomputed inverse frequencies (overrides base; e.g. a scaled table). */
  invFreq?: ArrayLike<number>;
  /** Rotated channels (even, ≤ headDim); default headDim. */
  rotaryDim?: number;
  layout?: PairLayout;
  /** L_window for `scores`; default 0 (pure hierarchical, the only form encodeQK can express). */
  window?: number;
  attentionFactor?: number;
}

/**
 * HiRoPE as a positional encoding. encodeQK rotates q and k by hierarchical angles — the window-0 form (no
 * token is inside a window of 0), which a single rotation of q and k can express; positions are [T, 2] or
 * [B, T, 2] (p_tok, p_hi), see `hiropePositionTensor`. The windowed form needs two score passes: `scores()` /
 * `hiropeScores`. (window = ∞ would be plain RoPE with global positions.)
 */
export class HiRoPE extends PositionalEncoding {
  readonly name: string = 'hirope';
  readonly invFreq: Float64Array;
  readonly split: number;
  readonly rotaryDim: number;
  readonly layout: PairLayout;
  readonly window: number;
  readonly attentionFactor: number;

  constructor(readonly headDim: number, options: HiRoPEOptions = {}) {
    super();
    const op = 'HiRoPE';
    checkSize(op, 'headDim', headDim);
    const o = checkOptions(op, options, ['split', 'base', 'invFreq', 'rotaryDim', 'layout', 'window', 'attentionFactor']);
    this.rotaryDim = o.rotaryDim === undefined ? checkRotaryDim(op, 'headDim', headDim) : checkRotaryDim(op, 'rotaryDim', o.rotaryDim, headDim);
    const P = this.rotaryDim / 2;
    this.invFreq = o.invFreq !== undefined
      ? checkInvFreq(op, 'invFreq', o.invFreq, P)
      : invFreqLadder(this.rotaryDim, o.base === undefined ? 10000 : checkBase(op, 'base', o.base));
    this.split = o.split === undefined ? Math.floor(P / 2) : checkSplit(op, o.split, P);
    this.layout = checkLayout(op, o.layout);
    this.window = o.window === undefined ? 0 : checkWindow(op, o.window);
    this.attentionFactor = checkAttentionFactor(op, o.attentionFactor);
  }

  /** Hierarchical angles [T, P] (or [B, 1, T, P]) from positions [T, 2] (or [B, T, 2]). */
  angles(positions: Positions): Tensor {
    return this.anglesAs('positions', positions);
  }

  private anglesAs(arg: string, positions: Positions): Tensor {
    checkPositions('HiRoPE', arg, positions);
    const { token, unit } = splitLevels(arg, positions);
    return forHeads(levelAngles('HiRoPE', token, unit, this.invFreq, this.split));
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    if (this.window > 0) {
      throw new ValueError('HiRoPE.encodeQK', `a window needs two score passes — window=${this.window} (one rotation of q and k is the window-0 form; use scores() / hiropeScores)`, 'window');
    }
    checkHead('HiRoPE', 'q', q, this.headDim);
    checkHead('HiRoPE', 'k', k, this.headDim);
    const rot = { layout: this.layout, scale: this.attentionFactor, rotaryDim: this.rotaryDim };
    return { q: rotateBy('HiRoPE', q, this.anglesAs('qPositions', qPositions), rot), k: rotateBy('HiRoPE', k, this.anglesAs('kPositions', kPositions), rot) };
  }

  /** Windowed HiRoPE logits with this encoding's table, split and window (see hiropeScores). */
  scores(q: Tensor, k: Tensor, positions: HiropeLevels | { q: HiropeLevels; k: HiropeLevels }): Tensor {
    checkHead('HiRoPE', 'q', q, this.headDim);
    checkHead('HiRoPE', 'k', k, this.headDim);
    return scoresOf('HiRoPE', q, k, positions, { invFreq: this.invFreq, split: this.split, window: this.window, layout: this.layout, attentionFactor: this.attentionFactor });
  }
}

/** [..., T, 2] positions → p_tok and p_hi tensors [..., T]. */
function splitLevels(arg: string, positions: Positions): { token: Tensor; unit: Tensor } {
  if ((positions.ndim !== 2 && positions.ndim !== 3) || positions.shape[positions.ndim - 1] !== 2) {
    throw new ShapeError('HiRoPE', `${arg}=${fmtShape(positions.shape)} must be [T, 2] or [B, T, 2] (p_tok, p_hi; see hiropePositionTensor)`, arg);
  }
  const shape = positions.shape.slice(0, -1);
  const n = positions.size / 2;
  const token = new Float64Array(n);
  const unit = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    token[t] = positions.data[2 * t]!;
    unit[t] = positions.data[2 * t + 1]!;
  }
  return { token: new Tensor(token, shape), unit: new Tensor(unit, shape) };
}
