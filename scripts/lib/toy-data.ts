/**
 * The shared toy data of the reproduction experiments (docs: ../shared/specs/reproductions.md §1.3), so that every
 * protocol draws its text and its retrieval episodes from one place:
 *
 * - G1, Markov "text": a second-order chain over 48 letter tokens; every context (a, b) has 3 distinct successors with
 *   probabilities (0.6, 0.3, 0.1), from a table fixed by a seed (1234). Its entropy rate is exactly
 *   H = −Σ p ln p = 0.898 nats/token, the loss floor a model of the text can reach (the Bayes floor).
 * - G2, retrieval episodes in that text: `MARK k v1 v2 v3` at an exactly controlled distance before the closing
 *   `QUERY k v1 v2 v3`; the model must copy the three digits. Distance = position(QUERY) − position(MARK k).
 *   Distractor blocks carry other keys.
 *
 * - G4, the regime-matched RoPE base: toy heads are small and contexts short, so base 10000 leaves the slow pairs
 *   nearly still (NoPE-like) over the context; regimeMatchedBase picks the base that gives LLaMA-2's ratio of context to
 *   slowest wavelength.
 *
 * Vocabulary (64 tokens): 0–47 letters (keys are letters 0–15), 48–57 digits, 58 BOS, 59 MARK, 60 QUERY, 61 SEP,
 * 62–63 spare. Every sequence starts with BOS.
 */
import { Generator } from '../../core/index.js';

export const TOY_VOCAB = {
  size: 64,
  letters: 48,
  firstDigit: 48,
  digits: 10,
  keys: 16,
  BOS: 58,
  MARK: 59,
  QUERY: 60,
  SEP: 61,
} as const;

/** Tokens of one retrieval block: MARK, the key and three value digits. */
export const RETRIEVAL_BLOCK = 5;

export interface MarkovTextOptions {
  /** Seed of the successor table; default 1234 (the spec's). */
  tableSeed?: number;
  /** Probabilities of the successors of every context, descending, summing to 1; default [0.6, 0.3, 0.1]. */
  probs?: readonly number[];
}

/** G1: a second-order Markov chain over the letter tokens with a seeded successor table. */
export class MarkovText {
  /** Successor table [48, 48, k]: successors[(a·48 + b)·k + j] follows context (a, b) with probability probs[j]. */
  readonly successors: Int32Array;
  readonly probs: Float64Array;

  constructor(options: MarkovTextOptions = {}) {
    const probs = options.probs ?? [0.6, 0.3, 0.1];
    if (probs.length < 1 || probs.length > TOY_VOCAB.letters || probs.some((p) => !(p > 0)) || Math.abs(probs.reduce((a, b) => a + b, 0) - 1) > 1e-12) {
      throw new RangeError(`MarkovText: probs must be 1–${TOY_VOCAB.letters} positive numbers summing to 1, got [${probs.join(', ')}]`);
    }
    const tableSeed = options.tableSeed ?? 1234;
    if (!Number.isInteger(tableSeed) || tableSeed < 0) throw new RangeError(`MarkovText: tableSeed must be an integer ≥ 0, got ${tableSeed}`);
    this.probs = Float64Array.from(probs);
    const k = probs.length;
    const L = TOY_VOCAB.letters;
    const g = new Generator(tableSeed);
    this.successors = new Int32Array(L * L * k);
    const letters = Array.from({ length: L }, (_, i) => i);
    for (let c = 0; c < L * L; c++) {
      // k distinct successors: the first k of a partial Fisher–Yates shuffle
      for (let j = 0; j < k; j++) {
        const pick = g.int(j, L);
        [letters[j], letters[pick]] = [letters[pick]!, letters[j]!];
        this.successors[c * k + j] = letters[j]!;
      }
    }
  }

  /** Entropy rate in nats per token: −Σ p ln p (every context's successors are distinct). */
  get entropyRate(): number {
    return -this.probs.reduce((h, p) => h + p * Math.log(p), 0);
  }

