// medchain's web portal: one page application under /portal/, hash-routed.
// Keys live in this browser's storage as encrypted key files (the CLI's
// format) and are opened only in memory; records are decrypted here.
import { Api, ApiError } from "./lib/api.js";
import * as msg from "./lib/codec.js";
import { field, fill, fmtDate, fmtTime, fmtTokens, h, short, status, table } from "./lib/dom.js";
import { buildResource, render, title } from "./lib/fhir.js";
import { blockSeries, lineChart } from "./lib/chart.js";
import { scannedToId } from "./lib/gs1.js";
import { DEFAULT_PARAMS, KeyFileError, checkName, keyFileText, openKeyFile, parseKeyFile, sealKeyFile } from "./lib/keyfile.js";
import { Key } from "./lib/keys.js";
import { captureEvent, pharmacyEvent, supplyCapture } from "./lib/supply.js";

const api = new Api("");
const STORE = "medchain.keyfiles";
const state = { key: null, keyName: null, account: null };
const main = () => document.getElementById("main");

// ---- key storage ----
const storedFiles = () => {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "[]");
  } catch {
    return [];
  }
};
function storeFile(f) {
  const files = storedFiles();
  if (files.some((x) => x.name === f.name)) throw new KeyFileError(`a key named ${f.name} is already stored in this browser`);
  files.push(f);
  localStorage.setItem(STORE, JSON.stringify(files));
}
function removeFile(name) {
  localStorage.setItem(STORE, JSON.stringify(storedFiles().filter((f) => f.name !== name)));
}
const nameOf = (addr) => storedFiles().find((f) => f.address === addr)?.name;

// ---- labels for parties ----
const accountCache = new Map();
async function account(addr) {
  if (!accountCache.has(addr)) accountCache.set(addr, api.get(`/v1/accounts/${addr}`).catch(() => null));
  return accountCache.get(addr);
}
async function who(addr) {
  if (!addr) return "—";
  if (addr === state.key?.address) return `you (${short(addr)})`;
  const a = await account(addr);
  const n = nameOf(addr);
  const base = n ? `${n} (${short(addr)})` : short(addr);
  if (a?.kind === "member") return `${base}, ${a.role} at ${a.org}`;
  if (a?.kind === "patient") return `${base}, patient`;
  return base;
}
const partyText = async (p) => (p.kind === "org" ? `organization ${p.org}` : await who(p.address));

const PURPOSES = {
  treatment: "treatment",
  research: "research",
  payment: "payment",
  operations: "healthcare operations",
  public_health: "public health",
  care_coordination: "care coordination",
  emergency: "emergencies only (emergency custodian)",
};
const REASONS = {
  unable_to_consent: "the patient cannot consent (unconscious, incapacitated)",
  life_threatening: "life-threatening condition",
  imminent_harm: "risk of imminent serious harm",
  legal_requirement: "required by law",
  other: "other (documented in the hospital's own system)",
};
const TYPES = ["Observation", "Condition", "MedicationRequest", "AllergyIntolerance", "DiagnosticReport", "DocumentReference", "Immunization", "Procedure"];

/** A consent in plain language. */
async function consentText(c, { grantee = false } = {}) {
  const acts = c.actions.includes("write") ? (c.actions.includes("read") ? "see and add to" : "add to") : "see";
  const whose = grantee ? "the patient's" : "your";
  const scope = c.types?.length ? `${whose} ${c.types.join(", ")} records` : c.records?.length ? `${c.records.length} chosen record(s)` : `all ${whose} records`;
  const until = c.until ? `until ${fmtDate(c.until)}` : "with no end date";
  if (c.purpose === "emergency") return `${await partyText(c.grantee)} may ${acts} ${scope} only during an emergency access its practitioners open, ${until}.`;
  return `${await partyText(c.grantee)} may ${acts} ${scope} for ${PURPOSES[c.purpose] ?? c.purpose}, ${until}${c.condition ? `, only if ${c.condition}` : ""}.`;
}

// Consent conditions: CEL expressions over each access (docs/policies.md), with the examples as presets.
const CONDITION_PRESETS = [
  ["", "No condition"],
  ['"dev-hospital" in encounter_orgs', "Only while I am admitted at dev-hospital"],
  ['resource_type == "Observation" &&\n  (!codes_known || (size(codes) > 0 &&\n    codes.all(c, c in ["http://loinc.org|8867-4", "http://loinc.org|8480-6"])))', "Only Observations with these LOINC codes"],
  ['block_time.getHours("Europe/Paris") < 18', "Not after 18:00 (Paris time)"],
  ['role == "practitioner" && accessor_org_type == "hospital"', "Only practitioners of a hospital"],
  ["emergency_active", "Only during an emergency access"],
  ['action == "read"', "Reads only"],
];

/** A CEL condition field with presets and a check against the node (GET /v1/policy/check). */
function conditionField(kind, presets, label) {
  const expr = h("textarea", { rows: 3, spellcheck: "false", autocomplete: "off", class: "code" });
  const preset = h("select", {}, presets.map(([v, t]) => h("option", { value: v }, t)));
  preset.addEventListener("change", () => {
    expr.value = preset.value;
    fill(res);
  });
  const res = h("p", { class: "status", role: "status" });
  const check = async () => {
    const e = expr.value.trim();
    if (!e) return null;
    const r = await api.get(`/v1/policy/check?expr=${encodeURIComponent(e)}&kind=${kind}`);
    if (!r.accepted) {
      status(res, r.error, "error");
      throw new Error(`the condition is refused: ${r.error}`);
    }
    status(res, `Accepted: condition ${r.hash}, cost ${r.cost_min}–${r.cost_max} of at most ${r.limit}${r.uses?.length ? `; reads ${r.uses.join(", ")}` : ""}.`, "ok");
    return e;
  };
  const btn = h("button", { type: "button", onclick: () => check().catch(() => {}) }, "Check condition");
  const box = h("div", { class: "condition" }, field(`${label}: examples`, preset), field(label, expr, kind === "access" ? "A CEL expression over the access (accessor, accessor_org, role, purpose, resource_type, codes, block_time, emergency_active, encounter_orgs …); it must hold for every access under this consent." : 'A CEL expression over the event: event, attrs (its attributes, e.g. attrs["type"]), owner, block_time.'), btn, res);
  return { box, expr, check, reset: () => ((expr.value = ""), (preset.value = ""), fill(res)) };
}

const EVENTS = {
  record_added: "a record is added",
  emergency_opened: "an emergency access is opened",
  consultation_completed: "a consultation is marked done",
  trial_amended: "a trial is amended",
  unit_received: "a medicine unit is received",
};
const ACTIONS = {
  grant_consent: "give a time-limited access",
  revoke_consent: "revoke a consent",
  release_escrow: "release the consultation's payment to the provider",
  notify: "notify someone",
};
const EVENT_PRESETS = [
  ["", "No condition (always)"],
  ['attrs["type"] == "Observation"', "Only Observations (record added)"],
  ['attrs["org"] == "dev-hospital"', "Only at dev-hospital (emergency opened)"],
];

function ruleActionText(a) {
  switch (a.kind) {
    case "grant_consent":
      return `give ${a.grantee} ${(a.actions ?? []).join(" and ")} access${a.types?.length ? ` to ${a.types.join(", ")}` : ""} for ${PURPOSES[a.purpose] ?? a.purpose}, for ${Math.round(a.seconds / 3600)} h`;
    case "revoke_consent":
      return `revoke consent ${a.consent_id}`;
    case "notify":
      return `notify ${a.to} (${a.topic})`;
    default:
      return ACTIONS[a.kind] ?? a.kind;
  }
}

/** A patient's automations: when EVENT matching CONDITION, do ACTION (policy/add_rule, pause, resume, delete). */
async function automationsCard(me, rulesP) {
  const rules = (await (rulesP ?? api.get(`/v1/accounts/${me}/rules`, state.key).catch(() => ({ rules: [] })))).rules ?? [];
  const st = h("p", { class: "status", role: "status" });
  const ruleBtn = (r, type, label, done, danger) =>
    h(
      "button",
      {
        type: "button",
        class: danger ? "danger" : undefined,
        onclick: () =>
          act(st, `${label}…`, async () => {
            await api.send(state.key, type, msg.ruleAction({ id: r.id }));
            await route();
            return done;
          }),
      },
      `${label} rule ${r.id}`,
    );
  const rows = rules.map((r) => [
    String(r.id),
    `When ${EVENTS[r.event] ?? r.event}${r.condition ? ` and ${r.condition}` : ""}: ${ruleActionText(r.action)}`,
    r.paused ? h("strong", { class: "badge emergency" }, "paused") : "active",
    `${r.fired}${r.last_fired ? `, last ${fmtTime(r.last_fired)}` : ""}`,
    h(
      "span",
      { class: "actions" },
      r.paused ? ruleBtn(r, "policy/resume_rule", "Resume", `Rule ${r.id} resumed.`) : ruleBtn(r, "policy/pause_rule", "Pause", `Rule ${r.id} paused: it does not fire until resumed.`),
      ruleBtn(r, "policy/delete_rule", "Delete", `Rule ${r.id} deleted.`, true),
    ),
  ]);
  const event = h("select", {}, Object.entries(EVENTS).map(([k, v]) => h("option", { value: k }, v)));
  const cond = conditionField("event", EVENT_PRESETS, "Only when");
  const action = h("select", {}, Object.entries(ACTIONS).map(([k, v]) => h("option", { value: k }, v)));
  const grantee = h("input", { type: "text", autocomplete: "off", placeholder: "mc… or dev-lab" });
  const gAccess = h("select", {}, h("option", { value: "1" }, "see"), h("option", { value: "3" }, "see and add"), h("option", { value: "2" }, "add only"));
  const gTypes = h("input", { type: "text", autocomplete: "off", placeholder: "Observation, Condition" });
  const gPurpose = h("select", {}, Object.entries(PURPOSES).filter(([k]) => k !== "emergency").map(([k, v]) => h("option", { value: k }, v)));
  const gHours = h("input", { type: "number", min: 1, max: 8784, step: 1, value: 72 });
  const consentId = h("input", { type: "number", min: 1, step: 1 });
  const to = h("input", { type: "text", autocomplete: "off", placeholder: "mc… or dev-hospital" });
  const topic = h("input", { type: "text", autocomplete: "off", pattern: "[A-Za-z0-9_.\\-]{1,64}", value: "emergency_opened" });
  const grantBox = h("div", {}, field("To whom (access)", grantee), field("Access it gives", gAccess), field("Which records (types, comma-separated; empty: all)", gTypes), field("For (purpose)", gPurpose), field("For how long (hours)", gHours));
  const revokeBox = h("div", { hidden: true }, field("Consent number", consentId));
  const notifyBox = h("div", { hidden: true }, field("Notify whom", to), field("Topic (a code, no free text)", topic));
  const sync = () => {
    grantBox.hidden = action.value !== "grant_consent";
    revokeBox.hidden = action.value !== "revoke_consent";
    notifyBox.hidden = action.value !== "notify";
  };
  action.addEventListener("change", sync);
  const partyOfText = (s) => (/^mc[0-9a-f]{40}$/.test(s) ? { kind: "account", address: s } : { kind: "org", org: s });
  const form = h(
    "form",
    {
      class: "subcard",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Adding the rule…", async () => {
          const condition = (await cond.check()) ?? "";
          let a;
          if (action.value === "grant_consent") {
            if (!grantee.value.trim()) throw new Error("name who gets the access");
            a = { kind: "grant_consent", grantee: partyOfText(grantee.value.trim()), actions: Number(gAccess.value), types: gTypes.value.split(/[\s,]+/).filter(Boolean), purpose: gPurpose.value, seconds: Number(gHours.value) * 3600 };
          } else if (action.value === "revoke_consent") a = { kind: "revoke_consent", consent: Number(consentId.value) };
          else if (action.value === "notify") {
            if (!to.value.trim()) throw new Error("name whom to notify");
            a = { kind: "notify", to: partyOfText(to.value.trim()), topic: topic.value.trim() };
          } else a = { kind: action.value };
          const r = await api.send(state.key, "policy/add_rule", msg.policyAddRule({ event: event.value, condition, action: a }));
          const id = r.events?.find((e) => e.type === "policy_rule_added")?.attributes?.rule;
          await route();
          return `Rule ${id ?? ""} added: it fires at the end of each block with a matching event.`;
        });
      },
    },
    h("h3", {}, "Add an automation"),
    field("When", event),
    cond.box,
    field("Do", action),
    grantBox,
    revokeBox,
    notifyBox,
    h("button", { type: "submit" }, "Add rule"),
  );
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "Automations"),
    h("p", { class: "hint" }, "Rules the chain runs for you: when an event about you happens and its condition holds, the action is done as if you had signed it. Each firing is recorded on chain."),
    st,
    table("Your rules", ["#", "Rule", "State", "Fired", ""], rows),
    form,
  );
}

