// The node's API as the browser uses it: public reads, signed reads
// (internal/reqsig), transactions signed here (docs/transactions.md) and the
// record flows: ciphertext fetched and opened in the browser, never on the
// server.
import { bytesToHex, encodeBody, encodeTx, hexToBytes, signBytes } from "../../../js/medchain-tx.mjs";
import { openRecord, sealRecord, unwrapKey, wrapKey } from "../../../js/make_js_vectors.mjs";
import * as msg from "./codec.js";

const utf8 = new TextEncoder();
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || body?.log || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.codespace = body?.codespace;
  }
  /** "codespace/code", the stable error code of docs/transactions.md. */
  get id() {
    return this.codespace ? `${this.codespace}/${this.code}` : `HTTP ${this.status}`;
  }
}

async function sha256Hex(b) {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", b)));
}

export class Api {
  constructor(base = "") {
    this.base = base;
    this.chainId = null;
  }

  async request(method, path, { body, key, raw } = {}) {
    const url = new URL(this.base + path, globalThis.location?.href ?? "http://localhost/");
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/octet-stream";
    if (key) Object.assign(headers, await this.signHeaders(key, method, url, body));
    let resp;
    try {
      resp = await fetch(url, { method, headers, body });
    } catch (e) {
      throw new ApiError(0, { message: `the node does not answer (${e.message})` });
    }
    const text = new Uint8Array(await resp.arrayBuffer());
    if (!resp.ok) {
      let b;
      try {
        b = JSON.parse(new TextDecoder().decode(text));
      } catch {
        b = { message: `HTTP ${resp.status}: not a medchain node's answer` };
      }
      throw new ApiError(resp.status, b);
    }
    if (raw) return text;
    return text.length ? JSON.parse(new TextDecoder().decode(text)) : null;
  }

  get(path, key) {
    return this.request("GET", path, { key });
  }

  async chain() {
    if (!this.chainId) this.chainId = (await this.get("/v1/status")).chain_id;
    return this.chainId;
  }

  /** The four X-Medchain-* headers (internal/reqsig/doc.go, version 1). */
  async signHeaders(key, method, url, body) {
    const chainId = await this.chain();
    const nonce = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
    const expires = String(Math.floor(Date.now() / 1000) + 60);
    const bodyHash = body === undefined ? EMPTY_SHA256 : await sha256Hex(body);
    const m = utf8.encode(["medchain/request/v1", chainId, method, url.pathname + url.search, expires, nonce, bodyHash].join("\0"));
    return {
      "X-Medchain-Signer": key.pubHex,
      "X-Medchain-Expires": expires,
      "X-Medchain-Nonce": nonce,
      "X-Medchain-Signature": bytesToHex(await key.sign(m)),
    };
  }

  /** Builds, signs and submits a transaction; waits for its block. Retries once on a sequence race. */
  async send(key, type, msgBytes, { fee = 0, account } = {}) {
    const chainId = await this.chain();
    for (let attempt = 0; ; attempt++) {
      let sequence = 0;
      try {
        sequence = (await this.get("/v1/accounts/" + (account ?? key.address))).next_sequence;
      } catch (e) {
        if (e.status !== 404) throw e;
      }
      const body = encodeBody({ chainId, signer: key.pub, sequence, fee, type, msg: msgBytes });
      const tx = encodeTx(body, await key.sign(signBytes(body)));
      try {
        return await this.request("POST", "/v1/txs", { body: tx });
      } catch (e) {
        if (attempt === 0 && (e.id === "tx/6" || e.id === "api/6") && e.status !== 422) continue;
        throw e;
      }
    }
  }

  // ---- records, read and decrypted here ----

  records(key, patient) {
    return this.get(`/v1/patients/${patient}/records`, key).then((r) => r.records ?? []);
  }