  /** One letter after context (a, b), drawn with `g`. */
  next(a: number, b: number, g: Generator): number {
    const k = this.probs.length;
    let u = g.random();
    for (let j = 0; j < k - 1; j++) {
      u -= this.probs[j]!;
      if (u < 0) return this.successors[(a * TOY_VOCAB.letters + b) * k + j]!;
    }
    return this.successors[(a * TOY_VOCAB.letters + b) * k + k - 1]!;
  }

  /** `length` letters of the chain: two uniform letters, then the chain. */
  sample(length: number, g: Generator): Int32Array {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`MarkovText.sample: length must be an integer ≥ 0, got ${length}`);
    const out = new Int32Array(length);
    for (let t = 0; t < length; t++) out[t] = t < 2 ? g.int(0, TOY_VOCAB.letters) : this.next(out[t - 2]!, out[t - 1]!, g);
    return out;
  }

  /** ln P(x_t | x_{t−2}, x_{t−1}) summed over t ≥ 2 (−∞ if a transition is impossible); x: letters only. */
  logLikelihood(x: ArrayLike<number>): number {
    const k = this.probs.length;
    let total = 0;
    for (let t = 2; t < x.length; t++) {
      const c = (x[t - 2]! * TOY_VOCAB.letters + x[t - 1]!) * k;
      let j = 0;
      while (j < k && this.successors[c + j] !== x[t]) j++;
      total += j < k ? Math.log(this.probs[j]!) : -Infinity;
    }
    return total;
  }
}

/** A text document: BOS and `length − 1` letters of the chain, [length] token ids. */
export function textDocument(length: number, g: Generator, text: MarkovText = new MarkovText()): Int32Array {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`textDocument: length must be an integer ≥ 1 (BOS and the letters), got ${length}`);
  const tokens = new Int32Array(length);
  tokens[0] = TOY_VOCAB.BOS;
  tokens.set(text.sample(length - 1, g), 1);
  return tokens;
}

export interface RetrievalEpisodeOptions {
  /** Sequence length, BOS and the closing `QUERY k v1 v2 v3` included. */
  length: number;
  /** position(QUERY) − position(MARK k): at least RETRIEVAL_BLOCK (the block ends before the query). */
  distance: number;
  /** Blocks with other keys placed in the filler (default 0). */
  distractors?: number;
  generator: Generator;
  /** The filler text; default a MarkovText with the spec's table. */
  text?: MarkovText;
}

export interface RetrievalEpisode {
  /** [length] token ids. */
  tokens: Int32Array;
  key: number;
  /** The three value digits (token ids). */
  values: [number, number, number];
  markPosition: number;
  queryPosition: number;
  /** Positions of the three answer tokens (what a model is scored on): queryPosition + 2 … + 4. */
  answerPositions: [number, number, number];
}

/**
 * G2: BOS, Markov filler, `MARK k v1 v2 v3` at queryPosition − distance, distractor blocks with other keys at
 * random free positions, and `QUERY k v1 v2 v3` closing the sequence (queryPosition = length − 5).
 */
