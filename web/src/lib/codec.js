// Message encodings of docs/transactions.md section 5, for the messages the
// portal sends. Each returns the message bytes; web/test/msgs.test.mjs pins
// them against the Go encoders' output.
import { blob, concat, hexToBytes, str, uvarint } from "../../../js/medchain-tx.mjs";

const utf8 = new TextEncoder();
export const bool = (b) => Uint8Array.of(b ? 1 : 0);
export const list = (items, enc) => concat(uvarint(items.length), ...items.map(enc));
export const address = (a) => {
  if (!/^mc[0-9a-f]{40}$/.test(a)) throw new Error("not an address: " + a);
  return hexToBytes(a.slice(2));
};
export const fixed = (hex, n) => {
  const b = hexToBytes(hex);
  if (b.length !== n) throw new Error(`want ${n} bytes`);
  return b;
};

/** Party = kind 1 address | kind 2 org_id. p: {kind:"account", address} | {kind:"org", org}. */
export const party = (p) => (p.kind === "org" ? concat(uvarint(2), str(p.org)) : concat(uvarint(1), address(p.address)));

/** A party's index key, the sort order of wrapped keys: 0x01‖address or 0x02‖org‖0x00. */
export const partyKey = (p) => (p.kind === "org" ? concat(Uint8Array.of(2), utf8.encode(p.org), Uint8Array.of(0)) : concat(Uint8Array.of(1), address(p.address)));

export function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const sortedStrings = (xs) => [...new Set(xs)].sort((a, b) => compareBytes(utf8.encode(a), utf8.encode(b)));

export const ACT_READ = 1;
export const ACT_WRITE = 2;

/** consent/grant; condition, a CEL expression (docs/policies.md), is encoded only when present. */
export function consentGrant({ patient, grantee, actions, types = [], records = [], purpose, until = 0, condition = "" }) {
  return concat(
    address(patient),
    party(grantee),
    uvarint(actions),
    list(sortedStrings(types), str),
    list([...new Set(records)].sort(), (r) => fixed(r, 16)),
    str(purpose),
    uvarint(until),
    condition ? str(condition) : new Uint8Array(0),
  );
}

export const consentRevoke = ({ id }) => uvarint(id);
export const openEmergency = ({ patient, reason }) => concat(address(patient), str(reason));
export const registerPatient = ({ encKey }) => fixed(encKey, 32);
export const govVote = ({ proposal, approve }) => concat(uvarint(proposal), bool(approve));
export const researchOptin = ({ request, patient, consent }) => concat(uvarint(request), address(patient), uvarint(consent));

/** WrappedKey = recipient Party, enc(32), ct(48). keys: [{recipient, enc, ct}] with enc/ct bytes. */
const wrappedKeys = (keys) =>
  list(
    [...keys].sort((a, b) => compareBytes(partyKey(a.recipient), partyKey(b.recipient))),
    (k) => concat(party(k.recipient), k.enc, k.ct),
  );

export function recordsAdd({ id, patient, resourceType, contentHash, size, keys }) {
  return concat(fixed(id, 16), address(patient), str(resourceType), fixed(contentHash, 32), uvarint(size), wrappedKeys(keys));
}

export const recordsShare = ({ id, version, keys }) => concat(fixed(id, 16), uvarint(version), wrappedKeys(keys));

export { blob, str, uvarint };

// Guardians (accounts/set_guardian, accounts/revoke_guardian) and erasure (records/erase).
export const setGuardian = ({ guardian }) => address(guardian);
export const revokeGuardian = ({ guardian }) => address(guardian);
export const recordsErase = ({ id }) => fixed(id, 16);

/** telemed/confirm, telemed/cancel, telemed/dispute, telemed/noshow: the booking id. */
export const bookingAction = ({ booking }) => uvarint(booking);

// Telemedicine, provider and arbiter side (telemed/offer, telemed/book, telemed/resolve;
// telemed/done and telemed/noshow take bookingAction).
export const telemedOffer = ({ service, price, duration, arbiter, cancelBefore, grace }) =>
  concat(str(service), uvarint(price), uvarint(duration), str(arbiter), uvarint(cancelBefore), uvarint(grace));
export const telemedWithdraw = ({ offer }) => uvarint(offer);
export const telemedBook = ({ offer, start }) => concat(uvarint(offer), uvarint(start));
export const telemedResolve = ({ booking, toProvider, toPatient }) => concat(uvarint(booking), uvarint(toProvider), uvarint(toPatient));

// Research, the researcher's side (research/open, research/close).
export const researchOpen = ({ budget, price, types, codes = [], purpose, end }) =>
  concat(uvarint(budget), uvarint(price), list(sortedStrings(types), str), list(sortedStrings(codes), str), str(purpose), uvarint(end));
export const researchClose = ({ request }) => uvarint(request);

// An organization's administrator (accounts/deactivate_member, accounts/register_member).
export const deactivateMember = ({ address: a }) => address(a);
export const registerMember = ({ pubKey, encKey, role }) => concat(fixed(pubKey, 32), fixed(encKey, 32), str(role));

// Supply chain: quarantine a unit as suspect (supply/flag).
export const supplyFlag = ({ unit, reason }) => concat(str(unit), str(reason));

// Automations (policy/add_rule; policy/pause_rule, resume_rule, delete_rule take ruleAction).
function policyAction(a) {
  switch (a.kind) {
    case "grant_consent":
      return concat(str(a.kind), party(a.grantee), uvarint(a.actions), list(sortedStrings(a.types ?? []), str), str(a.purpose), uvarint(a.seconds));
    case "revoke_consent":
      return concat(str(a.kind), uvarint(a.consent));
    case "notify":
      return concat(str(a.kind), party(a.to), str(a.topic));
    case "release_escrow":
    case "open_quarantine":
      return str(a.kind);
    default:
      throw new Error(`unknown action ${a.kind}`);
  }
}
export const policyAddRule = ({ org = "", event, condition = "", action }) => concat(str(org), str(event), str(condition), policyAction(action));
export const ruleAction = ({ id }) => uvarint(id);

// Governance proposals (gov/propose): remove_member and set_param, the kinds the portal offers.
const ZERO32 = new Uint8Array(32);
export function govPropose({ kind, orgId = "", param = "", value = 0, reason }) {
  if (kind !== "remove_member" && kind !== "set_param") throw new Error(`the portal proposes remove_member or set_param, not ${kind}`);
  // Action = kind, org.id, org.name, org.type, admin_pub_key, admin_enc_key, org_id, validator, power, param, value.
  return concat(str(kind), str(""), str(""), str(""), ZERO32, ZERO32, str(orgId), ZERO32, uvarint(0), str(param), uvarint(value), str(reason));
}

// A validator's operating organization takes its commission (staking/withdraw_commission).
export const withdrawCommission = ({ validator }) => fixed(validator, 32);