function errText(e) {
  if (e instanceof ApiError) return `${e.message} (${e.id})`;
  return e?.message ?? String(e);
}

/** Runs an action from a button, reporting progress and errors in statusEl. */
async function act(statusEl, busy, fn) {
  status(statusEl, busy, "info");
  // An action that re-renders the page detaches statusEl: its outcome then
  // goes to the flash line above the page, which stays until the next page.
  const out = () => (statusEl.isConnected ? statusEl : document.getElementById("flash"));
  try {
    const done = await fn();
    status(out(), done ?? "Done.", "ok");
  } catch (e) {
    status(out(), errText(e), "error");
  }
}

function needKey(what) {
  if (state.key) return null;
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "Unlock a key first"),
    h("p", {}, `The ${what} works with a key held in this browser. `, h("a", { href: "#/keys" }, "Create, import or unlock a key"), "."),
  );
}

// ---- pages ----

async function keysPage(el) {
  const st = h("p", { class: "status", role: "status" });
  const files = storedFiles();
  const unlockSel = h("select", {}, files.map((f) => h("option", { value: f.name }, `${f.name} (${short(f.address)})`)));
  const unlockPass = h("input", { type: "password", autocomplete: "current-password" });
  const unlock = h(
    "form",
    {
      class: "card",
      onsubmit: (ev) => {
        ev.preventDefault();
        const f = storedFiles().find((x) => x.name === unlockSel.value);
        act(st, "Unlocking (deriving the key from the passphrase)…", async () => {
          if (!f) throw new Error("no key stored in this browser yet");
          const seeds = await openKeyFile(parseKeyFile(JSON.stringify(f)), unlockPass.value);
          state.key = await Key.fromSeeds(seeds);
          seeds.fill(0);
          state.keyName = f.name;
          state.account = await api.get(`/v1/accounts/${state.key.address}`).catch(() => null);
          unlockPass.value = "";
          header();
          return `Unlocked ${f.name}. It stays unlocked in this tab only, until you lock it or close the tab.`;
        });
      },
    },
    h("h2", {}, "Unlock a key"),
    files.length ? [field("Key", unlockSel), field("Passphrase", unlockPass), h("button", { type: "submit" }, "Unlock")] : h("p", {}, "No key is stored in this browser yet: create or import one below."),
  );

  const newName = h("input", { type: "text", autocomplete: "off", required: true, pattern: "[a-z0-9][a-z0-9._\\-]{0,63}" });
  const newPass = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const newPass2 = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const create = h(
    "form",
    {
      class: "card",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Creating the key and protecting it with your passphrase…", async () => {
          checkName(newName.value);
          if (newPass.value.length < 8) throw new Error("choose a passphrase of at least 8 characters");
          if (newPass.value !== newPass2.value) throw new Error("the two passphrases differ");
          if (storedFiles().some((x) => x.name === newName.value)) throw new Error(`a key named ${newName.value} is already stored`);
          const { key, seeds } = await Key.generate();
          const f = await sealKeyFile({ name: newName.value, address: key.address, pubKey: key.pubHex, encKey: key.encHex }, seeds, newPass.value, DEFAULT_PARAMS);
          seeds.fill(0);
          storeFile(f);
          state.key = key;
          state.keyName = f.name;
          state.account = null;
          header();
          route();
          return `Created ${f.name} (${key.address}). Export it to keep a copy: without the file and passphrase it cannot be recovered.`;
        });
      },
    },
    h("h2", {}, "Create a key"),
    field("New key name", newName, "Lower-case letters, digits, dot, dash or underscore."),
    field("New passphrase", newPass, "At least 8 characters. It never leaves this browser."),
    field("New passphrase again", newPass2),
    h("button", { type: "submit" }, "Create key"),
  );

  const importText = h("textarea", { rows: 6, spellcheck: "false" });
  const importFile = h("input", { type: "file", accept: ".json,application/json" });
  importFile.addEventListener("change", async () => {
    if (importFile.files?.[0]) importText.value = await importFile.files[0].text();
  });
  const imp = h(
    "form",
    {
      class: "card",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Checking the key file…", async () => {
          const f = parseKeyFile(importText.value.trim() + "\n");
          storeFile(f);
          importText.value = "";
          route();
          return `Imported ${f.name} (${f.address}). Unlock it with its passphrase.`;
        });
      },
    },
    h("h2", {}, "Import a key file"),
    h("p", {}, "A key file written by ", h("code", {}, "medchain keys add"), " or exported from this page (for example ", h("code", {}, "~/.medchain/keys/patient1.json"), ")."),
    field("Key file", importFile),
    field("Or paste its contents", importText),
    h("button", { type: "submit" }, "Import"),
  );

  const list = table(
    "Keys stored in this browser (encrypted)",
    ["Name", "Address", "Actions"],
    files.map((f) => [
      f.name,
      h("code", {}, f.address),
      h(
        "span",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            onclick: () => {
              const a = h("a", { href: URL.createObjectURL(new Blob([keyFileText(f)], { type: "application/json" })), download: `${f.name}.json` });
              a.click();
              URL.revokeObjectURL(a.href);
            },
          },
          `Export ${f.name}`,
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: () => {
              if (!confirm(`Remove ${f.name} from this browser? Without an exported copy it is lost.`)) return;
              removeFile(f.name);
              if (state.keyName === f.name) lock();
              route();
            },
          },
          `Remove ${f.name}`,
        ),
      ),
    ]),
  );

  let register = null;
  if (state.key && !state.account) {
    const rst = h("p", { class: "status", role: "status" });
    register = h(
      "section",
      { class: "card" },
      h("h2", {}, "Register as a patient"),
      h("p", {}, `${state.keyName} has no account on the chain yet. Register it as a patient account to hold records and give consents.`),
      h(
        "button",
        {
          type: "button",
          onclick: () =>
            act(rst, "Registering…", async () => {
              await api.send(state.key, "accounts/register_patient", msg.registerPatient({ encKey: state.key.encHex }));
              state.account = await api.get(`/v1/accounts/${state.key.address}`);
              header();
              return "Registered: this key is now a patient account.";
            }),
        },
        "Register as a patient",
      ),
      rst,
    );
  }
  fill(el, h("h1", {}, "Your keys"), st, register, unlock, list, create, imp);
}

function lock() {
  state.key = null;
  state.keyName = null;
  state.account = null;
  header();
}

/** Erasing a record: a first button asks, a second one erases (records/erase). */
function eraseControl(r) {
  const st = h("span", { class: "status", role: "status" });
  const box = h("span", { class: "erase" });
  const label = `${r.resource_type} of ${fmtDate(r.created)}`;
  const ask = h("button", { type: "button", class: "danger" }, `Erase ${label}`);
  ask.addEventListener("click", () => {
    const yes = h(
      "button",
      {
        type: "button",
        class: "danger",
        onclick: () =>
          act(st, "Erasing…", async () => {
            await api.send(state.key, "records/erase", msg.recordsErase({ id: r.id }));
            await route();
            return `Record ${short(r.id)} erased: its keys are gone from the chain and every node deletes its ciphertext; the chain keeps only a tombstone.`;
          }),
      },
      `Yes, erase it for good`,
    );
    const no = h("button", { type: "button", onclick: () => fill(box, ask) }, "Keep it");
    fill(box, h("span", {}, `Erase this ${label}? No one, you included, can read it afterwards. `), yes, no, st);
  });
  fill(box, ask);
  return box;
}

/** The patient's guardians, who may act for them (accounts/set_guardian, accounts/revoke_guardian). */
async function guardiansCard(me, signedP) {
  const signed = await (signedP ?? api.get(`/v1/accounts/${me}`, state.key).catch(() => null));
  const gs = signed?.guardians ?? [];
  const st = h("p", { class: "status", role: "status" });
  const rows = [];
  for (const g of gs)
    rows.push([
      await who(g),
      h("code", {}, g),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () =>
            act(st, "Removing the guardian…", async () => {
              await api.send(state.key, "accounts/revoke_guardian", msg.revokeGuardian({ guardian: g }));
              await route();
              return `${short(g)} is no longer your guardian.`;
            }),
        },
        `Remove guardian ${short(g)}`,
      ),
    ]);
  const addr = h("input", { type: "text", required: true, autocomplete: "off", pattern: "mc[0-9a-f]{40}", placeholder: "mc…" });
  const form = h(
    "form",
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Adding the guardian…", async () => {
          const g = addr.value.trim();
          if (!/^mc[0-9a-f]{40}$/.test(g)) throw new Error("a guardian is an account address: mc followed by 40 hexadecimal digits");
          await api.send(state.key, "accounts/set_guardian", msg.setGuardian({ guardian: g }));
          await route();
          return `${short(g)} is now your guardian.`;
        });
      },
    },
    field("Guardian's account", addr, "A guardian can do what you can: read and add records, give and revoke access, erase."),
    h("button", { type: "submit" }, "Add guardian"),
  );
  return h("section", { class: "card" }, h("h2", {}, "Guardians"), st, gs.length ? table("People who may act for you", ["Who", "Account", ""], rows) : h("p", {}, "No one acts for you."), form);
}

