/**
 * Lab faults that more than one test (and the replay recorder) injects, named by what they stand for.
 */
import type { FaultRuleInput } from '../../lab/model/faults';

/**
 * The job start fails non-retryable after Start-VBRJob took effect: what the old module did with
 * an InvalidOperationException raised after the start. Once.
 */
export const startFailsAfterItTookEffect: FaultRuleInput = {
  op: 'Start-BackupJob',
  action: 'fail',
  afterEffect: true,
  times: 1,
  category: 'permanent',
  type: 'System.InvalidOperationException',
  message: 'Operation is not valid due to the current state of the object.',
};
