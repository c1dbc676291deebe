/**
 * Get-Doctor returns raw observations only (issue 11); activities/vendor/doctor-report.ts judges
 * them: what is missing (probe-only facts aside), whether the server answers, and the problems.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawDoctor } from '../../activities/powershell/operations';
import { doctorArgs, judgeDoctor } from '../../activities/vendor/doctor-report';
import { CMDLETS } from '../../activities/vendor/facts';

function raw(overrides: Partial<RawDoctor> = {}): RawDoctor {
  const { commands } = doctorArgs('fvp');
  return {
    endpoint: 'fvp',
    psEdition: 'Desktop',
    psVersion: '5.1',
    connected: true,
    module: { ok: true, values: [{ '@type': 'PSModuleInfo', Name: 'prnxcli', Version: '3.5.0' }] },
    commands: commands.map((name) => ({ name, parameters: Object.keys(CMDLETS[name]!.parameters) })),
    observations: [
      {
        probe: 'Get-PrnxObject -Type PrnxMServer',
        subject: null,
        result: { ok: true, values: [{ buildinfo: '3.5' }] },
      },
    ],
    ...overrides,
  };
}

test('a host with everything: no problem, the server answers, the module version read', () => {
  const report = judgeDoctor('fvp', raw());
  assert.deepEqual(report.problems, []);
  assert.equal(report.serverReachable, true);
  assert.deepEqual(report.modules, [{ name: 'prnxcli', loaded: true, version: '3.5.0' }]);
  assert.ok(doctorArgs('fvp').commands.includes('Set-PrnxAccelerationPolicy'));
  assert.ok(!doctorArgs('fvp').commands.includes('Get-VBRJob'));
});

test('missing cmdlets and parameters are problems; probe-only ones (-Vadp, Get-PrnxProperty) are not', () => {
  const commands = raw().commands.map((c) =>
    c.name === 'Get-PrnxObjectStats'
      ? { ...c, parameters: ['ObjectIdentifier', 'NumberOfSamples'] }
      : c.name === 'Get-PrnxProperty' || c.name === 'Get-PrnxObject'
        ? { ...c, parameters: null }
        : c.name === 'Set-PrnxAccelerationPolicy'
          ? { ...c, parameters: (c.parameters ?? []).filter((p) => p !== 'Vadp') }
          : c,
  );
  const report = judgeDoctor('fvp', raw({ commands }));
  assert.deepEqual(report.problems, [
    'cmdlet Get-PrnxObject is missing',
    'cmdlet Get-PrnxObjectStats has no -StartTime parameter',
  ]);
  assert.deepEqual(report.cmdlets.find((c) => c.name === 'Get-PrnxObjectStats')?.missingParameters, ['StartTime']);
});

test('not connected, a server that does not answer, a module that does not load, FVP on PowerShell Core', () => {
  assert.match(judgeDoctor('fvp', raw({ connected: false })).problems.join('\n'), /not connected/);
  const down = judgeDoctor(
    'fvp',
    raw({
      observations: [
        {
          probe: 'Get-PrnxObject -Type PrnxMServer',
          subject: null,
          result: { ok: false, type: 'System.Net.WebException', message: 'Unable to connect' },
        },
      ],
    }),
  );
  assert.equal(down.serverReachable, false);
  assert.match(down.problems.join('\n'), /does not answer: Unable to connect/);
  const noModule = judgeDoctor(
    'fvp',
    raw({ module: { ok: false, type: 'FileNotFoundException', message: 'not installed' }, psEdition: 'Core' }),
  );
  assert.match(noModule.problems.join('\n'), /module prnxcli does not load: not installed/);
  assert.match(noModule.problems.join('\n'), /PowerShell Core/);
  assert.equal(noModule.modules[0]?.loaded, false);
});
