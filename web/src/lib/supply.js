// A pharmacy's receiving and dispensing events, built in the browser as
// EPCIS 2.0 ObjectEvents and turned into the supply/capture message the CLI
// sends (internal/epcis CaptureEvent): the event hash is the CBV 2.0
// "Event Hash ID" (internal/epcis/hash.go), whose pre-hash for this fixed
// shape of event is written out here. internal/portal's
// TestBrowserMessageEncodings pins the result against Go's parser, hasher
// and encoder (web/test/testdata/msgs.json).
import { concat, str, uvarint } from "../../../js/medchain-tx.mjs";
import { list } from "./codec.js";

const utf8 = new TextEncoder();

/** What each step records: CBV bizStep and disposition. */
export const STEPS = {
  receiving: "in_progress",
  dispensing: "dispensed",
  shipping: "in_transit",
};

// RFC 3986 unreserved characters stay; everything else is %XX (upper case),
// as gs1.Data.DigitalLink writes it.
const escDL = (s) => Array.from(utf8.encode(s), (b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : "%" + b.toString(16).toUpperCase().padStart(2, "0"))).join("");

/**
 * The canonical Digital Link of a unit key as the chain writes it
 * ("(01)GTIN(21)SERIAL" or "(00)SSCC", the `key` of /v1/supply/verify).
 */
export function unitDigitalLink(key) {
  let m = /^\(01\)(\d{14})\(21\)(.{1,20})$/.exec(key);
  if (m) return `https://id.gs1.org/01/${m[1]}/21/${escDL(m[2])}`;
  m = /^\(00\)(\d{18})$/.exec(key);
  if (m) return `https://id.gs1.org/00/${m[1]}`;
  throw new Error(`not a serialised unit key: ${key}`);
}

function glnCheck(twelve) {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(twelve[11 - i]) * (i % 2 === 0 ? 3 : 1);
  return String((10 - (sum % 10)) % 10);
}

/** A GLN: 13 digits with a valid GS1 check digit. */
export const validGLN = (g) => /^\d{13}$/.test(g) && glnCheck(g.slice(0, 12)) === g[12];

/**
 * The event for one unit: {event (the JSON object, member order as sent),
 * json (its compact bytes), prehash, fields of the CaptureEvent but the hash}.
 * step is "receiving", "dispensing" or "shipping"; time is unix milliseconds;
 * gln, when given, is the bizLocation (the site where it happens); dest, for
 * shipping only, is the receiving organization's registered GLN, written as
 * both the owning party (AI 417) and the location (AI 414) of the
 * destination.
 */
export function pharmacyEvent({ step, unitKey, time, gln = "", dest = "" }) {
  const disposition = STEPS[step];
  if (!disposition) throw new Error(`unknown step ${step}`);
  if (gln && !validGLN(gln)) throw new Error(`GLN ${gln}: want 13 digits with a valid check digit`);
  if (step === "shipping" && !validGLN(dest)) throw new Error(`destination GLN ${dest || "(none)"}: want 13 digits with a valid check digit`);
  if (step !== "shipping" && dest) throw new Error("only a shipment has a destination");
  if (!Number.isInteger(time) || time <= 0) throw new Error("event time: unix milliseconds");
  const epc = unitDigitalLink(unitKey);
  const when = new Date(time).toISOString();
  const event = { type: "ObjectEvent", eventTime: when, eventTimeZoneOffset: "+00:00", epcList: [epc], action: "OBSERVE", bizStep: step, disposition };
  const loc = gln ? `https://id.gs1.org/414/${gln}` : "";
  if (gln) event.bizLocation = { id: loc };
  // CBV 2.0 §8.9.2 order: eventType, eventTime, eventTimeZoneOffset, epcList,
  // action, bizStep, disposition, bizLocation; vocabulary as ref.gs1.org URIs.
  let prehash = `eventType=ObjectEventeventTime=${when}eventTimeZoneOffset=+00:00epcListepc=${epc}action=OBSERVE` + `bizStep=https://ref.gs1.org/cbv/BizStep-${step}disposition=https://ref.gs1.org/cbv/Disp-${disposition}`;
  if (gln) prehash += `bizLocationid=${loc}`;
  if (dest) {
    const party = `https://id.gs1.org/417/${dest}`, place = `https://id.gs1.org/414/${dest}`;
    event.destinationList = [
      { type: "owning_party", destination: party },
      { type: "location", destination: place },
    ];
    // Each pair type-then-destination, the pairs sorted (internal/epcis/hash.go).
    const pairs = [`type=https://ref.gs1.org/cbv/SDT-owning_partydestination=${party}`, `type=https://ref.gs1.org/cbv/SDT-locationdestination=${place}`].sort();
    prehash += "destinationList" + pairs.join("");
  }
  return {
    event,
    json: utf8.encode(JSON.stringify(event)),
    prehash,
    fields: { eventID: "", type: "ObjectEvent", action: "OBSERVE", bizStep: step, disposition, eventTime: time, epcs: [unitKey], parent: "", bizLocation: gln, destParty: dest, destLocation: dest, lot: "", expiry: "" },
  };
}

/** The CBV 2.0 event hash of a pre-hash string. */
export async function eventHash(prehash) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(prehash)));
  return `ni:///sha-256;${Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("")}?ver=CBV2.0`;
}

/** A CaptureEvent (x/supply/msgs.go) from pharmacyEvent's output and its hash. */
export async function captureEvent(ev) {
  return { hash: await eventHash(ev.prehash), ...ev.fields, json: ev.json };
}

const encodeCaptureEvent = (e) =>
  concat(
    str(e.hash),
    str(e.eventID),
    str(e.type),
    str(e.action),
    str(e.bizStep),
    str(e.disposition),
    uvarint(e.eventTime),
    list(e.epcs, str),
    str(e.parent),
    str(e.bizLocation),
    str(e.destParty),
    str(e.destLocation),
    str(e.lot),
    str(e.expiry),
    concat(uvarint(e.json.length), e.json),
  );

/** supply/capture: the events, applied in order, all or none. */
export const supplyCapture = ({ events }) => list(events, encodeCaptureEvent);
