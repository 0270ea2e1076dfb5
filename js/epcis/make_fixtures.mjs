// Builds the supply-chain scenario of medchain's EPCIS tests with standard
// libraries: the EPCIS 2.0 documents with epcis2.js, the units' GS1 Digital
// Links with digital-link.js. A manufacturer commissions three units and
// packs them into a case; ships the case to a distributor, who receives it
// and ships it to a pharmacy, who receives it, unpacks it and dispenses one
// unit. Output is deterministic (fixed times and event IDs), so the
// committed copy can be checked for staleness:
//
//   node make_fixtures.mjs [outdir]   (default ../../internal/epcis/testdata/scenario)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import epcis2 from 'epcis2.js';
import dlpkg from 'digital-link.js';

const {
  EPCISDocument, ObjectEvent, AggregationEvent, TransactionEvent, ReadPoint, BizLocation,
  BizTransactionElement, SourceElement, DestinationElement, Ilmd, cbv,
  buildSGTINUri, buildSSCCUri, buildSGLNUri,
} = epcis2;
const { DigitalLink } = dlpkg;

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(process.argv[2] || path.join(here, '../../internal/epcis/testdata/scenario'));

// GS1 check digit (mod 10, weights 3/1 from the right).
function check(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[digits.length - 1 - i]);
    sum += i % 2 === 0 ? d * 3 : d;
  }
  return String((10 - (sum % 10)) % 10);
}

// The parties: GS1 Company Prefixes and their locations.
const mfr = { prefix: '0614141', locRef: '00001' };
const dist = { prefix: '0012345', locRef: '00010' };
const pharm = { prefix: '0098765', locRef: '00020' };
const sgln = (p) => buildSGLNUri(p.prefix, p.locRef, '0');
const pgln = (p) => `urn:epc:id:pgln:${p.prefix}.${p.locRef}`;

const itemRef = '012345'; // indicator 0 + item reference 12345
const gtin = itemRef[0] + mfr.prefix + itemRef.slice(1);
const gtin14 = gtin + check(gtin);
const serials = ['S1001', 'S1002', 'S1003'];
const lot = 'L2026A';
const expiry = '2027-12-31';
const units = serials.map((s) => buildSGTINUri(mfr.prefix, itemRef, s));
const caseSSCC = buildSSCCUri(mfr.prefix, '0' + '000000001');
const po = 'urn:epcglobal:cbv:bt:0614141000012:PO-7781';

const digitalLinks = serials.map((s) => DigitalLink({
  domain: 'https://id.medchain.example',
  identifier: { '01': gtin14 },
  keyQualifiers: { '10': lot, '21': s },
  keyQualifiersOrder: ['10', '21'],
  attributes: { '17': '271231' },
}).toWebUriString());

function at(ev, time, who) {
  ev.setEventTime(time);
  ev.setReadPoint(new ReadPoint().setId(sgln(who)));
  ev.setBizLocation(new BizLocation().setId(sgln(who)));
  return ev;
}

function transfer(ev, from, to) {
  ev.addSource(new SourceElement().setType(cbv.sourceDestinationTypes.owning_party).setSource(pgln(from)));
  ev.addSource(new SourceElement().setType(cbv.sourceDestinationTypes.location).setSource(sgln(from)));
  ev.addDestination(new DestinationElement().setType(cbv.sourceDestinationTypes.owning_party).setDestination(pgln(to)));
  ev.addDestination(new DestinationElement().setType(cbv.sourceDestinationTypes.location).setDestination(sgln(to)));
  return ev;
}

// Fixed event IDs keep the output deterministic. (epcis2.js's own
// generateHashID is not used: its pre-hash differs from GS1's reference
// implementation, which medchain follows.)
let nextID = 1;
function finish(ev) {
  ev.setEventID(`urn:uuid:6d1c0b5e-0000-4000-8000-${String(nextID++).padStart(12, '0')}`);
  return ev;
}

function doc(name, events) {
  const d = new EPCISDocument();
  d.setCreationDate('2026-03-01T08:00:00.000Z');
  d.setSchemaVersion('2.0');
  events.forEach((e) => d.addEvent(e));
  if (!d.isValid()) throw new Error(`${name}: epcis2.js finds the document invalid`);
  return d;
}

