/**
 * Issue 10 item 7: the job's Veeam schedule state, read raw by Get-BackupJob (IsScheduleEnabled) and
 * interpreted in TypeScript as enabled / disabled / unknown. A missing or unreadable property is
 * unknown, never a failure (the schedule only decides a warning); doctor shows each job's state.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { RawObject } from '../../activities/powershell/operations';
import { evaluateFacts } from '../../activities/vendor/doctor-facts';
import { VEEAM } from '../../activities/vendor/facts';
import { interpretJob, interpretJobHeader, jobSchedule } from '../../activities/vendor/interpret-veeam';
import { rawJob } from '../../lab/model/raw';

const JOB: RawObject = { '@type': 'Veeam.Backup.Core.CBackupJob', Id: 'job-1', Name: 'Nightly', IsRunning: false };

describe('the job schedule state', () => {
  test('IsScheduleEnabled true reads as enabled, false as disabled', () => {
    assert.equal(jobSchedule({ ...JOB, IsScheduleEnabled: true }), 'enabled');
    assert.equal(jobSchedule({ ...JOB, IsScheduleEnabled: false }), 'disabled');
    // PowerShell compares property names case-insensitively; so does the product.
    assert.equal(jobSchedule({ ...JOB, isscheduleenabled: true }), 'enabled');
  });

  test('a job object without IsScheduleEnabled, or with an unreadable one, reads as unknown, not a failure', () => {
    assert.equal(jobSchedule(JOB), 'unknown');
    assert.equal(jobSchedule({ ...JOB, IsScheduleEnabled: null }), 'unknown');
    assert.equal(jobSchedule({ ...JOB, IsScheduleEnabled: 'sometimes' }), 'unknown');
    assert.equal(interpretJobHeader({ job: JOB }).schedule, 'unknown');
  });

  test("the job read carries it: the lab's Get-BackupJob answers its scenario's scheduleEnabled, raw", () => {
    const job = { id: 'job-1', name: 'Nightly', vms: ['sql-01'] };
    assert.equal(interpretJob(rawJob({ ...job, scheduleEnabled: true }, false)).schedule, 'enabled');
    assert.equal(interpretJob(rawJob(job, false)).schedule, 'disabled');
  });

  test("the module projects the table's property from the job object", () => {
    const psm1 = readFileSync('activities/powershell/FvpBackup.psm1', 'utf8');
    const line = /^\s*VbrJob\s*=\s*@\(([^)]*)\)/m.exec(psm1)?.[1] ?? '';
    assert.ok(line.includes(`'${VEEAM.jobScheduleEnabledProperty.value}'`), line);
    assert.ok(psm1.split('\n').length <= 434, 'the module stays small');
  });

  test("doctor prints each job's schedule state; a missing property is unknown and not a contradiction", () => {
    const probe = (subject: string, value: RawObject) => ({
      probe: 'job schedule and objects',
      subject,
      result: { ok: true, values: [value] },
    });
    const facts = evaluateFacts('veeam', [
      probe('Nightly', { IsScheduleEnabled: true, Objects: 'sql-01 [Include, VirtualMachine]' }),
      probe('Weekly', { IsScheduleEnabled: false, Objects: '' }),
      probe('Old', { Objects: '' }),
    ]);
    const row = (job: string) => facts.find((f) => f.row === `VEEAM.jobScheduleEnabledProperty (job "${job}")`);
    assert.equal(row('Nightly')?.verdict, 'confirmed');
    assert.match(row('Nightly')?.saw ?? '', /^schedule enabled \(IsScheduleEnabled = true\)/);
    assert.match(row('Weekly')?.saw ?? '', /^schedule disabled/);
    assert.equal(row('Old')?.verdict, 'not-checked');
    assert.match(row('Old')?.saw ?? '', /^schedule unknown \(no IsScheduleEnabled\)/);
  });
});