async function patientPage(el) {
  const need = needKey("patient page");
  if (need) return fill(el, h("h1", {}, "Patient"), need);
  const me = state.key.address;
  // Every read of the page at once (a slow network or node then costs one round trip, not ten).
  const signedGet = (path, empty) => api.get(path, state.key).catch(() => empty);
  const pre = {
    recs: api.records(state.key, me).then((r) => ({ r }), (e) => ({ e })),
    signed: signedGet(`/v1/accounts/${me}`, null),
    consents: signedGet(`/v1/patients/${me}/consents`, { consents: [] }),
    rules: signedGet(`/v1/accounts/${me}/rules`, { rules: [] }),
    audit: signedGet(`/v1/patients/${me}/audit`, { events: [] }),
    signals: signedGet(`/v1/patients/${me}/signals`, { signals: [] }),
    emerg: signedGet(`/v1/patients/${me}/emergencies`, { emergencies: [] }),
    bookings: signedGet(`/v1/accounts/${me}/bookings`, { bookings: [] }),
    research: signedGet(`/v1/patients/${me}/research`, { participations: [] }),
    requests: api.get(`/v1/research/requests`).catch(() => ({ requests: [] })),
    offers: api.get(`/v1/telemed/offers`).catch(() => ({ offers: [] })),
    orgs: api.get("/v1/orgs").catch(() => ({ orgs: [] })),
  };
  const acct = await api.get(`/v1/accounts/${me}`).catch(() => null);
  const st = h("p", { class: "status", role: "status" });
  const sections = [h("h1", {}, "My health record"), st];
  sections.push(
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Account"),
      h("dl", { class: "facts" }, h("dt", {}, "Address"), h("dd", {}, h("code", {}, me)), h("dt", {}, "Balance"), h("dd", {}, fmtTokens(acct?.balance)), h("dt", {}, "Kind"), h("dd", {}, acct?.kind ?? "not registered")),
    ),
  );
  if (!acct) {
    sections.push(h("p", {}, "This key has no account yet. ", h("a", { href: "#/keys" }, "Register it as a patient"), "."));
    return fill(el, sections);
  }

  // Records, decrypted here on demand (each read goes to the trail).
  const got = await pre.recs;
  if (got.e) status(st, errText(got.e), "error");
  const recs = got.r ?? [];
  const recList = h("ul", { class: "records" });
  const openOne = async (r, slot, btn) => {
    btn.disabled = true;
    try {
      const { resource } = await api.readRecord(state.key, r.id);
      fill(slot, render(resource));
      btn.remove();
    } catch (e) {
      fill(slot, h("p", { class: "status error", role: "alert" }, errText(e)));
      btn.disabled = false;
    }
  };
  const openers = [];
  for (const r of recs) {
    const slot = h("div", { class: "record-body" });
    const btn = h("button", { type: "button" }, `Open ${r.resource_type} of ${fmtDate(r.created)}`);
    btn.addEventListener("click", () => openOne(r, slot, btn));
    openers.push(() => btn.isConnected && openOne(r, slot, btn));
    recList.append(h("li", { class: "record" }, h("p", {}, h("strong", {}, r.resource_type), ` · added ${fmtTime(r.created)} · version ${r.version}`, r.erased ? " · erased" : ""), slot, r.erased ? null : btn, r.erased ? null : eraseControl(r)));
  }
  sections.push(
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Records"),
      h("p", {}, "Records are decrypted in this browser with your key; the node only ever holds ciphertext. Each opening is written to your access trail."),
      recs.length ? h("button", { type: "button", onclick: () => openers.forEach((f) => f()) }, "Open all records") : h("p", {}, "No records yet."),
      recList,
    ),
  );

  sections.push(await guardiansCard(me, pre.signed));

  // Consents.
  const consents = (await pre.consents).consents ?? [];
  const cst = h("p", { class: "status", role: "status" });
  const rows = [];
  for (const c of consents) {
    const active = c.status === "active";
    rows.push([
      String(c.id),
      await consentText(c),
      c.status,
      active
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              onclick: () =>
                act(cst, `Revoking consent ${c.id}…`, async () => {
                  await api.send(state.key, "consent/revoke", msg.consentRevoke({ id: c.id }));
                  await route();
                  return `Consent ${c.id} revoked: from the next block on it gives no access.`;
                }),
            },
            `Revoke consent ${c.id}`,
          )
        : "",
    ]);
  }
  const grantee = h("input", { type: "text", required: true, autocomplete: "off", placeholder: "mc… or dev-hospital" });
  const access = h("select", {}, h("option", { value: "1" }, "see my records"), h("option", { value: "3" }, "see and add to my records"), h("option", { value: "2" }, "add records only"));
  const purpose = h("select", {}, Object.entries(PURPOSES).map(([k, v]) => h("option", { value: k }, v)));
  const typeBoxes = TYPES.map((t) => h("input", { type: "checkbox", value: t, id: `type-${t}` }));
  const until = h("input", { type: "date" });
  const cond = conditionField("access", CONDITION_PRESETS, "Only if");
  const grantForm = h(
    "form",
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        act(cst, "Granting (and sharing the keys of the covered records)…", async () => {
          const g = grantee.value.trim();
          const p = /^mc[0-9a-f]{40}$/.test(g) ? { kind: "account", address: g } : { kind: "org", org: g };
          if (p.kind === "org") await api.get(`/v1/orgs/${g}`).catch(() => Promise.reject(new Error(`no account or organization "${g}"`)));
          const end = until.value ? Math.floor(Date.parse(until.value + "T23:59:59Z") / 1000) : 0;
          const r = await api.grant(state.key, {
            patient: me,
            grantee: p,
            actions: Number(access.value),
            types: typeBoxes.filter((b) => b.checked).map((b) => b.value),
            purpose: purpose.value,
            until: end,
            condition: (await cond.check()) ?? "",
          });
          await route();
          return `Consent ${r.id} granted${r.shared ? `; ${r.shared} record key(s) shared with the grantee` : ""}.`;
        });
      },
    },
    h("h3", {}, "Give access"),
    field("Who", grantee, "An account address (mc…) or an organization id."),
    field("May", access),
    field("For", purpose),
    h("fieldset", {}, h("legend", {}, "Which records (none ticked: all of them)"), typeBoxes.map((b) => h("span", { class: "check" }, b, h("label", { for: b.id }, b.value)))),
    field("Until", until, "Leave empty for no end date."),
    h("details", { class: "condition-box" }, h("summary", {}, "Add a condition (optional)"), cond.box),
    h("button", { type: "submit" }, "Give access"),
  );
  sections.push(h("section", { class: "card" }, h("h2", {}, "Who may see my records"), cst, table("Consents", ["#", "What it allows", "Status", ""], rows), grantForm));
  sections.push(await automationsCard(me, pre.rules));

  // Access trail, emergencies and suspicious-access signals highlighted.
  const [audit, signals, emerg] = await Promise.all([pre.audit, pre.signals, pre.emerg]);
  const sigs = signals.signals ?? [];
  const suspects = new Set(sigs.map((s) => s.accessor));
  const emergencies = emerg.emergencies ?? [];

  // Emergency custodians: who may open an emergency access, and what they did.
  sections.push(await custodiansCard(me, consents, emergencies, pre.orgs));

  const events = [...(audit.events ?? [])].reverse();
  const trailRows = [];
  for (const e of events)
    trailRows.push([
      fmtTime(e.time),
      [await who(e.accessor), suspects.has(e.accessor) ? [" ", h("strong", { class: "badge suspicious" }, "suspicious")] : null],
      short(e.record),
      e.emergency ? h("strong", { class: "badge emergency" }, "EMERGENCY access") : e.basis ?? "",
      e.served ? "served" : h("strong", { class: "badge refused" }, "refused"),
    ]);
  const sigItems = [];
  for (const s of sigs) sigItems.push(h("li", {}, h("strong", {}, SIGNALS[s.kind] ?? s.kind.replace(/_/g, " ")), ` — ${await who(s.accessor)}, ${fmtTime(s.time)}${s.detail ? `: ${s.detail}` : ""}`));
  sections.push(
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Access trail"),
      sigs.length
        ? h("div", { class: "signals", role: "region", "aria-label": "Suspicious-access signals" }, h("h3", {}, `Suspicious-access signals (${sigs.length})`), h("ul", {}, sigItems))
        : h("p", { class: "hint" }, "No suspicious-access signal: no bulk reads, no reads after a consent ended, no unreviewed emergency access."),
      table("Who opened which record, newest first", ["When", "Who", "Record", "Grounds", "Outcome"], trailRows, {
        rowClass: (i) => (events[i].emergency ? "row-emergency" : !events[i].served ? "row-refused" : suspects.has(events[i].accessor) ? "row-suspicious" : ""),
      }),
      emergencies.length
        ? table(
            "Emergency accesses",
            ["#", "Opened by", "Reason", "Opened", "Until", "Review"],
            await Promise.all(
              emergencies.map(async (x) => [
                String(x.id),
                `${await who(x.practitioner)} (${x.org})`,
                REASONS[x.reason] ?? x.reason,
                fmtTime(x.opened),
                `${fmtTime(x.expires)}${x.open ? " (open now)" : ""}`,
                x.reviewed ? `reviewed ${fmtTime(x.reviewed)} by ${await who(x.reviewer)}: ${(x.review ?? "").replace(/_/g, " ")}` : h("strong", { class: "badge emergency" }, "not reviewed yet"),
              ]),
            ),
            { rowClass: () => "row-emergency" },
          )
        : null,
    ),
  );

  // Telemedicine and research.
  const [bookings, research, requests, offers] = await Promise.all([pre.bookings, pre.research, pre.requests, pre.offers]);
  const bst = h("p", { class: "status", role: "status" });
  const now = Date.now() / 1000;
  const bookingButton = (b, type, label, done) =>
    h(
      "button",
      {
        type: "button",
        class: type === "telemed/cancel" || type === "telemed/dispute" ? "danger" : undefined,
        onclick: () =>
          act(bst, `${label}…`, async () => {
            await api.send(state.key, type, msg.bookingAction({ booking: b.id }));
            await route();
            return done;
          }),
      },
      `${label} (booking ${b.id})`,
    );
  const bRows = [];
  for (const b of bookings.bookings ?? []) {
    const acts = [];
    if (b.state === "booked" && now < b.patient_cancel_before) acts.push(bookingButton(b, "telemed/cancel", "Cancel", `Booking ${b.id} cancelled: ${fmtTokens(b.price)} back to you.`));
    if (b.state === "done" || b.state === "patient_no_show_claimed") acts.push(bookingButton(b, "telemed/confirm", "Confirm it took place", `Booking ${b.id} confirmed: the escrow goes to the provider.`));
    if ((b.state === "booked" && now >= b.start) || ((b.state === "done" || b.state === "patient_no_show_claimed") && (!b.release_at || now < b.release_at)))
      acts.push(bookingButton(b, "telemed/dispute", "Dispute", `Booking ${b.id} disputed: the payment is frozen until the arbiter, ${b.arbiter}, decides.`));
    if (b.state === "booked" && now >= b.provider_no_show_after) acts.push(bookingButton(b, "telemed/noshow", "The provider did not come", `Booking ${b.id} closed: ${fmtTokens(b.price)} back to you.`));
    const stateText = b.state === "closed" ? `closed: ${(b.outcome ?? "").replace(/_/g, " ")}${b.to_patient ? `, ${fmtTokens(b.to_patient)} back to you` : ""}` : b.state.replace(/_/g, " ");
    const cancelNote = b.state === "booked" ? (now < b.patient_cancel_before ? `cancel free of charge until ${fmtTime(b.patient_cancel_before)}` : "too late to cancel") : "";
    const paid = b.state === "closed" ? `${fmtTokens(b.to_provider)} to the provider, ${fmtTokens(b.to_patient)} back to you` : b.release_at ? `${fmtTokens(b.held)} in escrow, released to the provider ${fmtTime(b.release_at)} unless you confirm or dispute` : `${fmtTokens(b.held)} in escrow`;
    bRows.push([String(b.id), await who(b.provider), `${fmtTime(b.start)} – ${fmtTime(b.end)}`, stateText, fmtTokens(b.price), paid, [cancelNote ? h("span", { class: "hint" }, cancelNote, " ") : null, acts]]);
  }
  sections.push(h("section", { class: "card" }, h("h2", {}, "Telemedicine bookings and payments"), bst, table("Bookings", ["#", "With", "When", "State", "Price", "Payment", ""], bRows), await bookForm(offers.offers ?? [])));

  const rst = h("p", { class: "status", role: "status" });
  const joined = new Set((research.participations ?? []).map((p) => p.request));
  const reqRows = [];
  for (const r of (requests.requests ?? []).filter((r) => r.end > now)) reqRows.push([
    String(r.id),
    h(
      "div",
      {},
      h("p", {}, h("strong", {}, r.purpose), ` by ${await who(r.researcher)}`),
      h(
        "p",
        { class: "hint" },
        `Reads your ${r.resource_types.join(", ")} records${r.codes?.length ? ` with codes ${r.codes.join(", ")}` : ""}, until ${fmtDate(r.end)}. Taking part grants the researcher read access to those records for research until then (you can revoke it). ${r.patients} patient(s) take part, ${r.paid_patients} paid so far; ${fmtTokens(Math.max(0, r.held - r.reserved))} of the budget left.`,
      ),
    ),
    fmtTokens(r.price),
    fmtDate(r.end),
    joined.has(r.id)
      ? "You take part"
      : h(
          "button",
          {
            type: "button",
            onclick: () =>
              act(rst, `Opting in to request ${r.id}…`, async () => {
                const g = await api.grant(state.key, { patient: me, grantee: { kind: "account", address: r.researcher }, actions: msg.ACT_READ, types: r.resource_types, purpose: "research", until: r.end });
                await api.send(state.key, "research/optin", msg.researchOptin({ request: r.id, patient: me, consent: g.id }));
                await route();
                return `You take part in request ${r.id} (consent ${g.id}); you are paid ${fmtTokens(r.price)} at the researcher's first read.`;
              }),
          },
          `Take part in request ${r.id}`,
        ),
  ]);
  const partRows = (research.participations ?? []).map((p) => [
    String(p.request),
    `${fmtTime(p.joined)} (consent ${p.consent})`,
    p.amount ? `${fmtTokens(p.amount)} on ${fmtTime(p.paid_at)}` : "not yet: you are paid at the researcher's first read",
    boughtText(p),
  ]);
  sections.push(
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Research requests"),
      rst,
      table("Open paid data requests", ["#", "What for", "Pays", "Ends", ""], reqRows),
      table(`Your participation (total paid ${fmtTokens(research.total_paid)})`, ["Request", "Joined", "Paid", "What the payment bought"], partRows),
    ),
  );
  fill(el, sections);
}

/** What a research payment bought: the reads of the patient's records it covers. */
function boughtText(p) {
  const acc = p.accesses ?? [];
  if (!acc.length) return "no read yet";
  return h(
    "ul",
    { class: "plain" },
    acc.map((a) => h("li", {}, `read of record ${short(a.record)} (version ${a.version}) on ${fmtTime(a.time)} through ${a.node}'s node, trail entry ${a.seq}`)),
    p.more_accesses ? h("li", {}, `and ${p.more_accesses} later read(s)`) : null,
  );
}

const SIGNALS = {
  bulk_reads: "Bulk reads: many patients' records opened in a short time",
  refused_expired_or_revoked: "Tried to read after the consent ended or was revoked",
  emergency_unreviewed: "Emergency access not yet reviewed",
};

