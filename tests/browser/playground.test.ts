/**
 * The RoPE playground (docs/playground/, served by scripts/playground.ts) in headless Chromium: the page opens,
 * knobs are changed through the form (select / fill, as a user would), every plot redraws, and the numbers the page
 * computed (window.__playground, the summary's data- attributes) equal what ropelab computes here in Node for the
 * same knobs — each expected value from the library's public functions called directly (not through the page's
 * compute.ts), the scores from a naive rotation written here. Screenshots go to out/playground-test/.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import {
  decayCurve, firstNegativeDistance, longTermDecay, minimalBase, mropePositions, pRopeInvFreq, ropeInvFreq, ropeVitAxialAngles, videoRopePositions,
  yarnAttentionFactor, yarnInvFreq, yarnPairRegimes,
} from '../../positional/index.js';
import type { PlaygroundState } from '../../docs/playground/main.js';
import { launchChromiumFor, type ChromiumSession, type PageServer } from '../../scripts/lib/chromium.js';
import { servePlayground } from '../../scripts/playground.js';
import { browserSuiteSkipped } from './harness.js';

const SHOTS = 'out/playground-test';
const FIGURES = ['ladder', 'angles', 'decay', 'scores'] as const;

/**
 * Element-wise equal to within `ulps` units in the last place of the Node value (default 4). Not Object.is: the
 * page's V8 (Chromium's) and Node 20's differ in the last bit of some Math.pow results (base^(−2i/d) at base 1e4,
 * d = 64, i = 20: 0.003162277660168379 in the page, 0.00316227766016838 in Node), and every table starts there.
 */
function same(label: string, got: ArrayLike<number>, want: ArrayLike<number>, ulps = 4): void {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!(Object.is(g, w) || Math.abs(g - w) <= ulps * Number.EPSILON * Math.abs(w))) {
      assert.unreachable(`${label}[${i}]: page ${got[i]} vs Node ${want[i]} (lengths ${got.length}, ${want.length})`);
    }
  }
}

function close(label: string, got: readonly number[], want: readonly number[], tol = 1e-12): void {
  assert.is(got.length, want.length, `${label}: length`);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)), `${label}[${i}]: page ${g} vs Node ${want[i]}`));
}

/**
 * ⟨R(0)q, R(m)k⟩/√D by hand: pair i is channels (i, i + R/2) ('half') or (2i, 2i + 1) ('interleaved') of the first R
 * channels, rotated by m·θ_i and multiplied by s; the other channels pass through.
 */
function naiveScores(q: readonly number[], k: readonly number[], theta: ArrayLike<number>, layout: 'half' | 'interleaved', s: number, tokens: number): number[] {
  const D = q.length;
  const R = 2 * theta.length;
  const rot = (x: readonly number[], m: number): number[] => {
    const y = x.slice();
    for (let i = 0; i < theta.length; i++) {
      const [a, b] = layout === 'half' ? [i, i + R / 2] : [2 * i, 2 * i + 1];
      const c = Math.cos(m * theta[i]!);
      const sn = Math.sin(m * theta[i]!);
      y[a] = s * (x[a]! * c - x[b]! * sn);
      y[b] = s * (x[a]! * sn + x[b]! * c);
    }
    return y;
  };
  const q0 = rot(q, 0);
  return Array.from({ length: tokens }, (_, m) => rot(k, m).reduce((acc, v, c) => acc + v * q0[c]!, 0) / Math.sqrt(D));
}

async function readState(page: Page): Promise<PlaygroundState> {
  return page.evaluate(() => (window as unknown as { __playground: PlaygroundState }).__playground);
}

async function figures(page: Page): Promise<Record<string, string>> {
  return page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, document.getElementById(id)!.innerHTML])), [...FIGURES, 'positions']);
}

/** Sets knobs through the form as a user would (select or type), then returns the page's state. */
async function setKnobs(page: Page, knobs: Record<string, string>): Promise<PlaygroundState> {
  for (const [name, value] of Object.entries(knobs)) {
    const tag = await page.locator(`[name="${name}"]`).evaluate((el) => el.tagName);
    if (tag === 'SELECT') await page.selectOption(`select[name="${name}"]`, value);
    else await page.fill(`input[name="${name}"]`, value);
  }
  const state = await readState(page);
  assert.is(state.error, '', 'the page computed without an error');
  return state;
}

