// Drives a medchain development node's FHIR R4 interface with an ordinary
// FHIR client library from npm (fhir-kit-client), as a hospital system would:
// create, read, search, update, history, a transaction Bundle, and a read
// refused for want of consent (403 OperationOutcome).
//
// The test builds the medchain binary (go build), starts `medchain dev` on
// free 127.0.0.1 ports in a temporary home, and gets bearer tokens with
// `medchain fhir token`. Run: npm ci && node --test (in this folder), or
// node --test fhirtest/ from the repository root.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from 'fhir-kit-client';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const passphrase = 'medchain-dev'; // the public development passphrase

let dir, bin, home, api, nodeProc, nodeLog = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function medchain(...args) {
  const { stdout } = await run(bin, ['--home', home, '--node', api, ...args], {
    env: { ...process.env, MEDCHAIN_PASSPHRASE: passphrase },
    timeout: 60_000,
  });
  return stdout.trim();
}

async function waitForHeight(h, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`${api}/v1/status`);
      if (r.ok && (await r.json()).height >= h) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`node not at height ${h} after ${ms} ms:\n${nodeLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// A client for one account, with a token from `medchain fhir token`.
async function clientFor(name, scope, ...flags) {
  const token = await medchain('fhir', 'token', '--from', name, '--scope', scope, ...flags);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  return new Client({ baseUrl: `${api}/fhir`, bearerToken: token });
}

// The OperationOutcome of a failed call, with its HTTP status.
async function refusal(promise) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err.response, `not an HTTP error: ${err}`);
    const data = typeof err.response.data === 'string' ? JSON.parse(err.response.data) : err.response.data;
    return { status: err.response.status, outcome: data };
  }
  assert.fail('the call succeeded');
}

const code = (outcome) => outcome.issue[0].details.coding[0].code;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medchain-fhirtest-'));
  bin = join(dir, 'medchain');
  home = join(dir, 'home');
  await run('go', ['build', '-o', bin, './cmd/medchain'], { cwd: repo, timeout: 600_000, maxBuffer: 16 << 20 });
  const [apiPort, rpcPort, p2pPort] = [await freePort(), await freePort(), await freePort()];
  api = `http://127.0.0.1:${apiPort}`;
  nodeProc = spawn(bin, ['dev', '--home', home, '--demo=false', '--api', `127.0.0.1:${apiPort}`,
    '--rpc', `127.0.0.1:${rpcPort}`, '--p2p', `127.0.0.1:${p2pPort}`, '--timeout-commit', '200ms', '--log-level', 'error'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  nodeProc.stdout.on('data', (b) => { nodeLog += b; });
  nodeProc.stderr.on('data', (b) => { nodeLog += b; });
  await waitForHeight(2, 120_000);
}, { timeout: 720_000 });