/** The organizations that may open an emergency (break-glass) access: consents of purpose emergency. */
async function custodiansCard(me, consents, emergencies, orgsP) {
  const st = h("p", { class: "status", role: "status" });
  const cs = consents.filter((c) => c.purpose === "emergency" && c.status === "active");
  const rows = [];
  for (const c of cs) {
    const org = c.grantee.kind === "org" ? c.grantee.org : null;
    const opened = emergencies.filter((e) => (org ? e.org === org : e.practitioner === c.grantee.address));
    rows.push([
      await partyText(c.grantee),
      `consent ${c.id}, since ${fmtTime(c.start)}, ${c.until ? `until ${fmtDate(c.until)}` : "no end date"}`,
      opened.length ? h("strong", { class: "badge emergency" }, `${opened.length} emergency access(es) opened, ${opened.filter((e) => !e.reviewed).length} not reviewed`) : "none opened",
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () =>
            act(st, `Revoking consent ${c.id}…`, async () => {
              await api.send(state.key, "consent/revoke", msg.consentRevoke({ id: c.id }));
              await route();
              return `Consent ${c.id} revoked: ${org ?? short(c.grantee.address)} can no longer open an emergency access to your records.`;
            }),
        },
        `Remove custodian ${org ?? short(c.grantee.address)}`,
      ),
    ]);
  }
  const orgs = ((await (orgsP ?? api.get("/v1/orgs").catch(() => ({ orgs: [] })))).orgs ?? []).filter((o) => ["hospital", "clinic"].includes(o.type));
  const sel = h("select", {}, orgs.map((o) => h("option", { value: o.id }, `${o.name} (${o.id})`)));
  const form = h(
    "form",
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Naming the custodian (and sharing your records' keys with it)…", async () => {
          const r = await api.grant(state.key, { patient: me, grantee: { kind: "org", org: sel.value }, actions: msg.ACT_READ, purpose: "emergency", until: 0 });
          await route();
          return `Consent ${r.id}: ${sel.value} may now open an emergency access to your records; every such access is flagged in your trail and reviewed.`;
        });
      },
    },
    field("Organization", sel, "Its practitioners may open an emergency access with a coded reason when you cannot consent; each one is flagged here and reviewed by the organization."),
    h("button", { type: "submit" }, "Add emergency custodian"),
  );
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "Emergency custodians"),
    st,
    table("Who may open an emergency access to your records", ["Custodian", "Since", "Emergency accesses", ""], rows, { rowClass: (i) => (rows[i][2] instanceof Node ? "row-emergency" : "") }),
    orgs.length ? form : null,
  );
}

/** Booking a telemedicine consultation from a published offer (telemed/book). */
async function bookForm(offers) {
  const live = offers.filter((o) => o.provider !== state.key.address);
  if (!live.length) return h("p", { class: "hint" }, "No telemedicine offer is published.");
  const labels = [];
  for (const o of live) labels.push(`${o.service.replace(/[-_]/g, " ")} with ${await who(o.provider)}: ${fmtTokens(o.price)}, ${Math.round(o.duration_seconds / 60)} min (offer ${o.id})`);
  const sel = h("select", {}, live.map((o, i) => h("option", { value: String(o.id) }, labels[i])));
  const start = h("input", { type: "datetime-local", required: true, step: 1 });
  const st = h("p", { class: "status", role: "status" });
  const terms = h("p", { class: "hint" });
  const sync = () => {
    const o = live.find((x) => String(x.id) === sel.value);
    fill(terms, o ? `Paid into escrow when you book. Cancel free of charge until ${Math.round(o.cancel_before_seconds / 60)} min before the start; if the provider does not come, claim the refund ${Math.round(o.no_show_grace_seconds / 60)} min after the end. Disputes are decided by ${o.arbiter}.` : "");
  };
  sel.addEventListener("change", sync);
  sync();
  return h(
    "form",
    {
      class: "subcard",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Booking (the price goes into escrow)…", async () => {
          // datetime-local is the browser's local time.
          const t = Math.floor(new Date(start.value).getTime() / 1000);
          if (!Number.isFinite(t)) throw new Error("choose when the consultation starts");
          const r = await api.send(state.key, "telemed/book", msg.telemedBook({ offer: Number(sel.value), start: t }));
          const id = r.events?.find((e) => e.type === "telemed_booked")?.attributes?.booking;
          await route();
          return `Booked${id ? `: booking ${id}` : ""}, starting ${fmtTime(t)}.`;
        });
      },
    },
    h("h3", {}, "Book a consultation"),
    field("Offer", sel),
    terms,
    field("Starts at (your local time)", start),
    h("button", { type: "submit" }, "Book and pay"),
    st,
  );
}

async function practitionerPage(el) {
  const need = needKey("practitioner page");
  if (need) return fill(el, h("h1", {}, "Practitioner"), need);
  const me = state.key.address;
  const acct = await api.get(`/v1/accounts/${me}`).catch(() => null);
  const st = h("p", { class: "status", role: "status" });
  const lists = [api.get(`/v1/grantees/${me}/consents`, state.key).catch(() => ({ consents: [] }))];
  if (acct?.org) lists.push(api.get(`/v1/grantees/org:${acct.org}/consents`, state.key).catch(() => ({ consents: [] })));
  const consents = (await Promise.all(lists)).flatMap((x) => x.consents ?? []).filter((c) => c.status === "active");
  const patients = new Map();
  for (const c of consents) {
    if (!patients.has(c.patient)) patients.set(c.patient, []);
    patients.get(c.patient).push(c);
  }
  const detail = h("div", {});
  const showPatient = async (p) => {
    fill(detail, h("p", {}, "Loading…"));
    const recs = await api.records(state.key, p).catch((e) => (fill(detail, h("p", { class: "status error", role: "alert" }, errText(e))), null));
    if (!recs) return;
    const ul = h("ul", { class: "records" });
    for (const r of recs) {
      const slot = h("div", { class: "record-body" });
      const btn = h("button", { type: "button" }, `Open ${r.resource_type} of ${fmtDate(r.created)}`);
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          fill(slot, render((await api.readRecord(state.key, r.id)).resource));
          btn.remove();
        } catch (e) {
          fill(slot, h("p", { class: "status error", role: "alert" }, errText(e)));
          btn.disabled = false;
        }
      });
      ul.append(h("li", { class: "record" }, h("p", {}, h("strong", {}, r.resource_type), ` · added ${fmtTime(r.created)}`), slot, btn));
    }
    fill(detail, h("h3", {}, `Records of ${await who(p)}`), recs.length ? ul : h("p", {}, "No records."), addRecordForm(p));
  };
  const rows = [];
  for (const [p, cs] of patients)
    rows.push([
      await who(p),
      (await Promise.all(cs.map((c) => consentText(c, { grantee: true })))).join(" "),
      cs.some((c) => c.purpose !== "emergency") ? h("button", { type: "button", onclick: () => showPatient(p) }, `Show records of ${nameOf(p) ?? short(p)}`) : "emergency custody only",
    ]);

  const epat = h("input", { type: "text", required: true, autocomplete: "off", placeholder: "mc…" });
  const ereason = h("select", {}, Object.entries(REASONS).map(([k, v]) => h("option", { value: k }, v)));
  const est = h("p", { class: "status", role: "status" });
  const emergency = h(
    "form",
    {
      class: "card",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(est, "Opening an emergency access…", async () => {
          const r = await api.send(state.key, "consent/open_emergency", msg.openEmergency({ patient: epat.value.trim(), reason: ereason.value }));
          const id = r.events?.find((e) => e.type?.includes("emergency"))?.attributes?.id;
          return `Emergency access${id ? " " + id : ""} opened. Every read under it is flagged in the patient's trail and reviewed by your organization.`;
        });
      },
    },
    h("h2", {}, "Emergency access"),
    h("p", {}, "Only for a patient whose emergency custodian is your organization. The reason is a code: write the clinical justification in your hospital's own system, never here."),
    field("Patient address", epat),
    field("Reason", ereason),
    h("button", { type: "submit", class: "danger" }, "Open emergency access"),
    est,
  );
  fill(
    el,
    h("h1", {}, "Practitioner"),
    st,
    h("p", {}, acct ? `Signed in as ${state.keyName}: ${acct.role ?? acct.kind}${acct.org ? " at " + acct.org : ""}.` : "This key has no account."),
    h("section", { class: "card" }, h("h2", {}, "Patients who gave you access"), table("Patients", ["Patient", "Consent", ""], rows), detail),
    emergency,
  );
}

function addRecordForm(patient) {
  const kind = h("select", {}, ["Observation", "Condition", "MedicationRequest"].map((k) => h("option", { value: k }, k)));
  const code = h("input", { type: "text", required: true, autocomplete: "off" });
  const display = h("input", { type: "text", autocomplete: "off" });
  const value = h("input", { type: "text", inputmode: "decimal", autocomplete: "off" });
  const unit = h("input", { type: "text", autocomplete: "off" });
  const dosage = h("input", { type: "text", autocomplete: "off" });
  const date = h("input", { type: "date" });
  const json = h("textarea", { rows: 4, spellcheck: "false" });
  const st = h("p", { class: "status", role: "status" });
  const obsOnly = h("div", {}, field("Value", value), field("Unit", unit, "UCUM, e.g. mg/dL, mmol/L, %"));
  const medOnly = h("div", { hidden: true }, field("Dosage", dosage));
  const codeHint = h("span", {});
  const sync = () => {
    obsOnly.hidden = kind.value !== "Observation";
    medOnly.hidden = kind.value !== "MedicationRequest";
    fill(codeHint, { Observation: "LOINC code", Condition: "SNOMED CT code", MedicationRequest: "RxNorm code" }[kind.value]);
  };
  kind.addEventListener("change", sync);
  sync();
  const codeField = field("Code", code);
  codeField.querySelector("label").append(" (", codeHint, ")");
  return h(
    "form",
    {
      class: "subcard",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Encrypting in the browser and adding the record…", async () => {
          const res = json.value.trim()
            ? JSON.parse(json.value)
            : buildResource(kind.value, { code: code.value.trim(), display: display.value.trim(), value: value.value, unit: unit.value.trim(), dosage: dosage.value.trim(), date: date.value }, patient);
          if (json.value.trim() && res.subject?.reference && res.subject.reference !== `Patient/${patient}`) throw new Error("the resource is about another patient (subject/1)");
          const r = await api.addRecord(state.key, patient, res);
          return `Added ${res.resourceType} "${title(res)}" as record ${r.id}.`;
        });
      },
    },
    h("h3", {}, "Add a record"),
    field("Kind", kind),
    codeField,
    field("Name", display, "What a reader sees, e.g. Hemoglobin A1c."),
    obsOnly,
    medOnly,
    field("Date", date),
    field("Or a FHIR R4 resource (JSON)", json, "Overrides the fields above."),
    h("button", { type: "submit", onclick: () => (code.required = !json.value.trim()) }, "Add record"),
    st,
  );
}

/** A transaction's events in words: the decoded attributes, never health data (the API withholds patient-scoped ones). */
function txDetail(t) {
  if (t.redacted) return h("span", { class: "muted" }, "patient-scoped: details withheld");
  const evs = (t.events ?? []).filter((e) => e.type !== "message" && e.type !== "tx" && e.type !== "fee");
  if (!evs.length) return t.log ? h("span", { class: "muted" }, t.log.slice(0, 160)) : "—";
  return h(
    "ul",
    { class: "tx-events" },
    evs.slice(0, 4).map((e) => h("li", {}, h("code", {}, e.type), " ", Object.entries(e.attributes ?? {}).map(([k, v]) => `${k}=${String(v).length > 24 ? short(String(v)) : v}`).join(", "))),
    evs.length > 4 ? h("li", { class: "muted" }, `and ${evs.length - 4} more`) : null,
  );
}

// The explorer's live state: latency samples (this browser to the node) and
// the blocks seen, kept while the page is open.
const explorerLive = { latency: [], blocks: new Map(), timer: null };

async function timedStatus() {
  const t0 = performance.now();
  const st = await api.get("/v1/status");
  explorerLive.latency.push({ x: Date.now(), y: performance.now() - t0 });
  if (explorerLive.latency.length > 300) explorerLive.latency.shift();
  return st;
}

function explorerCharts(box) {
  const blocks = [...explorerLive.blocks.values()];
  const { throughput, blockTime } = blockSeries(blocks);
  fill(
    box,
    h("h2", {}, "Over time"),
    h("p", { class: "hint" }, `From the last ${blocks.length} blocks' times and transaction counts; the latency is this browser's round trip to the node's API, sampled every ${EXPLORER_POLL_MS / 1000} s while this page is open. The charts follow new blocks.`),
    h(
      "div",
      { class: "charts" },
      lineChart({ title: "Throughput", unit: "tx/s", points: throughput, kind: "a" }),
      lineChart({ title: "Block time", unit: "s", points: blockTime, kind: "b" }),
      lineChart({ title: "API latency", unit: "ms", points: explorerLive.latency, kind: "c" }),
    ),
  );
}

const EXPLORER_POLL_MS = 3000;