if (!browserSuiteSkipped()) {
  let opened: Promise<{ chromium: ChromiumSession; server: PageServer; page: Page }> | undefined;
  const open = (): Promise<{ chromium: ChromiumSession; server: PageServer; page: Page }> =>
    (opened ??= (async () => {
      const server = await servePlayground();
      const chromium = await launchChromiumFor(server);
      const page = await chromium.newPage();
      await page.setViewportSize({ width: 1400, height: 1300 });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.origin}/`);
      await page.waitForFunction(() => ((window as unknown as { __playground?: PlaygroundState }).__playground?.revision ?? 0) > 0, null, { timeout: 20_000 });
      assert.equal(errors, [], 'no page errors');
      mkdirSync(SHOTS, { recursive: true });
      return { chromium, server, page };
    })());
  test.after(async () => {
    const o = await opened?.catch(() => undefined);
    await o?.chromium.close();
    await o?.server.close();
  });

  test('default knobs: plain RoPE ladder, decay, m0 = firstNegativeDistance, minimalBase and the scores equal Node', async () => {
    const { page } = await open();
    const s = await readState(page);
    const r = s.result!;
    assert.is(r.knobs.variant, 'rope');
    same('invFreq', r.invFreq, ropeInvFreq(64, 10000));
    assert.ok(r.regimes.every((g) => g === 'extrapolated'), 'no scaling: every pair kept');
    close('decay', r.decay.flat(), decayCurve(ropeInvFreq(64, 10000), { maxDistance: 8192, points: 200 }).flat(), 1e-13);
    assert.is(r.m0, firstNegativeDistance(10000, 64));
    assert.is(r.minimalBase, minimalBase(4096, 64));
    const summary = await page.locator('#summary').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    assert.is(Number(summary['m0']), r.m0, 'the summary shows m0');
    assert.is(Number(summary['minimalBase']), r.minimalBase, 'the summary shows the minimal base');
    close('scores (random q, k)', r.scoresRandom, naiveScores(r.q, r.k, ropeInvFreq(64, 10000), 'half', 1, 128));
    close('scores (k = q)', r.scoresSimilar, naiveScores(r.q, r.q, ropeInvFreq(64, 10000), 'half', 1, 128));
    assert.is(await page.locator('#angles rect').count() >= 128 * 32, true, 'the heatmap has a cell per (position, pair)');
    await page.screenshot({ path: `${SHOTS}/rope.png`, fullPage: true });
  });

  test('YaRN knobs (base, factor, L, layout, rotary fraction): every plot redraws and the numbers equal Node', async () => {
    const { page } = await open();
    const before = await figures(page);
    const s = await setKnobs(page, { scaling: 'yarn', base: '500000', factor: '8', originalMaxPositions: '2048', layout: 'interleaved', rotaryFraction: '0.5' });
    const after = await figures(page);
    for (const id of FIGURES) assert.not.equal(after[id], before[id], `${id} redrew`);
    const r = s.result!;
    const o = { dim: 32, base: 500000, factor: 8, originalMaxPositions: 2048 };
    assert.is(r.rotaryDim, 32);
    same('invFreq', r.invFreq, yarnInvFreq(o));
    assert.equal(r.regimes, yarnPairRegimes(o));
    assert.ok(r.regimes.includes('interpolated') && r.regimes.includes('extrapolated'), `both regimes occur: ${r.regimes.join(' ')}`);
    assert.is(r.attentionFactor, yarnAttentionFactor({ factor: 8 }));
    assert.is(r.targetContext, 8 * 2048);
    assert.is(r.minimalBase, minimalBase(8 * 2048, 32));
    let m0 = Infinity;
    for (let m = 0; m <= 1 << 16; m++) if (longTermDecay(m, r.invFreq) < 0) { m0 = m; break; }
    assert.is(r.m0, m0, 'm0: first m with longTermDecay < 0');
    close('scores', r.scoresRandom, naiveScores(r.q, r.k, yarnInvFreq(o), 'interleaved', yarnAttentionFactor({ factor: 8 }), 128));
    await page.screenshot({ path: `${SHOTS}/yarn.png`, fullPage: true });
  });

  test('p-RoPE: p keeps the fastest pairs, the rest are NoPE', async () => {
    const { page } = await open();
    const s = await setKnobs(page, { variant: 'p-rope', p: '0.5', factor: '1', base: '10000', layout: 'half' });
    same('invFreq', s.result!.invFreq, pRopeInvFreq(64, 0.5, { base: 10000, factor: 1 }));
    assert.is(s.result!.regimes.filter((g) => g === 'nope').length, 16);
  });

  test('multi-axis: M-RoPE and VideoRoPE position ids of text + image + video follow the grid knobs', async () => {
    const { page } = await open();
    const segments = (h: number, w: number, t: number) => [
      { type: 'text', length: 4 }, { type: 'image', grid: [1, 2 * h, 2 * w] }, { type: 'text', length: 3 },
      { type: 'video', grid: [t, 2 * h, 2 * w] }, { type: 'text', length: 3 },
    ] as const;
    let s = await setKnobs(page, { variant: 'mrope', base: '1000000', gridH: '2', gridW: '3', frames: '4' });
    const want = mropePositions(segments(2, 3, 4) as never);
    assert.is(s.result!.positionIds.length, 3);
    want.ids.forEach((row, a) => same(`mrope ids[${a}]`, s.result!.positionIds[a]!, row));
    assert.is(await page.locator('#positions .series').count(), 3, 'one line per axis');
    await page.screenshot({ path: `${SHOTS}/mrope.png`, fullPage: true });
    const before = await figures(page);
    s = await setKnobs(page, { variant: 'video-rope', frames: '2' });
    assert.not.equal((await figures(page))['positions'], before['positions'], 'positions redrew');
    videoRopePositions(segments(2, 3, 2) as never).ids.forEach((row, a) => same(`video-rope ids[${a}]`, s.result!.positionIds[a]!, row));
  });

  test('RoPE-ViT axial: the 2-D angle table over the gridW × gridH patches equals ropeVitAxialAngles', async () => {
    const { page } = await open();
    const s = await setKnobs(page, { variant: 'rope-vit-axial', base: '100', gridH: '3', gridW: '5' });
    const want = ropeVitAxialAngles({ dim: 64, gridW: 5, gridH: 3, theta: 100 });
    close('angles', s.result!.angles.flat(), Array.from(want.data), 1e-14);
    assert.is(await page.locator('#angles .cells').getAttribute('data-rows'), '15');
    await page.screenshot({ path: `${SHOTS}/rope-vit.png`, fullPage: true });
  });

  test.run();
}