after(async () => {
  if (nodeProc && nodeProc.exitCode === null) {
    const exited = new Promise((r) => nodeProc.once('exit', r));
    nodeProc.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (nodeProc.exitCode === null) nodeProc.kill('SIGKILL');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('FHIR R4 interface through fhir-kit-client', () => {
  let patient, doctor, address, patientId, observationId;

  before(async () => {
    address = await medchain('keys', 'show', 'patient1', '--address');
    patient = await clientFor('patient1', 'patient/*.read patient/*.write');
    doctor = await clientFor('doctor2', 'user/*.read');
  });

  test('the CapabilityStatement lists what is implemented', async () => {
    const cs = await patient.capabilityStatement();
    assert.equal(cs.resourceType, 'CapabilityStatement');
    assert.equal(cs.fhirVersion, '4.0.1');
    const obs = cs.rest[0].resource.find((r) => r.type === 'Observation');
    assert.deepEqual(obs.interaction.map((i) => i.code).sort(),
      ['create', 'delete', 'history-instance', 'read', 'search-type', 'update', 'vread']);
    assert.ok(obs.searchParam.some((p) => p.name === 'code'));
  });

  test('create and read', async () => {
    const p = await patient.create({
      resourceType: 'Patient',
      body: {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:medchain:address', value: address }],
        name: [{ family: 'Example', given: ['Alex'] }],
        gender: 'other',
        birthDate: '1975-05-05',
      },
    });
    assert.match(p.id, /^[0-9a-f]{32}$/);
    patientId = p.id;
    const sent = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: '2024-04-01T07:30:00Z',
      valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    };
    const created = await patient.create({ resourceType: 'Observation', body: sent });
    observationId = created.id;
    assert.equal(created.meta.versionId, '1');
    const read = await patient.read({ resourceType: 'Observation', id: observationId });
    const { id, meta, ...content } = read;
    assert.equal(id, observationId);
    assert.ok(meta.lastUpdated);
    assert.deepEqual(content, sent);
  });

  test('search by patient and code', async () => {
    const bundle = await patient.search({
      resourceType: 'Observation',
      searchParams: { patient: `Patient/${patientId}`, code: 'http://loinc.org|2339-0' },
    });
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.type, 'searchset');
    assert.equal(bundle.total, 1);
    assert.equal(bundle.entry[0].resource.id, observationId);
    const none = await patient.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${patientId}`, code: '4548-4' } });
    assert.equal(none.total, 0);
  });

  test('update makes a new version; history and vread', async () => {
    const current = await patient.read({ resourceType: 'Observation', id: observationId });
    const body = { ...current, valueQuantity: { ...current.valueQuantity, value: 5.6 } };
    delete body.meta;
    const updated = await patient.update({ resourceType: 'Observation', id: observationId, body });
    assert.equal(updated.meta.versionId, '2');
    assert.equal(updated.valueQuantity.value, 5.6);
    const history = await patient.history({ resourceType: 'Observation', id: observationId });
    assert.equal(history.type, 'history');
    assert.deepEqual(history.entry.map((e) => e.resource.meta.versionId), ['2', '1']);
    const v1 = await patient.vread({ resourceType: 'Observation', id: observationId, version: '1' });
    assert.equal(v1.valueQuantity.value, 5.4);
  });

  test('a transaction Bundle resolves urn:uuid references', async () => {
    const enc = 'urn:uuid:7f1c2e0a-0000-4000-8000-000000000001';
    const result = await patient.transaction({
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: enc,
            resource: { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${patientId}` } },
            request: { method: 'POST', url: 'Encounter' },
          },
          {
            resource: {
              resourceType: 'Observation', status: 'final',
              code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
              subject: { reference: `Patient/${patientId}` }, encounter: { reference: enc },
              effectiveDateTime: '2024-04-02', valueQuantity: { value: 61, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
            },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      },
    });
    assert.equal(result.type, 'transaction-response');
    assert.deepEqual(result.entry.map((e) => e.response.status), ['201 Created', '201 Created']);
    const encounterRef = result.entry[0].response.location.split('/_history')[0];
    const [, obsId] = result.entry[1].response.location.split('/');
    const obs = await patient.read({ resourceType: 'Observation', id: obsId });
    assert.equal(obs.encounter.reference, encounterRef);
  });

  test('a read without consent is refused with a 403 OperationOutcome', async () => {
    const { status, outcome } = await refusal(doctor.read({ resourceType: 'Observation', id: observationId }));
    assert.equal(status, 403);
    assert.equal(outcome.resourceType, 'OperationOutcome');
    assert.equal(outcome.issue[0].code, 'forbidden');
    assert.equal(code(outcome), 'consent/17');
  });

  test('invalid FHIR is a 400 naming the field', async () => {
    const { status, outcome } = await refusal(patient.create({
      resourceType: 'Observation',
      body: { resourceType: 'Observation', code: { text: 'no status' }, subject: { reference: `Patient/${patientId}` } },
    }));
    assert.equal(status, 400);
    assert.deepEqual(outcome.issue[0].expression, ['Observation.status']);
  });

  test('without a token: 401', async () => {
    const anonymous = new Client({ baseUrl: `${api}/fhir` });
    const { status, outcome } = await refusal(anonymous.read({ resourceType: 'Observation', id: observationId }));
    assert.equal(status, 401);
    assert.equal(outcome.resourceType, 'OperationOutcome');
  });
});