async function explorerPage(el) {
  clearInterval(explorerLive.timer);
  const st = await timedStatus();
  for (let i = 0; i < 4; i++) await timedStatus();
  // The latest blocks, then further back (at most 180 blocks) until 15
  // transactions are found: most blocks of a quiet network are empty.
  const got = [];
  let txs = [];
  for (let top = st.height; top > 0 && got.length < 180 && txs.length < 15; top -= 60) {
    const heights = [];
    for (let i = top; i > 0 && i > top - 60; i--) heights.push(i);
    const blocks = (await Promise.all(heights.map((x) => api.get(`/v1/blocks/${x}`).catch(() => null)))).filter(Boolean);
    got.push(...blocks);
    txs = got.flatMap((b) => b.txs.map((t) => ({ ...t, time: b.time })));
  }
  explorerLive.blocks = new Map(got.slice(0, 120).map((b) => [b.height, { height: b.height, time: b.time, num_txs: b.num_txs }]));
  const [vals, cset] = await Promise.all([
    api.get("/v1/staking/validators").then((r) => r.validators ?? []).catch(() => []),
    api.get("/v1/validators").then((r) => r.validators ?? []).catch(() => []),
  ]);
  const revenue = await Promise.all(vals.map((v) => api.get(`/v1/validators/revenue/${v.org}`).catch(() => null)));
  const sum = (r, k) => (r?.days ?? []).reduce((a, d) => a + Number(d[k] ?? 0), 0);
  const times = got.slice(0, 40).map((b) => Date.parse(b.time)).filter(Number.isFinite);
  const avg = times.length > 1 ? (times[0] - times[times.length - 1]) / (times.length - 1) / 1000 : 0;
  const totalPower = vals.reduce((a, v) => a + Number(v.power ?? 0), 0);
  const lookup = h("input", { type: "text", autocomplete: "off" });
  const lst = h("div", {});
  const charts = h("section", { class: "card", "aria-label": "Charts" });
  const net = h("dl", { class: "facts" });
  const showNet = (s) =>
    fill(
      net,
      [
        ["Chain", s.chain_id],
        ["Height", String(s.height)],
        ["Latest block", fmtTime(s.latest_block_time)],
        ["Average block time", avg ? `${avg.toFixed(2)} s over the last ${times.length} blocks` : "—"],
        ["Syncing", s.catching_up ? "catching up with the network" : "in sync"],
        ["Validators", `${vals.filter((v) => v.power > 0).length} with power (${totalPower} in all), ${cset.length} in the consensus set`],
        ["Peers", String(s.peers)],
        ["Node", `${s.moniker} (${s.version}), ${s.voting_power ? `validator with power ${s.voting_power}` : "not a validator"}`],
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
  showNet(st);
  explorerCharts(charts);
  fill(
    el,
    h("h1", {}, "Explorer"),
    h("section", { class: "card" }, h("h2", {}, "Network"), net),
    charts,
    h(
      "form",
      {
        class: "card",
        onsubmit: async (ev) => {
          ev.preventDefault();
          const q = lookup.value.trim();
          try {
            const r = /^\d+$/.test(q) ? await api.get(`/v1/blocks/${q}`) : await api.get(`/v1/txs/${q.toUpperCase()}`);
            fill(lst, h("pre", { class: "json" }, JSON.stringify(r, null, 2)));
          } catch (e) {
            fill(lst, h("p", { class: "status error", role: "alert" }, errText(e)));
          }
        },
      },
      field("Block height or transaction hash", lookup),
      h("button", { type: "submit" }, "Look up"),
      lst,
    ),
    table("Latest blocks", ["Height", "Time", "Transactions", "Hash"], got.slice(0, 15).map((b) => [String(b.height), fmtTime(b.time), String(b.num_txs), h("code", {}, short(b.hash))])),
    table(
      `Transactions in the last ${got.length} blocks (health data is never on chain; patient-scoped events are withheld)`,
      ["Height", "Type", "Signer", "Result", "What it did", "Hash"],
      txs.map((t) => [String(t.height), t.type, h("code", {}, short(t.signer)), t.code === 0 ? "ok" : `failed (${t.codespace ?? ""}/${t.code})`, txDetail(t), h("code", {}, short(t.hash))]),
    ),
    table(
      "Validators and their revenue",
      ["Organization", "Power", "Share of power", "Bonded", "Commission", "Rewards earned", "Missed blocks", "Status"],
      vals.map((v, i) => [
        v.org,
        String(v.power),
        totalPower ? `${((100 * v.power) / totalPower).toFixed(1)} %` : "—",
        fmtTokens(v.tokens),
        `${(v.commission_bps / 100).toFixed(2)} %`,
        fmtTokens(sum(revenue[i], "rewards") + sum(revenue[i], "commission")),
        String(v.missed_blocks ?? 0),
        v.tombstoned ? "tombstoned" : v.jailed ? "jailed" : v.approved === false ? "no longer approved" : "active",
      ]),
    ),
  );
  // Live: new blocks extend the charts while this page is shown.
  let busy = false;
  explorerLive.timer = setInterval(async () => {
    if (!charts.isConnected) return clearInterval(explorerLive.timer);
    if (busy) return;
    busy = true;
    try {
      const s = await timedStatus();
      const top = Math.max(...explorerLive.blocks.keys());
      const hs = [];
      for (let x = Math.max(top + 1, s.height - 30); x <= s.height; x++) hs.push(x);
      for (const b of (await Promise.all(hs.map((x) => api.get(`/v1/blocks/${x}`).catch(() => null)))).filter(Boolean)) explorerLive.blocks.set(b.height, { height: b.height, time: b.time, num_txs: b.num_txs });
      const keep = [...explorerLive.blocks.keys()].sort((a, b) => b - a).slice(0, 120);
      explorerLive.blocks = new Map(keep.map((k) => [k, explorerLive.blocks.get(k)]));
      if (charts.isConnected) {
        showNet(s);
        explorerCharts(charts);
      }
    } catch {
      // The next tick tries again; a node that stopped shows in the latency chart's gap.
    } finally {
      busy = false;
    }
  }, EXPLORER_POLL_MS);
}

const ROLES = ["admin", "practitioner", "researcher", "staff", "gateway"];

async function orgPage(el) {
  const meAcct = state.key ? await api.get(`/v1/accounts/${state.key.address}`).catch(() => null) : null;
  const myOrg = meAcct?.kind === "member" && meAcct.active !== false ? meAcct.org : null;
  const amAdmin = myOrg && meAcct.role === "admin";
  const orgs = (await api.get("/v1/orgs")).orgs ?? [];
  const sel = h("select", {}, orgs.map((o) => h("option", { value: o.id, selected: o.id === myOrg }, `${o.name} (${o.id})`)));
  const detail = h("div", {});
  const st = h("p", { class: "status", role: "status" });
  const show = async () => {
    const [o, rev, vals] = await Promise.all([
      api.get(`/v1/orgs/${sel.value}`),
      api.get(`/v1/validators/revenue/${sel.value}`).catch(() => null),
      api.get("/v1/staking/validators").then((r) => (r.validators ?? []).filter((v) => v.org === sel.value)).catch(() => []),
    ]);
    const mine = amAdmin && o.id === myOrg;
    const members = [];
    for (const m of o.members ?? [])
      members.push([
        await who(m.address),
        m.role,
        m.active ? "active" : h("strong", { class: "badge refused" }, "deactivated"),
        mine && m.active && m.address !== state.key.address
          ? h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: () =>
                  act(st, "Deactivating…", async () => {
                    await api.send(state.key, "accounts/deactivate_member", msg.deactivateMember({ address: m.address }));
                    accountCache.delete(m.address);
                    await route();
                    return `${short(m.address)} is deactivated: it can no longer sign for ${o.id}.`;
                  }),
              },
              `Deactivate ${nameOf(m.address) ?? short(m.address)}`,
            )
          : "",
      ]);
    const parts = [
      facts([["Type", o.type], ["Member of the consortium", o.member ? "yes" : "no"], ["Joined", fmtTime(o.joined)]]),
      table(`Members of ${o.name}`, ["Account", "Role", "State", ""], members, { rowClass: (i) => ((o.members[i]?.active ?? true) ? "" : "row-refused") }),
    ];
    if (mine) parts.push(registerMemberForm(o.id));
    // Validator revenue: per UTC day (proven state) and per recent block.
    const days = rev?.days ?? [];
    const blocks = rev?.blocks ?? [];
    const st2 = h("p", { class: "status", role: "status" });
    parts.push(
      h(
        "section",
        { class: "subcard", "aria-label": "Validator revenue" },
        h("h3", {}, `Validator revenue of ${o.id}`),
        vals.length
          ? table(
              "Validators it operates",
              ["Consensus key", "Power", "Commission rate", "Commission not yet withdrawn", "Status", ""],
              vals.map((v) => [
                h("code", {}, short(v.pub_key)),
                String(v.power),
                `${(v.commission_bps / 100).toFixed(2)} %`,
                fmtTokens(v.commission_pending),
                v.tombstoned ? "tombstoned" : v.jailed ? "jailed" : "active",
                mine && v.commission_pending > 0
                  ? h(
                      "button",
                      {
                        type: "button",
                        onclick: () =>
                          act(st2, "Withdrawing the commission…", async () => {
                            await api.send(state.key, "staking/withdraw_commission", msg.withdrawCommission({ validator: v.pub_key }));
                            await route();
                            return `Commission paid to ${state.keyName}.`;
                          }),
                      },
                      `Withdraw commission of ${short(v.pub_key)}`,
                    )
                  : "",
              ]),
            )
          : h("p", {}, `${o.id} operates no validator.`),
        st2,
        days.length
          ? table(
              "Revenue per day (UTC)",
              ["Day", "Blocks", "Rewards", "Commission", "Delegators' part"],
              days.map((d) => [d.date, String(d.blocks), fmtTokens(d.rewards), fmtTokens(d.commission), fmtTokens(d.delegators)]),
            )
          : null,
        blocks.length > 1 ? lineChart({ title: "Reward per block", unit: "MED", points: revenuePoints(blocks), kind: "a", xLabel: "height" }) : null,
      ),
    );
    fill(detail, parts);
  };
  sel.addEventListener("change", show);

  // Governance.
  const props = (await api.get("/v1/proposals")).proposals ?? [];
  const memberOrgs = orgs.filter((o) => o.member);
  const propRows = props.map((p) => {
    const votes = Object.entries(p.votes ?? {});
    const yes = votes.filter(([, v]) => v === true || v === "yes").length;
    return [
      String(p.id),
      actionText({ kind: p.kind, ...p.action }),
      p.reason ?? "",
      `${p.status}${p.status === "open" ? ` (${yes} of ${memberOrgs.length} yes; passes at two thirds)` : ""}`,
      votes.map(([org, v]) => `${org}: ${v === true || v === "yes" ? "yes" : v === false || v === "no" ? "no" : v}`).join(", ") || "—",
      amAdmin && p.status === "open" && !(myOrg in (p.votes ?? {}))
        ? h(
            "span",
            { class: "actions" },
            [true, false].map((yes) =>
              h(
                "button",
                {
                  type: "button",
                  onclick: () =>
                    act(st, "Voting…", async () => {
                      await api.send(state.key, "gov/vote", msg.govVote({ proposal: p.id, approve: yes }));
                      await route();
                      return `Voted ${yes ? "yes" : "no"} on proposal ${p.id}.`;
                    }),
                },
                `Vote ${yes ? "yes" : "no"} on ${p.id}`,
              ),
            ),
          )
        : amAdmin && p.status === "open"
          ? `${myOrg} voted`
          : "",
    ];
  });
  let proposeForm = null;
  if (amAdmin) {
    const params = (await api.get("/v1/params").catch(() => ({ params: [] }))).params ?? [];
    const kind = h("select", {}, h("option", { value: "set_param" }, "change a governance parameter"), h("option", { value: "remove_member" }, "remove a member organization"));
    const param = h("select", {}, params.map((x) => h("option", { value: x.name }, `${x.name} (now ${x.value}; ${x.min} … ${x.max})`)));
    const value = h("input", { type: "number", min: 0, step: 1, inputmode: "numeric" });
    const org = h("select", {}, memberOrgs.filter((o) => o.id !== myOrg).map((o) => h("option", { value: o.id }, `${o.name} (${o.id})`)));
    const reason = h("input", { type: "text", required: true, maxlength: 512, autocomplete: "off" });
    const paramBox = h("div", {}, field("Parameter", param), field("New value", value));
    const orgBox = h("div", { hidden: true }, field("Organization to remove", org));
    kind.addEventListener("change", () => {
      paramBox.hidden = kind.value !== "set_param";
      orgBox.hidden = kind.value !== "remove_member";
    });
    proposeForm = h(
      "form",
      {
        class: "card",
        onsubmit: (ev) => {
          ev.preventDefault();
          act(st, "Proposing…", async () => {
            if (kind.value === "set_param" && value.value === "") throw new Error("give the parameter's new value");
            const r = await api.send(state.key, "gov/propose", msg.govPropose({ kind: kind.value, param: kind.value === "set_param" ? param.value : "", value: kind.value === "set_param" ? Number(value.value) : 0, orgId: kind.value === "remove_member" ? org.value : "", reason: reason.value.trim() }));
            const id = r.events?.find((e) => e.type?.startsWith("proposal"))?.attributes?.id ?? r.events?.find((e) => e.attributes?.proposal)?.attributes?.proposal;
            await route();
            return `Proposal ${id ?? ""} submitted; ${myOrg} voted yes.`.replace("  ", " ");
          });
        },
      },
      h("h2", {}, "Propose"),
      field("Kind", kind),
      paramBox,
      orgBox,
      field("Reason", reason, "Shown to every member; at most 512 characters."),
      h("button", { type: "submit" }, "Submit proposal"),
    );
  }
  fill(
    el,
    h("h1", {}, "Organizations and governance"),
    st,
    h("section", { class: "card" }, field("Organization", sel), detail),
    table("Governance proposals", ["#", "Action", "Reason", "Status", "Votes", ""], propRows),
    proposeForm,
  );
  if (orgs.length) await show();
}

