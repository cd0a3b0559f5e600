/** fast-check settings and arbitraries shared by the property tests. */
import fc from 'fast-check';

/** Fixed by default so CI is reproducible; FC_SEED=<n> replays another seed (fast-check prints it on failure). */
export const FC_SEED = Number(process.env['FC_SEED'] ?? 20261125);

export function fcParams(numRuns = 60): fc.Parameters<unknown> {
  return { seed: FC_SEED, numRuns, endOnFailure: true, includeErrorInReport: true };
}

/** A shape of rank 0..maxRank with sizes 0..maxDim (size-1 axes are common). */
export function shapeArb(maxRank = 5, maxDim = 4, minDim = 0): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: 0, maxLength: maxRank });
}

/** Two shapes that broadcast: b is a suffix of a with some sizes replaced by 1, and the roles may swap. */
export function broadcastablePairArb(maxRank = 5, maxDim = 4): fc.Arbitrary<[number[], number[]]> {
  return shapeArb(maxRank, maxDim, 1).chain((full) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: full.length }),
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
        fc.boolean(),
      )
      .map(([drop, onesA, onesB, swap]) => {
        const a = full.map((d, i) => (onesA[i] ? 1 : d));
        const b = full.slice(drop).map((d, i) => (onesB[i + drop] ? 1 : d));
        return (swap ? [b, a] : [a, b]) as [number[], number[]];
      }),
  );
}

/** Two shapes that do NOT broadcast: some aligned axis has sizes ≥ 2 that differ. */
export function nonBroadcastablePairArb(maxRank = 4, maxDim = 4): fc.Arbitrary<[number[], number[]]> {
  return fc
    .tuple(shapeArb(maxRank - 1, maxDim, 1), shapeArb(maxRank - 1, maxDim, 1), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 5 }))
    .map(([left, right, d, delta]) => [
      [...left, d, ...right],
      [d + delta, ...right],
    ]);
}

/** Float64 values for a shape, bounded and finite. */
export function valuesArb(size: number, bound = 3): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: -bound, max: bound, noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size });
}
