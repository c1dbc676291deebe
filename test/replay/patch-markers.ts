/**
 * The patch ids a recorded history carries: the `core_patch` markers a workflow writes the first
 * time it asks `patched(id)` on a path. A fixture proves a patched path replays only if it carries
 * that path's marker, and the id is base64 JSON inside the marker, out of reach of a plain grep.
 * Run it to list which fixture carries which id:
 *   npx tsx test/replay/patch-markers.ts [files...]        (default: every committed history)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';

export const fixturesDir = join(__dirname, '..', 'fixtures', 'histories');

/** Only what this reads of `temporal workflow show --output json`; the rest is left as it is. */
const PatchHistory = z.object({
  events: z.array(
    z.object({
      markerRecordedEventAttributes: z
        .object({
          markerName: z.string(),
          details: z
            .record(z.string(), z.object({ payloads: z.array(z.object({ data: z.string().optional() })).optional() }))
            .optional(),
        })
        .optional(),
    }),
  ),
});

const PatchData = z.object({ id: z.string() });

/** The patch ids in a history's JSON text, in the order first recorded. */
export function patchMarkersOf(json: string): string[] {
  const history = PatchHistory.parse(JSON.parse(json));
  const ids = new Set<string>();
  for (const event of history.events) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') continue;
    for (const payload of marker.details?.['patch-data']?.payloads ?? []) {
      if (payload.data === undefined) continue;
      ids.add(PatchData.parse(JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8'))).id);
    }
  }
  return [...ids];
}

export function patchMarkersOfFile(path: string): string[] {
  return patchMarkersOf(readFileSync(path, 'utf8'));
}

/** Every committed history's file name with the patch ids it carries. */
export function fixturePatchMarkers(): Map<string, string[]> {
  const files = readdirSync(fixturesDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return new Map(files.map((f) => [f, patchMarkersOfFile(join(fixturesDir, f))]));
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const listed =
    args.length > 0 ? new Map(args.map((f) => [basename(f), patchMarkersOfFile(f)])) : fixturePatchMarkers();
  for (const [file, ids] of listed) console.log(`${file}: ${ids.join(' ')}`);
}