function actionText(a) {
  if (!a) return "";
  switch (a.kind) {
    case "set_param":
      return `set ${a.param} to ${a.value}`;
    case "remove_member":
      return `remove member ${a.org_id}`;
    case "add_member":
      return `add member ${a.org?.id ?? ""} (${a.org?.type ?? ""})`;
    case "add_validator":
      return `add a validator operated by ${a.org_id} with power ${a.power}`;
    case "remove_validator":
      return `remove validator ${short(a.validator ?? "")}`;
    default:
      return `${a.kind} ${a.upgrade?.name ?? a.org_id ?? ""}`.trim();
  }
}

function revenuePoints(blocks) {
  // x is a block height here: the chart's clock labels are replaced by heights (xLabel).
  return blocks.slice(-200).map((b) => ({ x: b.height, y: Number(b.rewards) + Number(b.commission) }));
}

/** An admin registers a member of their organization (accounts/register_member) from its key file's public fields. */
function registerMemberForm(org) {
  const keyfile = h("textarea", { rows: 3, spellcheck: "false", placeholder: '{"version": 1, "name": …, "pub_key": …, "enc_key": …}' });
  const pub = h("input", { type: "text", autocomplete: "off", pattern: "[0-9a-f]{64}" });
  const enc = h("input", { type: "text", autocomplete: "off", pattern: "[0-9a-f]{64}" });
  const role = h("select", {}, ROLES.map((r) => h("option", { value: r, selected: r === "practitioner" }, r)));
  const st = h("p", { class: "status", role: "status" });
  keyfile.addEventListener("input", () => {
    try {
      const f = JSON.parse(keyfile.value);
      if (f.pub_key) pub.value = f.pub_key;
      if (f.enc_key) enc.value = f.enc_key;
    } catch {
      // Not (yet) JSON: the fields stay as typed.
    }
  });
  return h(
    "form",
    {
      class: "subcard",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Registering the member…", async () => {
          if (!/^[0-9a-f]{64}$/.test(pub.value) || !/^[0-9a-f]{64}$/.test(enc.value)) throw new Error("the public and encryption keys are 64 hexadecimal digits each (a key file's pub_key and enc_key)");
          await api.send(state.key, "accounts/register_member", msg.registerMember({ pubKey: pub.value, encKey: enc.value, role: role.value }));
          await route();
          return `Registered a ${role.value} of ${org}.`;
        });
      },
    },
    h("h3", {}, `Add a member to ${org}`),
    h("p", { class: "hint" }, "The new member creates a key (on the Keys page or with medchain keys add) and gives you its key file or its two public keys: never the passphrase."),
    field("Their key file (public fields are read from it)", keyfile),
    field("Public key", pub),
    field("Encryption key", enc),
    field("Role", role),
    h("button", { type: "submit" }, "Register member"),
    st,
  );
}

/** The provider's and the arbiter's side of telemedicine. */
async function telemedPage(el) {
  const need = needKey("telemedicine page");
  if (need) return fill(el, h("h1", {}, "Telemedicine"), need);
  const me = state.key.address;
  const acct = await api.get(`/v1/accounts/${me}`).catch(() => null);
  const sections = [h("h1", {}, "Telemedicine"), h("p", {}, acct?.kind === "member" ? `Signed in as ${state.keyName}: ${acct.role} at ${acct.org}.` : "Patients book and pay on their own page; this page is for providers (practitioners) and arbiters (an organization's admins).")];
  const now = Date.now() / 1000;
  const mins = (s) => `${Math.round(s / 60)} min`;

  if (acct?.kind === "member" && acct.role === "practitioner") {
    const [offers, bookings, orgs] = await Promise.all([
      api.get(`/v1/telemed/offers?provider=${me}&all=true`).catch(() => ({ offers: [] })),
      api.get(`/v1/accounts/${me}/bookings`, state.key).catch(() => ({ bookings: [] })),
      api.get("/v1/orgs").catch(() => ({ orgs: [] })),
    ]);
    const ost = h("p", { class: "status", role: "status" });
    const offerRows = (offers.offers ?? []).map((o) => [
      String(o.id),
      o.service,
      fmtTokens(o.price),
      mins(o.duration_seconds),
      o.arbiter,
      `cancel up to ${mins(o.cancel_before_seconds)} before; no-show grace ${mins(o.no_show_grace_seconds)}`,
      o.withdrawn
        ? `withdrawn ${fmtTime(o.withdrawn)}`
        : h(
            "button",
            {
              type: "button",
              class: "danger",
              onclick: () =>
                act(ost, `Withdrawing offer ${o.id}…`, async () => {
                  await api.send(state.key, "telemed/withdraw", msg.telemedWithdraw({ offer: o.id }));
                  await route();
                  return `Offer ${o.id} takes no more bookings; its bookings run their course.`;
                }),
            },
            `Withdraw offer ${o.id}`,
          ),
    ]);
    const service = h("input", { type: "text", required: true, autocomplete: "off", pattern: "[a-z0-9_.:\\-]{1,64}", value: "general-consultation" });
    const price = h("input", { type: "number", required: true, min: 1, step: 1, inputmode: "numeric" });
    const duration = h("input", { type: "number", required: true, min: 1, max: 1440, step: 1, value: 30 });
    const arbiter = h("select", {}, (orgs.orgs ?? []).filter((o) => o.id !== acct.org).map((o) => h("option", { value: o.id, selected: o.type === "regulator" }, `${o.name} (${o.id})`)));
    const cancel = h("input", { type: "number", required: true, min: 0, max: 43200, step: 1, value: 60 });
    const grace = h("input", { type: "number", required: true, min: 0, max: 10080, step: 1, value: 15 });
    const offerForm = h(
      "form",
      {
        class: "subcard",
        onsubmit: (ev) => {
          ev.preventDefault();
          act(ost, "Publishing the offer…", async () => {
            const r = await api.send(
              state.key,
              "telemed/offer",
              msg.telemedOffer({ service: service.value.trim(), price: Number(price.value), duration: Number(duration.value) * 60, arbiter: arbiter.value, cancelBefore: Number(cancel.value) * 60, grace: Number(grace.value) * 60 }),
            );
            const id = r.events?.find((e) => e.type === "telemed_offer")?.attributes?.offer;
            await route();
            return `Offer ${id ?? ""} published: patients can book it.`;
          });
        },
      },
      h("h3", {}, "Publish an offer"),
      field("Service code", service, "A code (letters, digits, - _ . :), never free text: e.g. general-consultation, dermatology-follow-up."),
      field("Price (MED)", price),
      field("Duration (minutes)", duration),
      field("Arbiter", arbiter, "The organization whose admins decide a dispute; not your own."),
      field("Patients may cancel up to (minutes before the start)", cancel),
      field("No-show grace (minutes after the end)", grace, "How long after the end a patient must wait before claiming you did not come."),
      h("button", { type: "submit" }, "Publish offer"),
    );
    sections.push(h("section", { class: "card" }, h("h2", {}, "Your offers"), ost, table("Offers", ["#", "Service", "Price", "Duration", "Arbiter", "Terms", ""], offerRows), offerForm));

    const bst = h("p", { class: "status", role: "status" });
    const btn = (b, type, label, done, danger) =>
      h(
        "button",
        {
          type: "button",
          class: danger ? "danger" : undefined,
          onclick: () =>
            act(bst, `${label}…`, async () => {
              await api.send(state.key, type, msg.bookingAction({ booking: b.id }));
              await route();
              return done;
            }),
        },
        `${label} (booking ${b.id})`,
      );
    const rows = [];
    for (const b of (bookings.bookings ?? []).filter((x) => x.provider === me)) {
      const acts = [];
      if (b.state === "booked" && now >= b.start) acts.push(btn(b, "telemed/done", "Mark done", `Booking ${b.id} marked done: the escrow is released to you unless the patient disputes.`));
      if (b.state === "booked" && now >= b.end) acts.push(btn(b, "telemed/noshow", "The patient did not come", `Booking ${b.id}: no-show claimed; released to you unless the patient disputes.`));
      if (b.state === "booked") acts.push(btn(b, "telemed/cancel", "Cancel", `Booking ${b.id} cancelled: the patient is refunded.`, true));
      if ((b.state === "done" || b.state === "patient_no_show_claimed") && (!b.release_at || now < b.release_at)) acts.push(btn(b, "telemed/dispute", "Dispute", `Booking ${b.id} disputed: ${b.arbiter} decides.`, true));
      const stateText = b.state === "closed" ? `closed: ${(b.outcome ?? "").replace(/_/g, " ")}` : b.state.replace(/_/g, " ");
      const pay = b.state === "closed" ? `${fmtTokens(b.to_provider)} to you, ${fmtTokens(b.to_patient)} to the patient` : b.release_at ? `${fmtTokens(b.held)} released to you ${fmtTime(b.release_at)}` : `${fmtTokens(b.held)} in escrow`;
      rows.push([String(b.id), await who(b.patient), `${fmtTime(b.start)} – ${fmtTime(b.end)}`, stateText, pay, acts.length ? h("span", { class: "actions" }, acts) : ""]);
    }
    sections.push(h("section", { class: "card" }, h("h2", {}, "Your consultations"), bst, table("Consultations booked with you", ["#", "Patient", "When", "State", "Payment", ""], rows)));
  }

  if (acct?.kind === "member" && acct.role === "admin") {
    const ds = (await api.get(`/v1/orgs/${acct.org}/disputes`, state.key).catch(() => ({ bookings: [] }))) ?? {};
    const list = ds.disputes ?? ds.bookings ?? [];
    const st = h("p", { class: "status", role: "status" });
    const items = [];
    for (const b of list) {
      const prov = h("input", { type: "number", min: 0, max: b.held, step: 1, required: true, value: Math.floor(b.held / 2), inputmode: "numeric" });
      const pat = h("output", {}, fmtTokens(b.held - Math.floor(b.held / 2)));
      prov.addEventListener("input", () => fill(pat, fmtTokens(Math.max(0, b.held - Number(prov.value || 0)))));
      items.push(
        h(
          "form",
          {
            class: "subcard",
            "aria-label": `Dispute over booking ${b.id}`,
            onsubmit: (ev) => {
              ev.preventDefault();
              act(st, `Resolving booking ${b.id}…`, async () => {
                const p = Number(prov.value);
                if (!Number.isInteger(p) || p < 0 || p > b.held) throw new Error(`the provider's part is a whole number from 0 to ${b.held}`);
                await api.send(state.key, "telemed/resolve", msg.telemedResolve({ booking: b.id, toProvider: p, toPatient: b.held - p }));
                await route();
                return `Booking ${b.id} resolved: ${fmtTokens(p)} to the provider, ${fmtTokens(b.held - p)} to the patient.`;
              });
            },
          },
          h("h3", {}, `Booking ${b.id}: ${fmtTokens(b.held)} in escrow`),
          facts([
            ["Provider", await who(b.provider)],
            ["Patient", await who(b.patient)],
            ["Slot", `${fmtTime(b.start)} – ${fmtTime(b.end)}`],
            ["Disputed by", b.disputed_by ? await who(b.disputed_by) : "—"],
          ]),
          field("To the provider (MED)", prov),
          h("p", {}, "To the patient: ", pat),
          h("button", { type: "submit" }, `Resolve booking ${b.id}`),
        ),
      );
    }
    sections.push(h("section", { class: "card" }, h("h2", {}, `Disputes ${acct.org} arbitrates`), st, items.length ? items : h("p", {}, "No open dispute.")));
  }
  if (acct?.kind !== "member" || !["practitioner", "admin"].includes(acct.role)) sections.push(h("p", {}, "Unlock a practitioner's key to publish offers and manage consultations, or an admin's key to resolve disputes. ", h("a", { href: "#/patient" }, "Patients book on their page"), "."));
  fill(el, sections);
}

