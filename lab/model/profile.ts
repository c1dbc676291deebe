/**
 * Vendor profiles: the variants of raw vendor output the evidence admits (issue 11), one of which
 * a scenario picks (`vendor`). The lab answers the module's raw operations in the profile's shapes,
 * and the TypeScript interpretation must read every one of them.
 *
 * - fvpBuild: Get-PrnxObject -Type PrnxMServer .buildinfo. From 3.1, Get-PrnxObjectStats returns
 *   no sample unless -StartTime 0 is passed; 3.0 does not know -StartTime (F9).
 * - fvpLicence: Enterprise lists FVP_FEATURE_FAULT_DOMAIN in licensedFeatures; Standard does not,
 *   reads numWbExternalPeers as 0, and refuses -NumWBExternalPeers (F7).
 * - policyOutput: Get-PrnxAccelerationPolicy writes the text (WRITE_BACK) or an object carrying
 *   it in its Policy property (F8: the type was never shown).
 * - veeam: v12 or v13 (v13 adds Get-VBRBackupSession -Job, V9).
 */
import { z } from 'zod';

export const VendorProfile = z
  .object({
    fvpBuild: z.string().min(1).default('3.5.0.10234'),
    fvpLicence: z.enum(['Enterprise', 'Standard']).default('Enterprise'),
    policyOutput: z.enum(['text', 'object']).default('text'),
    veeam: z.enum(['12', '13']).default('12'),
  })
  .strict();
export type VendorProfile = z.infer<typeof VendorProfile>;

/**
 * Named profiles the tests run on. `common` is the default: the last FVP release line (3.5, what an
 * installation most likely runs), Enterprise, the policy as text (what the scripts assume), VBR 12.
 */
export const PROFILES = {
  common: VendorProfile.parse({}),
  'fvp30-standard-object-vbr13': VendorProfile.parse({
    fvpBuild: '3.0.0.5617',
    fvpLicence: 'Standard',
    policyOutput: 'object',
    veeam: '13',
  }),
  'fvp31-standard-text-vbr12': VendorProfile.parse({ fvpBuild: '3.1.0.8120', fvpLicence: 'Standard' }),
  'fvp35-enterprise-object-vbr13': VendorProfile.parse({ policyOutput: 'object', veeam: '13' }),
} satisfies Record<string, VendorProfile>;
export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** (major, minor) of an FVP build text. */
export function fvpVersion(profile: VendorProfile): [number, number] {
  const m = /(\d+)\.(\d+)/.exec(profile.fvpBuild);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export function statsNeedStartTime(profile: VendorProfile): boolean {
  const [major, minor] = fvpVersion(profile);
  return major > 3 || (major === 3 && minor >= 1);
}