// A hospital export whose Patient carries only the hospital's MRN (no
// medchain address), with a Practitioner made with ifNoneExist and a
// conditional Practitioner?identifier= reference: refused until the MRN is
// linked (medchain link), then imported, then imported again with nothing
// new (the same locations, 200 OK).
describe('a hospital export through fhir-kit-client', () => {
  const mrnSystem = 'http://hospital.example.org/mrn';
  const npi = 'http://hl7.org/fhir/sid/us-npi';
  const bundle = () => ({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:7d1f0000-0000-4000-8000-000000000001',
        resource: { resourceType: 'Patient', identifier: [{ system: mrnSystem, value: 'MRN-JS-4410' }],
          name: [{ family: 'Quillfeather', given: ['Ansel'] }], birthDate: '1961-04-12' },
        request: { method: 'POST', url: 'Patient' } },
      { fullUrl: 'urn:uuid:7d1f0000-0000-4000-8000-000000000002',
        resource: { resourceType: 'Practitioner', identifier: [{ system: npi, value: '9999944100' }], name: [{ family: 'Vantablack' }] },
        request: { method: 'POST', url: 'Practitioner', ifNoneExist: `identifier=${npi}|9999944100` } },
      { fullUrl: 'urn:uuid:7d1f0000-0000-4000-8000-000000000003',
        resource: { resourceType: 'Encounter', status: 'finished',
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
          subject: { reference: 'urn:uuid:7d1f0000-0000-4000-8000-000000000001' },
          participant: [{ individual: { reference: `Practitioner?identifier=${npi}|9999944100` } }],
          period: { start: '2024-01-02T09:00:00Z', end: '2024-01-02T09:30:00Z' } },
        request: { method: 'POST', url: 'Encounter' } },
      { fullUrl: 'urn:uuid:7d1f0000-0000-4000-8000-000000000004',
        resource: { resourceType: 'Observation', status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
          subject: { reference: 'urn:uuid:7d1f0000-0000-4000-8000-000000000001' },
          encounter: { reference: 'urn:uuid:7d1f0000-0000-4000-8000-000000000003' },
          effectiveDateTime: '2024-01-02T09:10:00Z', valueQuantity: { value: 64, unit: '/min' } },
        request: { method: 'POST', url: 'Observation' } },
    ],
  });

  test('an unlinked patient is refused with how to link, then the export imports twice with one copy', async () => {
    const client = await clientFor('patient3', 'patient/*.read patient/*.write');
    const { status, outcome } = await refusal(client.transaction({ body: bundle() }));
    assert.equal(status, 422);
    assert.equal(code(outcome), 'fhir/30');
    assert.match(outcome.issue[0].diagnostics, /medchain link add/);

    const mac = await medchain('link', 'mac', '--system', mrnSystem, '--value', 'MRN-JS-4410');
    const approval = await medchain('link', 'approve', '--from', 'patient3', '--org', 'dev-hospital', '--mac', mac);
    const file = join(dir, 'approval.json');
    await writeFile(file, approval);
    await medchain('link', 'add', '--from', 'hospital-admin', '--patient', 'patient3', '--mac', mac, '--approval', file);

    const first = await client.transaction({ body: bundle() });
    assert.deepEqual(first.entry.map((e) => e.response.status), Array(4).fill('201 Created'));
    const second = await client.transaction({ body: bundle() });
    assert.deepEqual(second.entry.map((e) => e.response.status), Array(4).fill('200 OK'));
    assert.deepEqual(second.entry.map((e) => e.response.location), first.entry.map((e) => e.response.location));

    const [, practitioner, encounter] = first.entry.map((e) => e.response.location.split('/_history')[0]);
    const enc = await client.read({ resourceType: 'Encounter', id: encounter.split('/')[1] });
    assert.equal(enc.id, encounter.split('/')[1]);
    assert.equal(enc.participant[0].individual.reference, practitioner);
    const found = await client.search({ resourceType: 'Encounter', searchParams: { patient: await medchain('keys', 'show', 'patient3', '--address') } });
    assert.equal(found.total, 1);
  });
});

