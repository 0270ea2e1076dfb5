// What a scanned GS1 barcode holds, as /v1/supply/verify takes it: a
// Digital Link URI as it is; a GS1 element string (a DataMatrix's FNC1
// form: application identifiers without brackets, variable-length fields
// ended by the GS character) with its AIs in brackets.
const GS = "\u001d";
// Fixed-length AIs (their data length); every other AI this page meets is
// variable-length, up to a GS or the end.
const FIXED = { "00": 18, "01": 14, "02": 14, 11: 6, 12: 6, 13: 6, 15: 6, 16: 6, 17: 6, 20: 2 };
const VARIABLE = new Set(["10", "21", "22", "240", "241", "250", "251", "400", "414", "417"]);

/** The scanned text as verify's id parameter. */
export function scannedToId(raw) {
  let s = String(raw).trim();
  // Symbology identifiers some scanners prefix: ]d2 (GS1 DataMatrix), ]Q3 (GS1 QR), ]C1 (GS1-128).
  s = s.replace(/^\](d2|Q3|C1|e0)/, "");
  if (/^https?:\/\//i.test(s) || /^urn:epc:/i.test(s) || s.startsWith("(")) return s;
  if (s.startsWith(GS)) s = s.slice(1);
  if (!/^\d{2}/.test(s)) return s;
  let out = "";
  let i = 0;
  while (i < s.length) {
    if (s[i] === GS) {
      i++;
      continue;
    }
    let ai = s.slice(i, i + 2);
    if (!(ai in FIXED) && !VARIABLE.has(ai)) ai = s.slice(i, i + 3);
    if (!(ai in FIXED) && !VARIABLE.has(ai)) throw new Error(`unknown GS1 application identifier at "${s.slice(i, i + 4)}…"`);
    i += ai.length;
    let v;
    if (ai in FIXED) {
      v = s.slice(i, i + FIXED[ai]);
      if (v.length !== FIXED[ai]) throw new Error(`AI (${ai}) wants ${FIXED[ai]} digits`);
      i += FIXED[ai];
    } else {
      const end = s.indexOf(GS, i);
      v = end < 0 ? s.slice(i) : s.slice(i, end);
      i = end < 0 ? s.length : end + 1;
    }
    out += `(${ai})${v}`;
  }
  return out;
}
