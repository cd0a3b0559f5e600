/**
 * `ropelab verify`: check another implementation's RoPE against ropelab's reference for a config.json and, when they
 * differ, name the known porting bug that explains it (positional/conformance.ts: verifyRoPEDump, where the dump's
 * naming convention and the bug classes are documented). The dump is a safetensors file (F32, F64, BF16, F16; integer
 * position tensors are read as float64, exactly) or a JSON object { name: nested number arrays | number }.
 * Exit status: 0 the dump conforms, 1 it does not (the diagnosis, or "no known cause"), 2 a bad argument, an unreadable
 * file or a refused config (a FlagError or the library's typed error, printed by cli.ts).
 */
import { DTypeError, Tensor, ValueError } from '../core/index.js';
import { parseSafetensors } from '../nn/index.js';
import { verifyRoPEDump, type RoPEVerifyReport } from '../positional/conformance.js';
import type { PairLayout } from '../positional/rope.js';
import { FlagError, choiceFlag, numberFlag, parseFlags, pathFlag } from '../scripts/lib/flags.js';
import { readFileArgument, readJsonObject, type CliCommand, type CliIO } from './command.js';

const NAME = 'verify';

const HELP = `usage: ropelab verify --config config.json --dump dump.safetensors|dump.json [--layer-type T] [--layout half|interleaved] [--tolerance x] [--json]

Compares a dump of another implementation's RoPE with ropelab's reference for the config (transformers' semantics)
and, when they differ, tests the known bug classes and reports the one that explains the dump:
  pair-layout                 tables/rotation in the other pair layout (cat vs repeat_interleave, rotate_half vs pairs)
  low-precision-frequencies   inv_freq in bfloat16 or float16, or the angles position·inv_freq in bfloat16
  attention-factor            attention factor missing or applied twice
  partial-rotary-denominator  exponent over head_dim instead of the rotary dim (p-RoPE: the reverse)
  scaling-regime              the table of another rope type (default, linear, dynamic, yarn, llama3, longrope)
  longrope-switch             LongRoPE's short/long factors switched at the wrong length
  mrope-decode-ids            M-RoPE decode positions without rope_deltas
  position-offset             positions off by one

Dump names (HF's; any other name is refused):
  inv_freq [rotary/2]   position_ids [T] | [B,T] (M-RoPE [3,T] | [3,B,T])   cache_position [T]   rope_deltas (M-RoPE)
  seq_len   attention_scaling   cos, sin [T,rotary] | [B,T,rotary]   q, k, q_embed, k_embed [...,T,head_dim]
Positions: cache_position (+ rope_deltas), else position_ids, else 0..T-1.

  --config PATH       the model's config.json (required)
  --dump PATH         .safetensors (F32/F64/BF16/F16; I64/I32 positions) or .json { name: nested arrays | number } (required)
  --layer-type T      the entry of a per-layer rope dict (e.g. full_attention)
  --layout L          the pair layout the dump claims: half (default, HF rotate_half) or interleaved
  --tolerance x       largest residual that passes (default 1e-5 + 2^-21·(max position + 1); raise it for bf16 dumps)
  --json              print the report as JSON (below)
  --help              this text

Residual: max over the dump's tensors of max|dump − reference| / max(1, max|reference|).
Exit status: 0 conforms, 1 does not (prints the diagnosis or "no known cause"), 2 bad arguments or files.
--json prints { "command": "verify", "config", "dump", "ok", "ropeType", "tolerance", "residual",
  "checks": [{ "name", "shape", "maxAbsError", "scale", "ok" }],
  "diagnosis": { "cause", "detail", "residualBefore", "residualAfter" } | null,
  "candidates": [{ "cause", "detail", "residual" }] }`;

interface Flags {
  config?: string;
  dump?: string;
  layerType?: string;
  layout: PairLayout;
  tolerance?: number;
  json: boolean;
}

/** The --json object of `ropelab verify`. */
export interface VerifyCommandReport extends RoPEVerifyReport {
  command: 'verify';
  config: string;
  dump: string;
}

