/**
 * Fault injection: rules that make the simulated PowerShell host fail, die, hang, print garbage or
 * answer late, or make the vendor server forget every connection (a restart). Rules are tried in
 * order; the first one that matches the call and fires applies.
 * Probabilities draw from a seeded PRNG whose state is part of the lab state, so runs repeat.
 */
import { z } from 'zod';
import { ErrorCategory, operationNames } from '../../activities/powershell/operations';
import { EndpointName } from '../../domain/endpoint';

/**
 * `server-restart`: the endpoint's server (FVP management server, VBR service) restarted when the
 * rule was set (`restartedAt`). Host processes that connected before then still believe they are
 * connected; every call they make fails with an expired-session error (`type` default
 * 'Unauthorized', `category` as given) until the process connects again. Processes that connect
 * afterwards are not affected, and Connect-Endpoint itself always goes through.
 */
export const FaultAction = z.enum(['fail', 'die', 'hang', 'garbage', 'delay', 'stderr', 'server-restart']);
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
    /** For `fail` and `server-restart`: the error's category, type and message. */
    category: ErrorCategory.default('transient'),
    /** Default 'InjectedFault' (`fail`) or 'Unauthorized' (`server-restart`). */
    type: z.string().min(1).optional(),
    message: z.string().optional(),
    /** For `server-restart`: when the server restarted (epoch ms); default: when the rule is set. */
    restartedAt: z.number().int().optional(),
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
  /** When the calling host process last connected (Connect-Endpoint), if it did. */
  connectedAt?: number;
}

/** A `server-restart` rule concerns only calls on a connection made before the restart. */
function onStaleConnection(rule: FaultRule, call: FaultCall): boolean {
  if (call.op === 'Connect-Endpoint' || call.connectedAt === undefined) return false;
  return rule.restartedAt !== undefined && call.connectedAt <= rule.restartedAt;
}

/** A rule as stored when it is set at `now`: a restart without a time happened now. */
export function armFault(rule: FaultRule, now: number): FaultRule {
  return rule.action === 'server-restart' && rule.restartedAt === undefined ? { ...rule, restartedAt: now } : rule;
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
    if (rule.action === 'server-restart' && !onStaleConnection(rule, call)) continue;
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