/** A researcher's page: open paid data requests, see who takes part, what each payment bought, read the records. */
async function researchPage(el) {
  const need = needKey("research page");
  if (need) return fill(el, h("h1", {}, "Research"), need);
  const me = state.key.address;
  const acct = await api.get(`/v1/accounts/${me}`).catch(() => null);
  if (acct?.kind !== "member" || acct.role !== "researcher")
    return fill(el, h("h1", {}, "Research"), h("p", {}, "This page is for researchers (a member with role researcher). Patients take part in research requests on ", h("a", { href: "#/patient" }, "their page"), "."));
  const st = h("p", { class: "status", role: "status" });
  const reqs = (await api.get(`/v1/research/requests?researcher=${me}&all=true`).catch(() => ({ requests: [] }))).requests ?? [];
  const now = Date.now() / 1000;
  const cards = [];
  for (const r of reqs) {
    const parts = r.id ? ((await api.get(`/v1/research/requests/${r.id}/participants`, state.key).catch(() => ({ participants: [] }))).participants ?? []) : [];
    const detail = h("div", {});
    const rows = [];
    for (const p of parts)
      rows.push([
        await who(p.patient),
        `${fmtTime(p.joined)} (consent ${p.consent})`,
        p.amount ? `${fmtTokens(p.amount)} on ${fmtTime(p.paid_at)}` : "not yet (paid at your first read)",
        boughtText(p),
        h("button", { type: "button", onclick: () => showResearchRecords(detail, p.patient, r) }, `Read records of ${nameOf(p.patient) ?? short(p.patient)}`),
      ]);
    const open = !r.closed && r.end > now;
    cards.push(
      h(
        "section",
        { class: "card", "aria-label": `Request ${r.id}` },
        h("h2", {}, `Request ${r.id}: ${r.purpose}`),
        facts([
          ["Reads", `${r.resource_types.join(", ")} records${r.codes?.length ? ` with codes ${r.codes.join(", ")}` : ""}`],
          ["Pays", `${fmtTokens(r.price)} per patient, at the first read`],
          ["Budget", `${fmtTokens(r.budget)}: ${fmtTokens(r.paid)} paid, ${fmtTokens(r.reserved)} reserved, ${fmtTokens(r.held)} in escrow${r.returned ? `, ${fmtTokens(r.returned)} returned` : ""}`],
          ["Participants", `${r.patients} (${r.paid_patients} paid)`],
          ["Ends", `${fmtTime(r.end)}${r.closed ? ` (closed ${fmtTime(r.closed)})` : ""}`],
        ]),
        table(`Participants of request ${r.id}`, ["Patient", "Joined", "Paid", "What the payment bought", ""], rows),
        detail,
        open
          ? h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: () =>
                  act(st, `Closing request ${r.id}…`, async () => {
                    await api.send(state.key, "research/close", msg.researchClose({ request: r.id }));
                    await route();
                    return `Request ${r.id} closed: reads are no longer paid; the rest of the budget returns after the settlement period.`;
                  }),
              },
              `Close request ${r.id}`,
            )
          : null,
      ),
    );
  }
  const budget = h("input", { type: "number", required: true, min: 1, step: 1, inputmode: "numeric" });
  const price = h("input", { type: "number", required: true, min: 1, step: 1, inputmode: "numeric" });
  const typeBoxes = TYPES.map((t) => h("input", { type: "checkbox", value: t, id: `rtype-${t}` }));
  const codes = h("textarea", { rows: 2, spellcheck: "false", placeholder: "http://loinc.org|85354-9" });
  const purpose = h("input", { type: "text", required: true, autocomplete: "off", pattern: "[a-z0-9_.\\-]{1,64}" });
  const end = h("input", { type: "date", required: true });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: (ev) => {
        ev.preventDefault();
        act(st, "Opening the request (the budget goes into escrow)…", async () => {
          const types = typeBoxes.filter((b) => b.checked).map((b) => b.value);
          if (!types.length) throw new Error("tick at least one kind of record");
          const cs = codes.value.split(/[\s,]+/).filter(Boolean);
          for (const c of cs) if (!/^[^|\s]+\|[^|\s]+$/.test(c)) throw new Error(`code ${c}: write system|code, e.g. http://loinc.org|85354-9`);
          const t = Math.floor(Date.parse(end.value + "T23:59:59Z") / 1000);
          const r = await api.send(state.key, "research/open", msg.researchOpen({ budget: Number(budget.value), price: Number(price.value), types, codes: cs, purpose: purpose.value.trim(), end: t }));
          const id = r.events?.find((e) => e.type === "research_opened")?.attributes?.request;
          await route();
          return `Request ${id ?? ""} opened: patients see it on their page and may take part.`;
        });
      },
    },
    h("h2", {}, "Open a data request"),
    field("Budget (MED)", budget, "Moved into escrow now; what is not paid out returns to you after the end."),
    field("Price per patient (MED)", price),
    h("fieldset", {}, h("legend", {}, "Which records"), typeBoxes.map((b) => h("span", { class: "check" }, b, h("label", { for: b.id }, b.value)))),
    field("Codes (optional)", codes, "system|code, one per line: only records with these codes are asked for."),
    field("Purpose", purpose, "A code (letters, digits, - _ .), e.g. blood-pressure-outcomes."),
    field("Ends", end),
    h("button", { type: "submit" }, "Open request"),
  );
  fill(el, h("h1", {}, "Research"), st, h("p", {}, `Signed in as ${state.keyName}: researcher at ${acct.org}. Patients who take part grant you read access for research until the request's end; the chain pays each one at your first read of their records.`), cards.length ? cards : h("p", {}, "You have opened no request yet."), form);
}

/** A participant's records of the request's types, decrypted here (the read is what pays the patient). */
async function showResearchRecords(slot, patient, req) {
  fill(slot, h("p", {}, "Loading…"));
  try {
    const recs = (await api.records(state.key, patient)).filter((r) => !r.erased && req.resource_types.includes(r.resource_type));
    const ul = h("ul", { class: "records" });
    for (const r of recs) {
      const body = h("div", { class: "record-body" });
      const b = h("button", { type: "button" }, `Open ${r.resource_type} of ${fmtDate(r.created)}`);
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          fill(body, render((await api.readRecord(state.key, r.id)).resource));
          b.remove();
        } catch (e) {
          fill(body, h("p", { class: "status error", role: "alert" }, errText(e)));
          b.disabled = false;
        }
      });
      ul.append(h("li", { class: "record" }, h("p", {}, h("strong", {}, r.resource_type), ` · added ${fmtTime(r.created)}`), body, b));
    }
    fill(slot, h("h3", {}, `Records of ${await who(patient)}`), recs.length ? ul : h("p", {}, "No record of the request's types."));
  } catch (e) {
    fill(slot, h("p", { class: "status error", role: "alert" }, errText(e)));
  }
}

function outcomeKey(o) {
  return `${o.type}: ${o.measure} (${o.time_frame})`;
}

async function trialsPage(el) {
  const trials = (await api.get("/v1/trials")).trials ?? [];
  const detail = h("div", {});
  const show = async (t) => {
    const versions = t.versions ?? [];
    const first = new Set((versions[0]?.outcomes ?? []).map(outcomeKey));
    const last = versions[versions.length - 1];
    const lastSet = new Set((last?.outcomes ?? []).map(outcomeKey));
    const cmp = [...new Set([...first, ...lastSet])].map((k) => [k, first.has(k) ? "yes" : "no", lastSet.has(k) ? "yes" : "no", first.has(k) && lastSet.has(k) ? "unchanged" : first.has(k) ? h("strong", { class: "badge refused" }, "dropped") : h("strong", { class: "badge emergency" }, "added later")]);
    let timeline = h("p", {}, "The timeline names participants: it is shown to the sponsor, the sites and regulators. Unlock such a key to see it.");
    if (state.key) {
      try {
        const tl = await api.get(`/v1/trials/${t.id}/timeline`, state.key);
        timeline = table("Timeline", ["When", "Block", "Event", "Detail"], (tl.items ?? []).map((i) => [fmtTime(i.time), String(i.height), i.kind, i.anchor ? `${i.anchor.leaves} data points from ${i.anchor.site}${i.anchor.late ? " (late)" : ""}` : i.site ?? (i.version ? `protocol version ${i.version}` : "")]));
      } catch (e) {
        timeline = h("p", { class: "status info" }, `Timeline not available to this key: ${errText(e)}`);
      }
    }
    const c = t.counts ?? {};
    fill(
      detail,
      h("h2", {}, t.title),
      h("dl", { class: "facts" }, [["Id", t.id], ["Sponsor", t.sponsor], ["Sites", (t.sites ?? []).join(", ")], ["Status", t.status], ["Enrolled", `${c.enrolled ?? 0} of ${t.planned_enrollment} planned (${c.withdrawn ?? 0} withdrawn)`], ["Data anchors", `${c.anchors ?? 0} (${c.late_anchors ?? 0} late)`], ["Registered", fmtTime(t.registered?.time)]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      table(`Outcomes: registered (version 1) against current (version ${last?.number ?? 1})`, ["Outcome", "At registration", "Now", "Change"], cmp),
      timeline,
    );
  };
  fill(
    el,
    h("h1", {}, "Clinical trials"),
    table("Registered trials", ["Id", "Title", "Status", ""], trials.map((t) => [t.id, t.title, t.status, h("button", { type: "button", onclick: () => show(t) }, `Show ${t.id}`)])),
    detail,
  );
  if (trials.length) await show(trials[0]);
}

// Plain words for the CBV steps and dispositions x/supply records.
const STEP_WORDS = { commissioning: "commissioned", packing: "packed into a case", unpacking: "unpacked from its case", shipping: "shipped", receiving: "received", dispensing: "dispensed to a patient", decommissioning: "decommissioned", destroying: "destroyed", inspecting: "inspected" };
const stepText = (p) => `${STEP_WORDS[p.biz_step] ?? p.biz_step}${p.to ? ` to ${p.to}` : ""}`;

/** The provenance, oldest first, as a timeline. */
function provenanceTimeline(prov) {
  if (!prov?.length) return h("p", {}, "No custody events are recorded for this identifier.");
  return h(
    "section",
    { "aria-label": "Provenance" },
    h("h2", {}, "Provenance"),
    h(
      "ol",
      { class: "timeline" },
      prov.map((p) =>
        h(
          "li",
          {},
          h("time", { datetime: p.event_time }, fmtTime(p.event_time)),
          " ",
          h("strong", {}, p.org),
          ` ${stepText(p)}`,
          h("span", { class: "muted" }, ` · ${p.type}${p.disposition ? `, now ${p.disposition.replace(/_/g, " ")}` : ""} · recorded in block ${p.height} at ${fmtTime(p.record_time)}`),
        ),
      ),
    ),
  );
}

function facts(pairs) {
  const rows = pairs.filter(([, v]) => v !== undefined && v !== null && v !== "");
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

const FLAG_REASONS = { counterfeit: "counterfeit", diverted: "diverted", stolen: "stolen", tampered: "tampered with", unfit: "unfit for use", fraudulent_transaction: "fraudulent transaction", other: "other" };

/** Receive / ship / dispense / report as suspect, for a signed-in member of an organization (supply/capture, supply/flag). */
function pharmacyActions(r, org, again) {
  const u = r.unit;
  if (!u || !org) return null;
  const gln = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]{13}", placeholder: "0098765000205" });
  const st = h("p", { "aria-live": "polite" });
  const WORDS = { receiving: ["Recording the receipt…", "Received"], dispensing: ["Recording the dispensing…", "Dispensed"], shipping: ["Recording the shipment…", "Shipped"] };
  const run = (step, dest = "") =>
    act(st, WORDS[step][0], async () => {
      const ev = pharmacyEvent({ step, unitKey: u.key, time: Date.now(), gln: gln.value.trim(), dest });
      const ce = await captureEvent(ev);
      await api.send(state.key, "supply/capture", supplyCapture({ events: [ce] }));
      await again();
      return `${WORDS[step][1]} by ${org}: event ${ce.hash}.`;
    });
  const parts = [];
  const quarantined = r.investigation?.state === "open";
  const holds = u.custodian === org && u.status === "active" && !u.packed_in && !quarantined;
  if (u.status === "in_transit" && u.shipped_to === org) parts.push(h("button", { type: "button", onclick: () => run("receiving") }, `Receive at ${org}`));
  if (holds) parts.push(h("button", { type: "button", onclick: () => run("dispensing") }, `Dispense from ${org}`));
  if (holds) {
    const dest = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]{13}", required: true });
    parts.push(
      h(
        "div",
        { class: "subcard", role: "group", "aria-label": "Ship" },
        field("Ship to (GLN of a trading partner's site)", dest, "The receiving organization's registered GLN; your organization must list it as a trading partner."),
        h("button", { type: "button", onclick: () => run("shipping", dest.value.trim()) }, `Ship from ${org}`),
      ),
    );
  }
  const why = !parts.length
    ? u.custodian === org
      ? `${org} holds this unit, but it is ${quarantined ? "quarantined while it is investigated" : u.status.replace(/_/g, " ")}${u.packed_in ? ` and packed in ${u.packed_in}` : ""}: it cannot be moved or dispensed now.`
      : `${org} neither holds this unit nor is it on its way to ${org}: there is nothing to receive, ship or dispense.`
    : null;
  // Any member may report a unit as suspect: it is quarantined, with everything packed in it, until the investigation closes.
  let report = null;
  if (!r.investigation || r.investigation.state !== "open") {
    const reason = h("select", {}, Object.entries(FLAG_REASONS).map(([k, v]) => h("option", { value: k }, v)));
    report = h(
      "div",
      { class: "subcard", role: "group", "aria-label": "Report as suspect" },
      field("Why is it suspect?", reason),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () =>
            act(st, "Reporting the unit as suspect…", async () => {
              await api.send(state.key, "supply/flag", msg.supplyFlag({ unit: u.key, reason: reason.value }));
              await again();
              return `Reported by ${org}: ${u.key} is quarantined while it is investigated; its manufacturer and regulators are told.`;
            }),
        },
        "Quarantine as suspect",
      ),
    );
  }
  return h(
    "section",
    { class: "card", "aria-label": "Pharmacy" },
    h("h2", {}, "Supply-chain steps"),
    h("p", {}, `Signed in for ${org}. Each step is an EPCIS ObjectEvent built and signed here with your key and captured on chain (supply/capture); the chain's custody rules decide.`),
    why ? h("p", {}, why) : null,
    parts.length ? field("Site GLN where this happens (optional)", gln, "13 digits: your registered location.") : null,
    parts,
    report,
    st,
  );
}