  /**
   * Fetches a record version's ciphertext and the signer's wrapped key,
   * checks the hash on chain, unwraps with HPKE and decrypts: the FHIR JSON.
   */
  async readRecord(key, id, version = 0) {
    let rec;
    try {
      rec = await this.get(`/v1/records/${id}`, key);
    } catch (e) {
      // No grounds to see the record: ask its node for the key anyway, so
      // the gateway decides from consent, records the refused attempt in
      // the patient's trail and answers with the chain's reason.
      if (e.status === 403) await this.get(`/v1/records/${id}/key`, key);
      throw e;
    }
    const v = version || rec.version;
    const ver = rec.versions.find((x) => x.version === v);
    if (!ver) throw new Error(`record ${id} has no version ${v}`);
    const ct = await this.request("GET", `/v1/blobs/${ver.content_hash}`, { key, raw: true });
    if ((await sha256Hex(ct)) !== ver.content_hash) throw new Error("the ciphertext does not match the hash on chain");
    const wk = await this.get(`/v1/records/${id}/key?version=${v}`, key);
    const dk = await unwrapKey(key.encSeed, hexToBytes(wk.enc + wk.ct), hexToBytes(id), v);
    try {
      const pt = await openRecord(ct, dk, hexToBytes(id), hexToBytes(rec.patient.slice(2)));
      return { resource: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(pt)), record: rec, version: v };
    } finally {
      dk.fill(0);
    }
  }

  /** Encrypts a FHIR resource here, uploads the ciphertext and registers it with the key wrapped for every entitled party. */
  async addRecord(key, patient, resource) {
    const id = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
    const plaintext = utf8.encode(JSON.stringify(resource));
    const { ct, dataKey } = await sealRecord(plaintext, hexToBytes(id), hexToBytes(patient.slice(2)));
    try {
      const holders = (await this.get(`/v1/patients/${patient}/key-holders?type=${encodeURIComponent(resource.resourceType)}&record=${id}`, key)).key_holders ?? [];
      const keys = [];
      for (const h of holders) {
        const w = await wrapKey(hexToBytes(h.enc_key), dataKey, hexToBytes(id), 1);
        keys.push({ recipient: partyOf(h), enc: w.subarray(0, 32), ct: w.subarray(32) });
      }
      const hash = await sha256Hex(ct);
      await this.request("PUT", `/v1/blobs/${hash}`, { body: ct, key });
      const res = await this.send(key, "records/add", msg.recordsAdd({ id, patient, resourceType: resource.resourceType, contentHash: hash, size: ct.length, keys }));
      return { id, tx: res };
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Grants a consent and, for a read consent, wraps the data keys of the
   * covered existing record versions for the grantee (records/share), as
   * `medchain consent grant` does.
   */
  async grant(key, m) {
    const res = await this.send(key, "consent/grant", msg.consentGrant(m));
    const id = Number(res.events?.find((e) => e.type === "consent_granted")?.attributes?.id ?? 0);
    let shared = 0;
    if (m.actions & msg.ACT_READ) {
      const granteeEnc =
        m.grantee.kind === "org" ? (await this.get(`/v1/orgs/${m.grantee.org}`)).enc_key : (await this.get(`/v1/accounts/${m.grantee.address}`)).enc_key;
      const gk = msg.partyKey(m.grantee);
      for (const rv of await this.records(key, m.patient)) {
        if (rv.erased) continue;
        const covered = (!m.types?.length && !m.records?.length) || m.types?.includes(rv.resource_type) || m.records?.includes(rv.id);
        if (!covered) continue;
        const full = await this.get(`/v1/records/${rv.id}`, key);
        for (const ver of full.versions) {
          const ks = ver.keys ?? [];
          if (ks.some((k) => msg.compareBytes(msg.partyKey(partyOf(k.recipient)), gk) === 0)) continue;
          const mine = ks.find((k) => k.recipient.kind !== "org" && k.recipient.address === key.address);
          if (!mine) continue;
          const dk = await unwrapKey(key.encSeed, hexToBytes(mine.enc + mine.ct), hexToBytes(rv.id), ver.version);
          const w = await wrapKey(hexToBytes(granteeEnc), dk, hexToBytes(rv.id), ver.version);
          dk.fill(0);
          await this.send(key, "records/share", msg.recordsShare({ id: rv.id, version: ver.version, keys: [{ recipient: m.grantee, enc: w.subarray(0, 32), ct: w.subarray(32) }] }));
          shared++;
        }
      }
    }
    return { id, shared, tx: res };
  }
}

/** A PartyView of the API ({kind:"account",address} or {kind:"org",org}). */
export function partyOf(pv) {
  return pv.kind === "org" ? { kind: "org", org: pv.org } : { kind: "account", address: pv.address };
}
