/**
 * Evaluated once per worker, before any workflow, and shared by every workflow of the reusable V8
 * context (the bundle's `preloadModules`, worker/bundle.ts). Without it, the SDK evaluates every
 * module a workflow imports once per cached workflow: zod alone is ~2 MB of heap each, so 200
 * guards of a 200-VM job held ~450 MB in the workflow thread (bench/SCALE-NOTES.md, memory).
 * Our own schema modules too: building their schemas took ~11 ms of the one workflow thread for
 * every new guard, the thread a job's new guards queue on.
 */
import { z } from 'zod';
import { util } from 'zod/v4/core';
import * as duration from '../domain/duration';
import * as endpoint from '../domain/endpoint';
import * as guardProtocol from '../domain/guard-protocol';
import * as metrics from '../domain/metrics';
import * as notification from '../domain/notification';
import * as policy from '../domain/policy';
import * as veeam from '../domain/veeam';
import * as zodIssues from '../domain/zod-issues';
import * as input from '../workflows/input';
import * as veeamStartedInput from '../workflows/veeam-started-input';

// The SDK deep-freezes shared modules and globals once they are loaded, and zod sets some shared
// state on first use: its default locale and memoizer (in globalThis.__zod_globalConfig, on the
// first schema built) and whether it may compile parsers (a module-level box, on the first object
// parsed). Frozen unset, each workflow's first schema or parse would throw: set them now.
void util.allowsEval.value;
z.object({ warmUp: z.string() }).safeParse({ warmUp: 1 });

/** The whole namespace, so that every zod module the workflows use is loaded here. */
export const sharedZod = z;

/**
 * The schema modules every workflow shares (pure: schemas, constants and functions, no state).
 * The SDK deep-freezes what is shared, and a frozen zod 4 schema throws at its first use: zod
 * binds a schema's methods, derives its internals and compiles an object's parser on first use,
 * and stores each on the schema. The SDK's freeze stops at an object that is frozen already, so
 * each module's exports are frozen here, one level deep: what they export can no longer be
 * replaced, and the schemas stay as zod needs them (test/unit/workflow-preload.test.ts).
 */
for (const shared of [
  duration,
  endpoint,
  guardProtocol,
  metrics,
  notification,
  policy,
  veeam,
  zodIssues,
  input,
  veeamStartedInput,
]) {
  Object.freeze(shared);
}