export function retrievalEpisode(options: RetrievalEpisodeOptions): RetrievalEpisode {
  const { length, distance, generator: g } = options;
  const distractors = options.distractors ?? 0;
  if (!Number.isInteger(length) || !Number.isInteger(distance) || !Number.isInteger(distractors) || distractors < 0) {
    throw new RangeError(`retrievalEpisode: length, distance and distractors must be integers (distractors ≥ 0), got ${length}, ${distance}, ${distractors}`);
  }
  const queryPosition = length - RETRIEVAL_BLOCK;
  const markPosition = queryPosition - distance;
  if (distance < RETRIEVAL_BLOCK || markPosition < 1) {
    throw new RangeError(`retrievalEpisode: distance must be ≥ ${RETRIEVAL_BLOCK} and leave room for BOS — distance=${distance}, length=${length} (at most ${length - RETRIEVAL_BLOCK - 1})`);
  }
  if (distractors > TOY_VOCAB.keys - 1) throw new RangeError(`retrievalEpisode: at most ${TOY_VOCAB.keys - 1} distractors (one per other key), got ${distractors}`);
  const tokens = textDocument(length, g, options.text);
  const occupied = new Uint8Array(length);
  occupied[0] = 1;
  const digit = (): number => TOY_VOCAB.firstDigit + g.int(0, TOY_VOCAB.digits);
  const place = (at: number, key: number, values: readonly number[]): void => {
    tokens.set([TOY_VOCAB.MARK, key, ...values], at);
    occupied.fill(1, at, at + RETRIEVAL_BLOCK);
  };
  const key = g.int(0, TOY_VOCAB.keys);
  const values: [number, number, number] = [digit(), digit(), digit()];
  place(queryPosition, key, values);
  tokens[queryPosition] = TOY_VOCAB.QUERY;
  place(markPosition, key, values);
  // distractor blocks: other keys, at free starts (a block never overlaps another)
  const others = Array.from({ length: TOY_VOCAB.keys }, (_, i) => i).filter((k) => k !== key);
  for (let i = 0; i < distractors; i++) {
    const free: number[] = [];
    for (let s = 1; s + RETRIEVAL_BLOCK <= queryPosition; s++) if (!occupied.subarray(s, s + RETRIEVAL_BLOCK).some((o) => o === 1)) free.push(s);
    if (free.length === 0) throw new RangeError(`retrievalEpisode: no room for ${distractors} distractor blocks in length ${length}`);
    const other = others.splice(g.int(0, others.length), 1)[0]!;
    place(free[g.int(0, free.length)]!, other, [digit(), digit(), digit()]);
  }
  return { tokens, key, values, markPosition, queryPosition, answerPositions: [queryPosition + 2, queryPosition + 3, queryPosition + 4] };
}

/** LLaMA-2's L/λ_max: 4096 / (2π·10000^(126/128)) ≈ 0.0753 (G4). */
export const LLAMA2_CONTEXT_PER_WAVELENGTH = 4096 / (2 * Math.PI * Math.pow(10000, 126 / 128));

/**
 * G4: the base b whose slowest wavelength λ_max = 2π·b^((d−2)/d) puts L/λ_max at LLaMA-2's value; ≈ 400 for d = 32 at
 * L = 128, ≈ 274 for d = 16 at L = 64. (A head of 2 has one pair at θ = 1 whatever the base: 10000 then.)
 */
export function regimeMatchedBase(headDim: number, contextLength: number): number {
  if (headDim <= 2) return 10000;
  return Math.pow(contextLength / (2 * Math.PI * LLAMA2_CONTEXT_PER_WAVELENGTH), headDim / (headDim - 2));
}

// ── G2, multi-query: several keys marked, each queried once ─────────────────────────────────────────────────────

export interface MultiQuery {
  key: number;
  /** The value digits (token ids), `values` of them. */
  values: number[];
  markPosition: number;
  queryPosition: number;
  /** queryPosition − markPosition. */
  distance: number;
  /** The answer digits' positions: queryPosition + 2, …. */
  answerPositions: number[];
}

export interface MultiQueryEpisode {
  /** [length] token ids: BOS, G1 filler, the MARK and QUERY blocks. */
  tokens: Int32Array;
  /** One per pair, in the order of `distances` (the controlled ones first). */
  queries: MultiQuery[];
}

export interface MultiQueryOptions {
  /** Tokens, BOS included. */
  length: number;
  /** Keys marked (distinct), each queried once: 1–16. */
  pairs: number;
  /** Value digits per block, 1–3 (default 3: `MARK k v1 v2 v3`, the G2 block). */
  values?: number;
  /**
   * The first of the 16 key tokens (default 0: the letters 0–15, which the filler also uses). A model vocabulary that
   * adds 16 tokens after TOY_VOCAB.size can pass TOY_VOCAB.size for keys that never occur in the filler.
   */
  firstKey?: number;
  /** Distances of the first pairs (each ≥ the block length); the others are drawn uniformly up to maxDistance. */
  distances?: readonly number[];
  /** Largest drawn distance; default length − block − 1 (a MARK right after BOS, its QUERY closing the sequence). */
  maxDistance?: number;
  generator: Generator;
  text?: MarkovText;
}

/** How often a drawn distance is redrawn when its pair finds no room, before it is drawn among those with room. */
const PLACEMENT_TRIES = 50;

