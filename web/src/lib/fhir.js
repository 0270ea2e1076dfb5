// Readable renderings of the FHIR R4 resources a record holds: what a
// patient or practitioner sees once the browser has decrypted it.
import { fmtDate, h } from "./dom.js";

const coding = (cc) => cc?.coding?.[0];
export const concept = (cc) => cc?.text || coding(cc)?.display || coding(cc)?.code || "—";
const codeOf = (cc) => {
  const c = coding(cc);
  if (!c) return "";
  const sys = { "http://loinc.org": "LOINC", "http://snomed.info/sct": "SNOMED CT", "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm" }[c.system] ?? c.system ?? "";
  return `${sys} ${c.code ?? ""}`.trim();
};
const qty = (q) => (q ? `${q.value}${q.unit ? " " + q.unit : q.code ? " " + q.code : ""}` : "");
const date = (d) => (d ? fmtDate(d) : "—");

function value(o) {
  if (o.valueQuantity) return qty(o.valueQuantity);
  if (o.valueCodeableConcept) return concept(o.valueCodeableConcept);
  if (o.valueString !== undefined) return o.valueString;
  if (o.valueBoolean !== undefined) return o.valueBoolean ? "yes" : "no";
  if (o.valueInteger !== undefined) return String(o.valueInteger);
  return "";
}

function rows(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

/** The title line of a resource: what it is about. */
export function title(r) {
  switch (r.resourceType) {
    case "Observation":
      return concept(r.code);
    case "Condition":
      return concept(r.code);
    case "MedicationRequest":
    case "MedicationStatement":
      return concept(r.medicationCodeableConcept) || r.medicationReference?.display;
    case "AllergyIntolerance":
      return "Allergy: " + concept(r.code);
    case "DocumentReference":
      return r.description || concept(r.type);
    default:
      return r.resourceType;
  }
}

/** A resource rendered as a readable card. */
export function render(r) {
  let body;
  switch (r.resourceType) {
    case "Observation": {
      const comps = (r.component ?? []).map((c) => `${concept(c.code)}: ${value(c)}`).join("; ");
      const range = r.referenceRange?.[0];
      body = rows([
        ["Value", value(r) || comps],
        ["Interpretation", r.interpretation ? concept(r.interpretation[0]) : ""],
        ["Reference range", range ? [range.low && `from ${qty(range.low)}`, range.high && `up to ${qty(range.high)}`].filter(Boolean).join(" ") : ""],
        ["Taken", date(r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued)],
        ["Status", r.status],
        ["Code", codeOf(r.code)],
      ]);
      break;
    }
    case "Condition":
      body = rows([
        ["Status", concept(r.clinicalStatus)],
        ["Verification", r.verificationStatus ? concept(r.verificationStatus) : ""],
        ["Since", r.onsetDateTime ? date(r.onsetDateTime) : ""],
        ["Recorded", r.recordedDate ? date(r.recordedDate) : ""],
        ["Code", codeOf(r.code)],
      ]);
      break;
    case "MedicationRequest":
    case "MedicationStatement":
      body = rows([
        ["Dosage", (r.dosageInstruction ?? r.dosage ?? []).map((d) => d.text).filter(Boolean).join("; ")],
        ["Status", r.status],
        ["Prescribed", r.authoredOn ? date(r.authoredOn) : ""],
        ["Code", codeOf(r.medicationCodeableConcept)],
      ]);
      break;
    case "AllergyIntolerance":
      body = rows([
        ["Criticality", r.criticality],
        ["Reactions", (r.reaction ?? []).map((x) => `${(x.manifestation ?? []).map(concept).join(", ")}${x.severity ? ` (${x.severity})` : ""}`).join("; ")],
        ["Status", concept(r.clinicalStatus)],
        ["Code", codeOf(r.code)],
      ]);
      break;
    case "DocumentReference":
      body = rows([
        ["Type", concept(r.type)],
        ["Date", r.date ? date(r.date) : ""],
        ["Attachment", (r.content ?? []).map((c) => c.attachment?.title || c.attachment?.contentType).filter(Boolean).join(", ")],
      ]);
      break;
    default:
      body = h("pre", { class: "json" }, JSON.stringify(r, null, 2));
  }
  return h("div", { class: "resource" }, h("p", { class: "resource-title" }, h("strong", {}, title(r))), body);
}

/** FHIR resources a practitioner's form builds, about patient (Patient/<address>). */
export function buildResource(kind, f, patient) {
  const subject = { reference: `Patient/${patient}` };
  const cc = (system, code, display) => ({ coding: [{ system, code, ...(display ? { display } : {}) }], ...(display ? { text: display } : {}) });
  switch (kind) {
    case "Observation": {
      const v = Number(f.value);
      if (!f.code || !Number.isFinite(v)) throw new Error("an observation needs a LOINC code and a numeric value");
      return {
        resourceType: "Observation",
        status: "final",
        code: cc("http://loinc.org", f.code, f.display),
        subject,
        effectiveDateTime: f.date || new Date().toISOString().slice(0, 10),
        valueQuantity: { value: v, unit: f.unit, system: "http://unitsofmeasure.org", code: f.unit },
      };
    }
    case "Condition":
      if (!f.code) throw new Error("a condition needs a SNOMED CT code");
      return {
        resourceType: "Condition",
        clinicalStatus: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: f.status || "active" }] },
        code: cc("http://snomed.info/sct", f.code, f.display),
        subject,
        ...(f.date ? { onsetDateTime: f.date } : {}),
      };
    case "MedicationRequest":
      if (!f.code) throw new Error("a medication request needs an RxNorm code");
      return {
        resourceType: "MedicationRequest",
        status: "active",
        intent: "order",
        medicationCodeableConcept: cc("http://www.nlm.nih.gov/research/umls/rxnorm", f.code, f.display),
        subject,
        authoredOn: f.date || new Date().toISOString().slice(0, 10),
        ...(f.dosage ? { dosageInstruction: [{ text: f.dosage }] } : {}),
      };
    default:
      throw new Error("unknown resource kind " + kind);
  }
}
