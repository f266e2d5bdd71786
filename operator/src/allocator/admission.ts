// The operator's admission of a participant (issue 16; docs/front-door.md): one procedure binds
// the participant's broker credentials and its account. It records the account as admitted (the
// Allocator counts an offer only when its signer is) and grants the participant's broker role —
// its lower-cased address, the `sub` of the token minted for it — exactly its Table 4 cells.
// A token therefore names one admitted account, and an account is admitted only with its token.
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  type Grant,
  admitParticipant as grantParticipant,
  mintToken,
  type ParticipantKind,
  type PulsarAdmin,
  participantRole,
  provisionStatusChannel,
} from "@surplus/adapters";
import type { Address } from "@surplus/core";
import type { AdmissionRecord } from "../ports.ts";

export type { AdmissionRecord };

export interface Admitted {
  readonly role: string;
  readonly grants: readonly Grant[];
  /** The participant's broker token (`sub` = its role), when the broker's secret was given. */
  readonly token?: string;
}

/**
 * Admits `participant`: its account is recorded first, then its grants applied (either half alone
 * admits nothing usable: no grant, no channel; no record, the Allocator refuses its offers).
 * Idempotent. With `tokenSecret` (the local market's broker) its token is minted too; in AWS the
 * operator mints it from the secret in Secrets Manager the same way. With `allocator`, the
 * participant's offer-status channel is created too (the Allocator writes, the participant alone
 * reads), so the Allocator's statuses reach it.
 */
export async function admit(
  deps: { readonly admin: PulsarAdmin; readonly record: AdmissionRecord },
  participant: { readonly address: Address; readonly kind: ParticipantKind },
  options: {
    readonly nowMs: number;
    readonly layout?: ChannelLayout;
    readonly tokenSecret?: Uint8Array;
    readonly allocator?: Address;
  },
): Promise<Admitted> {
  const role = participantRole(participant.address);
  const layout = options.layout ?? DEFAULT_LAYOUT;
  await deps.record.admit(participant.address, participant.kind, options.nowMs);
  if (options.allocator)
    await provisionStatusChannel(deps.admin, participant.address, options.allocator, layout);
  const grants = await grantParticipant(deps.admin, participant, layout);
  const token = options.tokenSecret ? await mintToken(options.tokenSecret, role) : undefined;
  return { role, grants, ...(token ? { token } : {}) };
}