// Manufacturer: commission, pack, bind the purchase order, ship.
const commission = at(new ObjectEvent(), '2026-03-01T09:00:00.000+01:00', mfr)
  .setAction(cbv.actionTypes.add)
  .setBizStep(cbv.bizSteps.commissioning)
  .setDisposition(cbv.dispositions.active)
  .addEPCList(units)
  .setIlmd(new Ilmd({ 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': expiry }));
const pack = at(new AggregationEvent(), '2026-03-01T09:10:00.000+01:00', mfr)
  .setAction(cbv.actionTypes.add)
  .setBizStep(cbv.bizSteps.packing)
  .setDisposition(cbv.dispositions.in_progress)
  .setParentId(caseSSCC)
  .addChildEPCList(units);
const order = at(new TransactionEvent(), '2026-03-01T09:15:00.000+01:00', mfr)
  .setAction(cbv.actionTypes.add)
  .setBizStep(cbv.bizSteps.shipping)
  .setDisposition(cbv.dispositions.in_progress)
  .addEPC(caseSSCC)
  .addBizTransaction(new BizTransactionElement().setType(cbv.businessTransactionTypes.po).setBizTransaction(po));
const ship1 = transfer(at(new ObjectEvent(), '2026-03-01T10:00:00.000+01:00', mfr)
  .setAction(cbv.actionTypes.observe)
  .setBizStep(cbv.bizSteps.shipping)
  .setDisposition(cbv.dispositions.in_transit)
  .addEPC(caseSSCC)
  .addBizTransaction(new BizTransactionElement().setType(cbv.businessTransactionTypes.po).setBizTransaction(po)), mfr, dist);

// Distributor: receive, ship on.
const receive1 = transfer(at(new ObjectEvent(), '2026-03-02T08:30:00.000-05:00', dist)
  .setAction(cbv.actionTypes.observe)
  .setBizStep(cbv.bizSteps.receiving)
  .setDisposition(cbv.dispositions.in_progress)
  .addEPC(caseSSCC), mfr, dist);
const ship2 = transfer(at(new ObjectEvent(), '2026-03-03T14:00:00.000-05:00', dist)
  .setAction(cbv.actionTypes.observe)
  .setBizStep(cbv.bizSteps.shipping)
  .setDisposition(cbv.dispositions.in_transit)
  .addEPC(caseSSCC), dist, pharm);

// Pharmacy: receive, unpack, dispense one unit (named by its Digital Link).
const receive2 = transfer(at(new ObjectEvent(), '2026-03-04T09:00:00.000-05:00', pharm)
  .setAction(cbv.actionTypes.observe)
  .setBizStep(cbv.bizSteps.receiving)
  .setDisposition(cbv.dispositions.in_progress)
  .addEPC(caseSSCC), dist, pharm);
const unpack = at(new AggregationEvent(), '2026-03-04T09:30:00.000-05:00', pharm)
  .setAction(cbv.actionTypes.delete)
  .setBizStep(cbv.bizSteps.unpacking)
  .setDisposition(cbv.dispositions.active)
  .setParentId(caseSSCC)
  .addChildEPCList(units);
const dispense = at(new ObjectEvent(), '2026-03-05T16:45:12.345-05:00', pharm)
  .setAction(cbv.actionTypes.observe)
  .setBizStep(cbv.bizSteps.dispensing)
  .setDisposition(cbv.dispositions.dispensed)
  .addEPC(digitalLinks[0]);

const docs = {
  'manufacturer.json': doc('manufacturer', [commission, pack, order, ship1].map(finish)),
  'distributor.json': doc('distributor', [receive1, ship2].map(finish)),
  'pharmacy.json': doc('pharmacy', [receive2, unpack, dispense].map(finish)),
};

fs.mkdirSync(outDir, { recursive: true });
for (const [file, d] of Object.entries(docs)) {
  fs.writeFileSync(path.join(outDir, file), JSON.stringify(d.toObject(), null, 2) + '\n');
}
const links = serials.map((s, i) => ({ gtin: gtin14, serial: s, lot, expiry: '271231', digitalLink: digitalLinks[i], epc: units[i] }));
fs.writeFileSync(path.join(outDir, 'digital-links.json'), JSON.stringify(links, null, 2) + '\n');