// A real Synthea export (testdata/README.md: a transaction Bundle of 293
// entries made by the Synthea generator, from smart-on-fhir's Apache-2.0
// sample data), imported unchanged — the file's bytes as committed — through
// fhir-kit-client: by the linked patient itself (twice: the second import
// creates nothing new; every resource reads back equal), then by the
// organization's integration account under another patient's consent.
describe('a real Synthea export through fhir-kit-client', () => {
  const file = join(repo, 'fhirtest', 'testdata', 'Clint_Champlin_4e83f4d0-0461-47bf-9711-292d8f5d69ff.json');
  const mrnSystem = 'http://hospital.smarthealthit.org'; // Synthea's "Medical Record Number" identifier
  let raw, sent, mrn;

  before(async () => {
    raw = await readFile(file, 'utf8');
    sent = JSON.parse(raw);
    const mr = sent.entry[0].resource.identifier.find((i) => i.system === mrnSystem);
    mrn = mr.value;
  });

  // The export's bytes, parsed afresh for each call: fhir-kit-client sends
  // the object as JSON, so nothing of ours touches its content.
  const body = () => JSON.parse(raw);

  // assigned maps each entry's fullUrl to the Type/id the server gave it.
  const assignedOf = (reply) => new Map(reply.entry.map((e, i) => [sent.entry[i].fullUrl, e.response.location.split('/_history')[0]]));

  // What the server should give back for an entry: the resource as sent,
  // references to fullUrls rewritten to the ids the server assigned; id and
  // meta are the server's.
  function expected(resource, assigned) {
    const text = JSON.stringify(resource).replace(/"(urn:uuid:[0-9a-f-]+)"/g, (m, u) => (assigned.has(u) ? JSON.stringify(assigned.get(u)) : m));
    const { id, meta, ...rest } = JSON.parse(text);
    return rest;
  }

  test('the linked patient imports it twice with one copy; every resource reads back equal', { timeout: 600_000 }, async () => {
    assert.equal(sent.entry.length, 293);
    const client = await clientFor('patient2', 'patient/*.read patient/*.write');
    const { status, outcome } = await refusal(client.transaction({ body: body() }));
    assert.equal(status, 422);
    assert.equal(code(outcome), 'fhir/30');
    assert.match(outcome.issue[0].diagnostics, /medchain link add/);
    assert.ok(!outcome.issue[0].diagnostics.includes(mrn), 'the outcome names the identifier value');

    const mac = await medchain('link', 'mac', '--system', mrnSystem, '--value', mrn);
    const approval = await medchain('link', 'approve', '--from', 'patient2', '--org', 'dev-hospital', '--mac', mac);
    const approvalFile = join(dir, 'synthea-approval.json');
    await writeFile(approvalFile, approval);
    await medchain('link', 'add', '--from', 'hospital-admin', '--patient', 'patient2', '--mac', mac, '--approval', approvalFile);

    const first = await client.transaction({ body: body() });
    assert.equal(first.type, 'transaction-response');
    assert.deepEqual(first.entry.map((e) => e.response.status), Array(293).fill('201 Created'));
    const second = await client.transaction({ body: body() });
    assert.deepEqual(second.entry.map((e) => e.response.status), Array(293).fill('200 OK'));
    assert.deepEqual(second.entry.map((e) => e.response.location), first.entry.map((e) => e.response.location));

    const assigned = assignedOf(first);
    assert.equal(new Set(assigned.values()).size, 293, 'every entry has its own record');
    const types = new Map();
    for (const e of sent.entry) types.set(e.resource.resourceType, (types.get(e.resource.resourceType) ?? 0) + 1);
    // One copy: a search by patient finds each type's entries once.
    const address = await medchain('keys', 'show', 'patient2', '--address');
    for (const [resourceType, n] of types) {
      if (resourceType === 'Patient') continue;
      const found = await client.search({ resourceType, searchParams: { patient: address, _count: 1000 } });
      if (resourceType === 'Organization' || resourceType === 'Practitioner') continue; // not patient compartment searches
      assert.equal(found.total, n, `${resourceType}: ${found.total} found, ${n} sent`);
    }
    for (const e of sent.entry) {
      const [resourceType, id] = assigned.get(e.fullUrl).split('/');
      const got = await client.read({ resourceType, id });
      assert.equal(got.id, id);
      assert.deepEqual(got.meta?.tag, e.resource.meta?.tag, `${resourceType}/${id}: meta.tag`);
      const { id: _i, meta: _m, ...content } = got;
      assert.deepEqual(content, expected(e.resource, assigned), `${resourceType}/${id} differs from entry ${e.fullUrl}`);
    }
  });

  test("the organization's integration account imports it under the patient's consent", { timeout: 600_000 }, async () => {
    // A new patient account (self-registered) and a staff integration
    // account of the hospital; the MRN moves from patient2 to the new one.
    await medchain('keys', 'add', 'synthea-patient');
    await medchain('account', 'register', '--from', 'synthea-patient');
    await medchain('keys', 'add', 'hospital-integration');
    await medchain('member', 'add', '--from', 'hospital-admin', '--role', 'staff', '--key', 'hospital-integration');
    await medchain('link', 'remove', '--from', 'hospital-admin', '--system', mrnSystem, '--value', mrn);
    const mac = await medchain('link', 'mac', '--system', mrnSystem, '--value', mrn);
    const approval = await medchain('link', 'approve', '--from', 'synthea-patient', '--org', 'dev-hospital', '--mac', mac);
    const approvalFile = join(dir, 'synthea-approval-2.json');
    await writeFile(approvalFile, approval);
    await medchain('link', 'add', '--from', 'hospital-admin', '--patient', 'synthea-patient', '--mac', mac, '--approval', approvalFile);

    const integration = await clientFor('hospital-integration', 'user/*.read user/*.write');
    const { status, outcome } = await refusal(integration.transaction({ body: body() }));
    assert.equal(status, 403);
    assert.equal(code(outcome), 'consent/17');

    await medchain('consent', 'grant', '--from', 'synthea-patient', '--to', 'org:dev-hospital', '--actions', 'read,write', '--purpose', 'treatment');
    const first = await integration.transaction({ body: body() });
    assert.deepEqual(first.entry.map((e) => e.response.status), Array(293).fill('201 Created'));
    // (The patient's token is taken now: the API rate-limits each signing
    // key, and the patient has just signed its registration and consent.)
    const patient = await clientFor('synthea-patient', 'patient/*.read');
    const second = await integration.transaction({ body: body() });
    assert.deepEqual(second.entry.map((e) => e.response.status), Array(293).fill('200 OK'));
    assert.deepEqual(second.entry.map((e) => e.response.location), first.entry.map((e) => e.response.location));

    // The patient reads what the hospital imported, equal to what was sent.
    const assigned = assignedOf(first);
    for (const i of [0, 3, 40, 150, 292]) {
      const e = sent.entry[i];
      const [resourceType, id] = assigned.get(e.fullUrl).split('/');
      const got = await patient.read({ resourceType, id });
      const { id: _i, meta: _m, ...content } = got;
      assert.deepEqual(content, expected(e.resource, assigned), `${resourceType}/${id}`);
    }
  });
});
