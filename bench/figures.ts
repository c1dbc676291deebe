/** What the benchmarks share besides their stack (harness.ts): the median, seconds as printed, and the destage mix. */

/** The median of `xs` (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

/** Milliseconds printed as seconds with two decimals ("2.36 s"). */
export const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Mixed destage times, 0.3 s to 3 s, for VM `i` of a job: the same in every benchmark that judges a flush phase. */
export const mixedDestage = (i: number): number => 300 + ((i * 677) % 2700);
