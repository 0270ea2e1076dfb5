// Writes web/test/testdata/js-fixture.json: a key file sealed by the portal's
// JavaScript (src/lib/keyfile.js) with a fresh key, passphrase
// "portal passphrase" and the CLI's light cost, which Go's keystore must
// open (internal/portal TestBrowserKeyFileOpensInGo). Checked in; rerun
// only to refresh it:  node web/make_keyfile.mjs
// (Not under test/: node --test would run it as a test.)
import { writeFileSync } from "node:fs";
import { keyFileText, sealKeyFile } from "./src/lib/keyfile.js";
import { Key } from "./src/lib/keys.js";

const { key, seeds } = await Key.generate();
const f = await sealKeyFile({ name: "js-fixture", address: key.address, pubKey: key.pubHex, encKey: key.encHex }, seeds, "portal passphrase", { time: 1, memory_kib: 8192, threads: 1 });
writeFileSync(new URL("test/testdata/js-fixture.json", import.meta.url), keyFileText(f));
console.log("wrote web/test/testdata/js-fixture.json for " + key.address);
