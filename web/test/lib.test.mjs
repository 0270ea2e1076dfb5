// The portal's browser code in Node (same WebCrypto API): message encodings
// against Go's (testdata/msgs.json, written by internal/portal's
// TestBrowserMessageEncodings), and the key-file format both ways: a file
// Go wrote (a dev network's patient key, passphrase medchain-dev) opens
// here to the keys it names; a file written here is checked in for Go to
// open. No browser or node needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { bytesToHex, hexToBytes } from "../../js/medchain-tx.mjs";
import * as codec from "../src/lib/codec.js";
import { keyFileText, openKeyFile, parseKeyFile, sealKeyFile } from "../src/lib/keyfile.js";
import { Key } from "../src/lib/keys.js";
import { captureEvent, pharmacyEvent, supplyCapture, unitDigitalLink, validGLN } from "../src/lib/supply.js";

const read = (f) => readFileSync(new URL(`testdata/${f}`, import.meta.url), "utf8");

const encoders = {
  "consent/grant": codec.consentGrant,
  "consent/revoke": codec.consentRevoke,
  "consent/open_emergency": codec.openEmergency,
  "records/add": (f) => codec.recordsAdd({ ...f, keys: f.keys.map((k) => ({ ...k, enc: hexToBytes(k.enc), ct: hexToBytes(k.ct) })) }),
  "records/share": (f) => codec.recordsShare({ ...f, keys: f.keys.map((k) => ({ ...k, enc: hexToBytes(k.enc), ct: hexToBytes(k.ct) })) }),
  "gov/vote": codec.govVote,
  "research/optin": codec.researchOptin,
  "accounts/register_patient": codec.registerPatient,
  "accounts/set_guardian": codec.setGuardian,
  "accounts/revoke_guardian": codec.revokeGuardian,
  "records/erase": codec.recordsErase,
  "telemed/confirm": codec.bookingAction,
  "telemed/cancel": codec.bookingAction,
  "telemed/dispute": codec.bookingAction,
  "telemed/noshow": codec.bookingAction,
  "telemed/offer": codec.telemedOffer,
  "telemed/book": codec.telemedBook,
  "telemed/withdraw": codec.telemedWithdraw,
  "telemed/done": codec.bookingAction,
  "telemed/resolve": codec.telemedResolve,
  "research/open": codec.researchOpen,
  "research/close": codec.researchClose,
  "accounts/deactivate_member": codec.deactivateMember,
  "supply/flag": codec.supplyFlag,
  "accounts/register_member": codec.registerMember,
  "gov/propose": codec.govPropose,
  "staking/withdraw_commission": codec.withdrawCommission,
  "policy/add_rule": codec.policyAddRule,
  "policy/pause_rule": codec.ruleAction,
  "policy/resume_rule": codec.ruleAction,
  "policy/delete_rule": codec.ruleAction,
  // The event hash, the event's JSON and the encoding, against Go's EPCIS parser and hasher.
  "supply/capture": async (f) => supplyCapture({ events: await Promise.all(f.events.map((e) => captureEvent(pharmacyEvent(e)))) }),
};

for (const [i, v] of JSON.parse(read("msgs.json")).entries()) {
  test(`${v.type} #${i} encodes as Go does`, async () => {
    assert.equal(bytesToHex(await encoders[v.type](v.fields)), v.hex);
  });
}

test("a key file written by Go opens in the browser code to the keys it names", async () => {
  const text = read("go-fixture.json");
  const f = parseKeyFile(text);
  const key = await Key.fromSeeds(await openKeyFile(f, "medchain-dev"));
  assert.equal(key.address, f.address);
  assert.equal(key.pubHex, f.pub_key);
  assert.equal(key.encHex, f.enc_key);
  await assert.rejects(openKeyFile(f, "not the passphrase"), /wrong passphrase/);
  // Its public fields are bound: a renamed file does not open.
  await assert.rejects(openKeyFile(parseKeyFile(text.replace(`"name": "${f.name}"`, '"name": "someone-else"')), "medchain-dev"), /wrong passphrase/);
});

test("a key file sealed here re-opens, and the checked-in one is the CLI's format", async () => {
  const { key, seeds } = await Key.generate();
  const f = await sealKeyFile({ name: "roundtrip", address: key.address, pubKey: key.pubHex, encKey: key.encHex }, seeds.slice(), "pass phrase 1", { time: 1, memory_kib: 8192, threads: 1 });
  assert.deepEqual(await openKeyFile(parseKeyFile(keyFileText(f)), "pass phrase 1"), seeds);
  const js = read("js-fixture.json");
  const jf = parseKeyFile(js);
  assert.deepEqual(Object.keys(jf), Object.keys(JSON.parse(read("go-fixture.json"))));
  assert.equal(keyFileText(jf), js);
  const k2 = await Key.fromSeeds(await openKeyFile(jf, "portal passphrase"));
  assert.equal(k2.address, jf.address);
});

test("bad key files are refused before the KDF runs", () => {
  const f = JSON.parse(read("go-fixture.json"));
  for (const [what, bad] of [
    ["memory", { ...f, kdf_params: { ...f.kdf_params, memory_kib: 5 << 20 } }],
    ["cipher", { ...f, cipher: "aes" }],
    ["extra field", { ...f, extra: 1 }],
    ["name", { ...f, name: "../x" }],
  ])
    assert.throws(() => parseKeyFile(JSON.stringify(bad)), undefined, what);
});

test("pharmacy events refuse what the chain would", () => {
  assert.equal(unitDigitalLink("(01)00614141123452(21)S 1"), "https://id.gs1.org/01/00614141123452/21/S%201");
  assert.throws(() => unitDigitalLink("(01)00614141123452(10)L1"), /not a serialised unit/);
  assert.ok(validGLN("0098765000205"));
  assert.ok(!validGLN("0098765000206"));
  assert.throws(() => pharmacyEvent({ step: "packing", unitKey: "(00)006141410000000012", time: 1 }), /unknown step/);
  assert.throws(() => pharmacyEvent({ step: "shipping", unitKey: "(00)006141410000000012", time: 1 }), /destination GLN/);
  assert.throws(() => pharmacyEvent({ step: "receiving", unitKey: "(00)006141410000000012", time: 1, gln: "0098765000206" }), /check digit/);
});

test("a scanned GS1 code becomes verify's identifier", async () => {
  const { scannedToId } = await import("../src/lib/gs1.js");
  assert.equal(scannedToId("https://id.gs1.org/01/00614141123452/21/S1003"), "https://id.gs1.org/01/00614141123452/21/S1003");
  assert.equal(scannedToId("0100614141123452\u001d21S1003"), "(01)00614141123452(21)S1003");
  assert.equal(scannedToId("]d2010061414112345210L2026A\u001d17271231" + "21S1002"), "(01)00614141123452(10)L2026A(17)271231(21)S1002");
  assert.equal(scannedToId("\u001d00006141410000000012"), "(00)006141410000000012");
  assert.throws(() => scannedToId("9912345"), /unknown GS1 application identifier/);
});