export const verifyCommand: CliCommand = {
  name: NAME,
  summary: 'check a RoPE dump (cos/sin, inv_freq, q/k) of another implementation against a config; diagnose known bugs',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const flags = parseFlags<Flags>(`ropelab ${NAME}`, argv, { layout: 'half', json: false }, {
      values: {
        config: (f, v) => (f.config = pathFlag(v)),
        dump: (f, v) => (f.dump = pathFlag(v)),
        'layer-type': (f, v) => (f.layerType = v),
        layout: (f, v) => (f.layout = choiceFlag(v, ['half', 'interleaved'] as const)),
        tolerance: (f, v) => (f.tolerance = numberFlag(v, { atLeast: 0 })),
      },
      switches: { json: (f) => (f.json = true) },
    });
    if (flags === 'help') {
      io.stdout(HELP);
      return 0;
    }
    if (flags.config === undefined) throw new FlagError(`ropelab ${NAME}: --config is required (see --help)`);
    if (flags.dump === undefined) throw new FlagError(`ropelab ${NAME}: --dump is required (see --help)`);
    const config = readJsonObject(NAME, '--config', flags.config);
    const dump = readRoPEDumpFile(flags.dump);
    const report = verifyRoPEDump(config, dump, {
      layout: flags.layout,
      ...(flags.layerType !== undefined ? { layerType: flags.layerType } : {}),
      ...(flags.tolerance !== undefined ? { tolerance: flags.tolerance } : {}),
    });
    if (flags.json) {
      const out: VerifyCommandReport = { command: 'verify', config: flags.config, dump: flags.dump, ...report };
      io.stdout(JSON.stringify(out, null, 2));
    } else {
      io.stdout(formatReport(flags.config, flags.dump, report));
    }
    return report.ok ? 0 : 1;
  },
};

/** The text report: one line per check, then the verdict. */
export function formatReport(configPath: string, dumpPath: string, r: RoPEVerifyReport): string {
  const lines = [`ropelab verify: ${dumpPath} against ${configPath} (rope_type ${r.ropeType}, tolerance ${fmt(r.tolerance)})`];
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(17)} [${c.shape.join(',')}]`.padEnd(44) + ` max |error| ${fmt(c.maxAbsError)} (scale ${fmt(c.scale)})`);
  if (r.ok) {
    lines.push(`conforms: residual ${fmt(r.residual)} ≤ ${fmt(r.tolerance)}`);
  } else if (r.diagnosis !== null) {
    const d = r.diagnosis;
    lines.push(`does not conform: residual ${fmt(d.residualBefore)}`, `diagnosis: ${d.cause} — ${d.detail}`, `  residual before ${fmt(d.residualBefore)}, after ${fmt(d.residualAfter)}`);
  } else {
    lines.push(`does not conform: residual ${fmt(r.residual)}`, 'diagnosis: no known cause', ...r.candidates.slice(0, 3).map((c) => `  closest: ${c.cause} (${c.detail}) residual ${fmt(c.residual)}`));
  }
  return lines.join('\n');
}

function fmt(x: number): string {
  return x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(4))) : x.toExponential(2);
}

/** A dump file as name → Tensor: safetensors by its extension `.safetensors`, else JSON. FlagError when unreadable. */
export function readRoPEDumpFile(path: string): Record<string, Tensor> {
  const bytes = readFileArgument(NAME, '--dump', path);
  if (path.endsWith('.safetensors')) return readSafetensorsDump(path, bytes);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new FlagError(`ropelab ${NAME}: --dump '${path}' is neither .safetensors nor valid JSON (${(e as Error).message})`);
  }
  return jsonDump(path, value);
}

/** { name: number | nested arrays } → tensors (float64); ragged or non-numeric arrays are a FlagError naming the tensor. */
function jsonDump(path: string, value: unknown): Record<string, Tensor> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FlagError(`ropelab ${NAME}: --dump '${path}' must hold a JSON object { name: nested number arrays | number }`);
  }
  const out: Record<string, Tensor> = {};
  for (const [name, v] of Object.entries(value)) {
    const shape: number[] = [];
    for (let x: unknown = v; Array.isArray(x); x = x[0]) shape.push(x.length);
    const data: number[] = [];
    const walk = (x: unknown, depth: number): void => {
      if (depth === shape.length) {
        if (typeof x !== 'number') throw new FlagError(`ropelab ${NAME}: --dump '${path}': '${name}' holds a non-number (${JSON.stringify(x)?.slice(0, 20)})`);
        data.push(x);
        return;
      }
      if (!Array.isArray(x) || x.length !== shape[depth]) throw new FlagError(`ropelab ${NAME}: --dump '${path}': '${name}' is a ragged array (not a tensor of shape [${shape.join(',')}])`);
      for (const y of x) walk(y, depth + 1);
    };
    walk(v, 0);
    out[name] = new Tensor(Float64Array.from(data), shape);
  }
  return out;
}

/** safetensors bytes → tensors (parseSafetensors reads HF's int64 positions as float64, exactly). */
function readSafetensorsDump(path: string, bytes: Buffer): Record<string, Tensor> {
  try {
    return parseSafetensors(bytes).tensors;
  } catch (e) {
    if (e instanceof ValueError || e instanceof DTypeError) throw new FlagError(`ropelab ${NAME}: --dump '${path}' is not a readable safetensors file (${e.message})`);
    throw e;
  }
}

