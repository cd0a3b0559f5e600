/**
 * The registry of issue 17's reproductions (scripts/reproduce.ts runs them; each module under scripts/experiments/
 * exports its `Reproduction`), in the order of the spec's table (../shared/specs/reproductions.md §0), and the spec's
 * protocols that have none yet, which docs/results.md lists as not run.
 */
import { reproduction as baseBoundFt } from './experiments/base-bound-ft.js';
import { reproduction as baseBoundFtLong } from './experiments/base-bound-ft-long.js';
import { reproduction as baseBoundRetrieval } from './experiments/base-bound-retrieval.js';
import { reproduction as baseBoundWindow } from './experiments/base-bound-window.js';
import { reproduction as bf16Shift } from './experiments/bf16-shift.js';
import { reproduction as contextExtension } from './experiments/context-extension.js';
import { reproduction as contextExtensionFt } from './experiments/context-extension-ft.js';
import { reproduction as control } from './experiments/control.js';
import { reproduction as dropeHeading } from './experiments/drope-heading.js';
import { reproduction as dropeInteraction } from './experiments/drope-interaction.js';
import { reproduction as dropeInteractionLong } from './experiments/drope-interaction-long.js';
import { reproduction as dropeTurns } from './experiments/drope-turns.js';
import { reproduction as elitekv } from './experiments/elitekv.js';
import { reproduction as freeflux } from './experiments/freeflux.js';
import { reproduction as hiropeCode } from './experiments/hirope-code.js';
import { reproduction as kvRetrieval } from './experiments/kv-retrieval.js';
import { reproduction as memoryRecall } from './experiments/memory-recall.js';
import { reproduction as mlaSpectrum } from './experiments/mla-spectrum.js';
import { reproduction as pathState } from './experiments/path-state.js';
import { reproduction as propeFrequency } from './experiments/prope-frequency.js';
import { reproduction as pscCalibration } from './experiments/psc-calibration.js';
import { reproduction as roadFinetune } from './experiments/road-finetune.js';
import { reproduction as roformerMlm } from './experiments/roformer-mlm.js';
import { reproduction as videoNeedle } from './experiments/video-needle.js';
import { reproduction as vitResolution } from './experiments/vit-resolution.js';
import type { Reproduction } from './lib/reproduction.js';

export const REPRODUCTIONS: readonly Reproduction[] = [
  roformerMlm, contextExtension, contextExtensionFt, propeFrequency, baseBoundRetrieval, baseBoundWindow, baseBoundFt, baseBoundFtLong, bf16Shift, pscCalibration, hiropeCode, vitResolution, videoNeedle,
  dropeHeading, dropeTurns, dropeInteraction, dropeInteractionLong, pathState, memoryRecall, mlaSpectrum, kvRetrieval, elitekv, roadFinetune, control, freeflux,
];

/** The spec's protocols with no reproduction here yet (none: every protocol has one). */
export const NOT_YET_RUN: ReadonlyArray<{ paper: string; section: string }> = [];