// The decoder: the browser's BarcodeDetector when it reads DataMatrix or QR,
// else the bundled ZXing port (scan.js, fetched from this node on first use).
let decoderP = null;
function decoder() {
  decoderP ??= (async () => {
    if ("BarcodeDetector" in globalThis) {
      const have = await globalThis.BarcodeDetector.getSupportedFormats().catch(() => []);
      const formats = ["data_matrix", "qr_code"].filter((f) => have.includes(f));
      if (formats.length) {
        const d = new globalThis.BarcodeDetector({ formats });
        return {
          name: "the browser's barcode detector",
          decode: async (src) => {
            const [r] = await d.detect(src);
            return r ? { text: r.rawValue } : null;
          },
        };
      }
    }
    const mod = await import(new URL("scan.js", import.meta.url).href);
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    return {
      name: "the portal's decoder (ZXing)",
      decode: async (src) => {
        const w = src.videoWidth ?? src.width, h2 = src.videoHeight ?? src.height;
        if (!w || !h2) return null;
        canvas.width = w;
        canvas.height = h2;
        ctx.drawImage(src, 0, 0);
        return mod.decodeImageData(ctx.getImageData(0, 0, w, h2));
      },
    };
  })();
  return decoderP;
}

function scanner(onText) {
  const st = h("p", { class: "status", role: "status" });
  const video = h("video", { class: "camera", muted: true, playsinline: true, hidden: true, "aria-label": "Camera preview" });
  let stream = null;
  const stop = () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
    video.hidden = true;
    stopBtn.hidden = true;
    camBtn.hidden = false;
  };
  const found = (text, how) => {
    let id;
    try {
      id = scannedToId(text);
    } catch (e) {
      return status(st, `Read a code, but not a GS1 one: ${e.message}`, "error");
    }
    status(st, `Read with ${how}: ${id}`, "ok");
    onText(id);
  };
  const camBtn = h("button", { type: "button" }, "Scan with the camera");
  const stopBtn = h("button", { type: "button", hidden: true }, "Stop the camera");
  stopBtn.addEventListener("click", stop);
  camBtn.addEventListener("click", async () => {
    status(st, "Starting the camera…", "info");
    try {
      const dec = await decoder();
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      video.srcObject = stream;
      video.hidden = false;
      camBtn.hidden = true;
      stopBtn.hidden = false;
      await video.play();
      status(st, `Point the camera at the pack's 2D barcode (reading with ${dec.name})…`, "info");
      const tick = async () => {
        if (!stream) return;
        if (!video.isConnected) return stop();
        const r = await dec.decode(video).catch(() => null);
        if (r?.text) {
          stop();
          return found(r.text, dec.name);
        }
        setTimeout(tick, 200);
      };
      tick();
    } catch (e) {
      stop();
      status(st, `The camera is not available (${e.message}): upload a photo of the barcode instead.`, "error");
    }
  });
  const photo = h("input", { type: "file", accept: "image/*", capture: "environment" });
  photo.addEventListener("change", async () => {
    const f = photo.files?.[0];
    if (!f) return;
    status(st, "Reading the photo…", "info");
    try {
      const dec = await decoder();
      const bmp = await createImageBitmap(f);
      const r = await dec.decode(bmp);
      if (!r?.text) return status(st, "No DataMatrix or QR code found in this photo: try a sharper, closer one.", "error");
      found(r.text, dec.name);
    } catch (e) {
      status(st, `Could not read the photo: ${e.message}`, "error");
    }
  });
  const hasCam = !!navigator.mediaDevices?.getUserMedia;
  return h(
    "div",
    { class: "scanner", role: "group", "aria-label": "Scan a barcode" },
    hasCam ? h("div", { class: "actions" }, camBtn, stopBtn) : h("p", { class: "hint" }, "This browser offers no camera to the page: upload a photo of the barcode."),
    video,
    field("Or a photo of the barcode", photo, "A GS1 DataMatrix or QR code; the photo is read in this browser and never uploaded."),
    st,
  );
}

function verifyPage(el) {
  const input = h("input", { type: "text", autocomplete: "off", placeholder: "https://id.gs1.org/01/09506000134352/21/ABC123" });
  const out = h("div", { "aria-live": "polite" });
  const check = async () => {
    fill(out, h("p", {}, "Checking…"));
    try {
      const me = state.key ? await api.get(`/v1/accounts/${state.key.address}`).catch(() => null) : null;
      const org = me?.kind === "member" && me.active !== false ? me.org : null;
      const q = `id=${encodeURIComponent(input.value.trim())}${org ? `&holder=${encodeURIComponent(org)}` : ""}`;
      const r = await api.get(`/v1/supply/verify?${q}`);
      const verdict = r.status ?? "unknown";
      const u = r.unit, p = r.product, rc = r.recall, inv = r.investigation;
      fill(
        out,
        h("p", { class: `verdict verdict-${verdict}` }, h("strong", {}, verdict.toUpperCase())),
        r.signals?.length ? h("p", {}, `Signals: ${r.signals.map((s) => s.replace(/_/g, " ")).join(", ")}${org ? ` (checked as presented by ${org})` : ""}.`) : null,
        p ? h("section", { "aria-label": "Product" }, h("h2", {}, p.name), facts([["GTIN", p.gtin], ["Manufacturer", p.manufacturer], ["National code", p.ndc], ["Strength", p.strength], ["Dosage form", p.dosage_form], ["Pack size", p.pack_size]])) : null,
        u
          ? h("section", { "aria-label": "Unit" }, h("h2", {}, "This unit"), facts([["Identifier", u.key], ["Lot", u.lot], ["Expiry (YYMMDD)", u.expiry], ["Held by", u.custodian], ["State", u.status.replace(/_/g, " ")], ["Packed in", u.packed_in], ["Shipped from", u.shipped_from], ["Shipped to", u.shipped_to], ["Under investigation", u.investigation]]))
          : null,
        rc ? h("section", { "aria-label": "Recall" }, h("h2", {}, "Recall"), facts([["Lot", rc.lot], ["Recalled by", rc.recalled_by], ["Reason", rc.reason], ["When", fmtTime(rc.time)]])) : null,
        inv ? h("section", { "aria-label": "Investigation" }, h("h2", {}, "Investigation"), facts([["State", inv.state], ["Flagged by", inv.flagged_by], ["Reason", FLAG_REASONS[inv.reason] ?? inv.reason], ["Opened", fmtTime(inv.opened)], ["Closed by", inv.closed_by], ["Told", (inv.notified ?? []).join(", ")]])) : null,
        provenanceTimeline(r.provenance),
        h("p", { class: "muted" }, `Answer at block ${r.height}, with ${r.proofs?.length ?? 0} state proofs (medchain verify --supply checks them against a light client).`),
        pharmacyActions(r, org, check),
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && /no route/.test(e.message)) {
        fill(out, h("p", { class: "status error", role: "alert" }, "This node does not offer supply-chain verification (no /v1/supply/verify endpoint): it runs a medchain version without the supply module."));
      } else fill(out, h("p", { class: "status error", role: "alert" }, errText(e)));
    }
  };
  fill(
    el,
    h("h1", {}, "Verify a medicine"),
    h(
      "form",
      {
        class: "card",
        onsubmit: (ev) => {
          ev.preventDefault();
          check();
        },
      },
      field("GS1 Digital Link, element string or EPC", input, "As printed in the 2D barcode on the pack."),
      h("button", { type: "submit" }, "Verify"),
      scanner((id) => {
        input.value = id;
        check();
      }),
    ),
    out,
  );
}

function homePage(el) {
  fill(
    el,
    h("h1", {}, "medchain portal"),
    h("p", {}, "Your keys stay in this browser, protected by your passphrase; your records are decrypted here and nowhere else."),
    h(
      "ul",
      { class: "tiles" },
      [
        ["#/keys", "Keys", "Create, import, unlock or export a key."],
        ["#/patient", "Patient", "Your records, who may see them, and who did."],
        ["#/practitioner", "Practitioner", "Patients who gave you access; add a record; emergency access."],
        ["#/explorer", "Explorer", "Blocks, transactions and validators. No login."],
        ["#/telemed", "Telemedicine", "Providers publish offers and mark consultations done; arbiters resolve disputes."],
        ["#/research", "Research", "Researchers open paid data requests and see who takes part."],
        ["#/org", "Organizations", "Members, roles, governance proposals and votes."],
        ["#/trials", "Trials", "Registered trials, their outcomes and timeline."],
        ["#/verify", "Verify a medicine", "Check a pack's GS1 Digital Link: type it or scan its barcode; pharmacies receive, ship, dispense and report suspects."],
      ].map(([href, t, d]) => h("li", {}, h("a", { href }, h("strong", {}, t)), h("span", {}, d))),
    ),
  );
}

const routes = { "": homePage, keys: keysPage, patient: patientPage, practitioner: practitionerPage, explorer: explorerPage, org: orgPage, telemed: telemedPage, research: researchPage, trials: trialsPage, verify: verifyPage };

function header() {
  const who = document.getElementById("who");
  if (!who) return;
  fill(
    who,
    state.key
      ? [h("span", {}, `Key: ${state.keyName} (${short(state.key.address)})`), " ", h("button", { type: "button", onclick: () => (lock(), route()) }, "Lock")]
      : h("a", { href: "#/keys" }, "No key unlocked"),
  );
}

async function route() {
  const name = location.hash.replace(/^#\/?/, "").split("/")[0];
  const page = routes[name] ?? homePage;
  for (const a of document.querySelectorAll("nav a")) a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${name}`);
  const el = main();
  el.setAttribute("aria-busy", "true");
  try {
    await page(el);
  } catch (e) {
    fill(el, h("h1", {}, "Something went wrong"), h("p", { class: "status error", role: "alert" }, errText(e)));
  }
  el.removeAttribute("aria-busy");
  document.title = `${el.querySelector("h1")?.textContent ?? "medchain"} · medchain`;
}

window.addEventListener("hashchange", () => {
  // "#main" is the skip link's target, not a page.
  if (location.hash === "" || location.hash.startsWith("#/")) {
    fill(document.getElementById("flash"));
    route();
  }
});
header();
route();
