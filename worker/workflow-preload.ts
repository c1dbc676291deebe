/**
 * Evaluated once per worker, before any workflow, and shared by every workflow of the reusable V8
 * context (the bundle's `preloadModules`, worker/bundle.ts). Without it, the SDK evaluates every
 * module a workflow imports once per cached workflow: zod alone is ~2 MB of heap each, so 200
 * guards of a 200-VM job held ~450 MB in the workflow thread (bench/SCALE-NOTES.md, memory).
 */
import { z } from 'zod';
import { util } from 'zod/v4/core';

// The SDK deep-freezes shared modules and globals once they are loaded, and zod sets some shared
// state on first use: its default locale and memoizer (in globalThis.__zod_globalConfig, on the
// first schema built) and whether it may compile parsers (a module-level box, on the first object
// parsed). Frozen unset, each workflow's first schema or parse would throw: set them now.
void util.allowsEval.value;
z.object({ warmUp: z.string() }).safeParse({ warmUp: 1 });

/** The whole namespace, so that every zod module the workflows use is loaded here. */
export const sharedZod = z;
