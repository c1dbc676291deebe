/**
 * Fault injection: rules that make the simulated PowerShell host fail, die, hang, print garbage or
 * answer late. Rules are tried in order; the first one that matches the call and fires applies.
 * Probabilities draw from a seeded PRNG whose state is part of the lab state, so runs repeat.
 */
import { z } from 'zod';
import { ErrorCategory, operationNames } from '../../activities/powershell/operations';
import { EndpointName } from '../../domain/endpoint';

export const FaultAction = z.enum(['fail', 'die', 'hang', 'garbage', 'delay', 'stderr']);
export type FaultAction = z.infer<typeof FaultAction>;

export const FaultRule = z
  .object({
    /** Operation to match (default: any). */
    op: z
      .string()
      .refine((op) => (operationNames as string[]).includes(op), { message: 'unknown operation' })
      .optional(),
    /** Endpoint to match (default: any). */
    endpoint: EndpointName.optional(),
    /** Host process to match (default: any). */
    pid: z.number().int().optional(),
    action: FaultAction,
    /** How many calls the rule applies to (counted when it fires); default unlimited. */
    times: z.number().int().min(1).optional(),
    /** Chance that a matching call fires the rule (seeded PRNG). */
    probability: z.number().min(0).max(1).default(1),
    /** For `fail`: the error's category, type and message. */
    category: ErrorCategory.default('transient'),
    type: z.string().min(1).default('InjectedFault'),
    message: z.string().optional(),
    /** For `delay` (default 1000): how long the host waits before printing the answer. */
    delayMs: z.number().int().min(0).max(3_600_000).optional(),
    /** For `die` (default 1). */
    exitCode: z.number().int().optional(),
    /** For `garbage`: what the host prints instead of an envelope. */
    stdout: z.string().optional(),
    /**
     * The op is performed first, then the fault applies (die: the host exits after the effect;
     * fail: the caller sees an error although the op took effect). Meaningless for `delay`, which
     * always performs the op.
     */
    afterEffect: z.boolean().default(false),
  })
  .strict();
export type FaultRule = z.infer<typeof FaultRule>;
export type FaultRuleInput = z.input<typeof FaultRule>;

export const FaultRuleState = z.object({ rule: FaultRule, applied: z.number().int().min(0) }).strict();
export type FaultRuleState = z.infer<typeof FaultRuleState>;

export const SetFaultsBody = z
  .object({
    rules: z.array(FaultRule),
    /** Reseeds the PRNG (default: keep its current state). */
    seed: z.number().int().optional(),
  })
  .strict();
export type SetFaultsBody = z.input<typeof SetFaultsBody>;

/** mulberry32: one 32-bit state, good enough for repeatable coin flips. Returns [value in [0,1), next state]. */
export function nextRandom(state: number): [number, number] {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

export interface FaultCall {
  endpoint: EndpointName;
  op: string;
  pid: number;
}

export interface FaultState {
  prng: number;
  rules: FaultRuleState[];
}

/**
 * Finds the rule that applies to a call, counting it as applied and advancing the PRNG (mutates
 * `state`). A probability draw happens only for rules that match and still have calls left.
 */
export function pickFault(state: FaultState, call: FaultCall): FaultRule | null {
  for (const entry of state.rules) {
    const { rule } = entry;
    if (rule.op !== undefined && rule.op !== call.op) continue;
    if (rule.endpoint !== undefined && rule.endpoint !== call.endpoint) continue;
    if (rule.pid !== undefined && rule.pid !== call.pid) continue;
    if (rule.times !== undefined && entry.applied >= rule.times) continue;
    if (rule.probability < 1) {
      const [value, next] = nextRandom(state.prng);
      state.prng = next;
      if (value >= rule.probability) continue;
    }
    entry.applied += 1;
    return rule;
  }
  return null;
}