/**
 * G2, multi-key multi-query (the spec's "multi-key, multi-query" variant; Zoology's MQAR in filler): `pairs` blocks
 * `MARK k v…` with distinct keys and, for each, a block `QUERY k v…` exactly `distance` tokens later, in G1 filler;
 * blocks never overlap. The controlled pairs are placed first; one that finds no room throws. A drawn distance without
 * room is redrawn (uniform while the sequence is roomy, so every distance is trained); failing that, it is drawn among
 * the distances that still have room.
 */
export function multiQueryEpisode(options: MultiQueryOptions): MultiQueryEpisode {
  const { length, pairs, generator: g } = options;
  const valueCount = options.values ?? 3;
  const firstKey = options.firstKey ?? 0;
  if (!Number.isInteger(valueCount) || valueCount < 1 || valueCount > 3) throw new RangeError(`multiQueryEpisode: values must be 1, 2 or 3, got ${valueCount}`);
  if (!Number.isInteger(firstKey) || firstKey < 0) throw new RangeError(`multiQueryEpisode: firstKey must be an integer ≥ 0, got ${firstKey}`);
  const block = 2 + valueCount;
  const distances = options.distances ?? [];
  const longest = length - block - 1;
  const maxDistance = options.maxDistance ?? longest;
  if (!Number.isInteger(length) || !Number.isInteger(pairs) || pairs < 1 || pairs > TOY_VOCAB.keys) {
    throw new RangeError(`multiQueryEpisode: length and pairs must be integers, pairs 1–${TOY_VOCAB.keys}, got ${length}, ${pairs}`);
  }
  if (distances.length > pairs) throw new RangeError(`multiQueryEpisode: ${distances.length} distances for ${pairs} pairs`);
  for (const d of [...distances, maxDistance]) {
    if (!Number.isInteger(d) || d < block || d > longest) {
      throw new RangeError(`multiQueryEpisode: distances must be integers in [${block}, ${longest}] for length ${length}, got ${d}`);
    }
  }
  const tokens = textDocument(length, g, options.text);
  const occupied = new Uint8Array(length);
  occupied[0] = 1;
  const free = (at: number): boolean => {
    for (let i = at; i < at + block; i++) if (i >= length || occupied[i] === 1) return false;
    return true;
  };
  const keys = Array.from({ length: TOY_VOCAB.keys }, (_, i) => firstKey + i);
  const queries: MultiQuery[] = [];
  // mark starts s at which both blocks (s and s + d) are free
  const startsFor = (d: number): number[] => {
    const starts: number[] = [];
    for (let s = 1; s + d + block <= length; s++) if (free(s) && free(s + d)) starts.push(s);
    return starts;
  };
  for (let p = 0; p < pairs; p++) {
    const controlled = p < distances.length;
    let distance = controlled ? distances[p]! : g.int(block, maxDistance + 1);
    let starts = startsFor(distance);
    for (let attempt = 1; !controlled && starts.length === 0 && attempt < PLACEMENT_TRIES; attempt++) {
      distance = g.int(block, maxDistance + 1);
      starts = startsFor(distance);
    }
    if (!controlled && starts.length === 0) {
      const open: number[] = [];
      for (let d = block; d <= maxDistance; d++) if (startsFor(d).length > 0) open.push(d);
      if (open.length > 0) {
        distance = open[g.int(0, open.length)]!;
        starts = startsFor(distance);
      }
    }
    if (starts.length === 0) throw new RangeError(`multiQueryEpisode: no room for pair ${p} (of ${pairs}) in length ${length}${controlled ? ` at distance ${distance}` : ''}`);
    const mark = starts[g.int(0, starts.length)]!;
    const query = mark + distance;
    const key = keys.splice(g.int(0, keys.length), 1)[0]!;
    const values = Array.from({ length: valueCount }, () => TOY_VOCAB.firstDigit + g.int(0, TOY_VOCAB.digits));
    tokens.set([TOY_VOCAB.MARK, key, ...values], mark);
    tokens.set([TOY_VOCAB.QUERY, key, ...values], query);
    occupied.fill(1, mark, mark + block);
    occupied.fill(1, query, query + block);
    queries.push({ key, values, markPosition: mark, queryPosition: query, distance, answerPositions: values.map((_, i) => query + 2 + i) });
  }
  return { tokens, queries };
}
