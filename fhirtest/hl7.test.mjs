// Feeds HL7 v2 messages built by an ordinary HL7 library from npm
// (simple-hl7) over MLLP to `medchain hl7 listen`, as a hospital's interface
// engine would, and reads the resulting FHIR back with fhir-kit-client: an
// ADT^A04 registers the patient, an ORU^R01's results become Observations
// and a DiagnosticReport, a resent message is acknowledged and not stored
// twice, and a malformed one gets a NAK with the reason.
//
// The test builds the medchain binary, starts `medchain dev` on free
// 127.0.0.1 ports in a temporary home, and runs the listener as doctor1 (a
// member of dev-hospital, the organization running the node). Run: npm ci
// && node --test (in this folder), or node --test fhirtest/ from the root.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from 'fhir-kit-client';
import hl7 from 'simple-hl7';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, MEDCHAIN_PASSPHRASE: 'medchain-dev' }; // the public development passphrase

let dir, bin, home, api, mllpPort, nodeProc, listenProc, logs = '';

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
  const { stdout } = await run(bin, ['--home', home, '--node', api, ...args], { env, timeout: 60_000 });
  return stdout.trim();
}

async function waitFor(check, what, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${ms} ms:\n${logs}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stop(proc) {
  if (!proc || proc.exitCode !== null) return Promise.resolve();
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGINT');
  return Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]).then(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medchain-hl7test-'));
  bin = join(dir, 'medchain');
  home = join(dir, 'home');
  await run('go', ['build', '-o', bin, './cmd/medchain'], { cwd: repo, timeout: 600_000, maxBuffer: 16 << 20 });
  const [apiPort, rpcPort, p2pPort] = [await freePort(), await freePort(), await freePort()];
  mllpPort = await freePort();
  api = `http://127.0.0.1:${apiPort}`;
  nodeProc = spawn(bin, ['dev', '--home', home, '--demo=false', '--api', `127.0.0.1:${apiPort}`,
    '--rpc', `127.0.0.1:${rpcPort}`, '--p2p', `127.0.0.1:${p2pPort}`, '--timeout-commit', '200ms', '--log-level', 'error'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  nodeProc.stdout.on('data', (b) => { logs += b; });
  nodeProc.stderr.on('data', (b) => { logs += b; });
  await waitFor(async () => (await (await fetch(`${api}/v1/status`)).json()).height >= 2, 'node', 120_000);
  // patient2 lets the hospital write its history (the registration flow).
  await medchain('consent', 'grant', '--from', 'patient2', '--to', 'org:dev-hospital', '--actions', 'read,write');
  let ready = false;
  listenProc = spawn(bin, ['--home', home, '--node', api, 'hl7', 'listen', '--from', 'doctor1',
    '--addr', `127.0.0.1:${mllpPort}`, '--journal', join(dir, 'hl7.journal')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  listenProc.stdout.on('data', (b) => { logs += b; });
  listenProc.stderr.on('data', (b) => { logs += b; if (String(b).includes('hl7: MLLP on')) ready = true; });
  await waitFor(() => ready, 'hl7 listener', 120_000);
}, { timeout: 900_000 });

after(async () => {
  await stop(listenProc);
  await stop(nodeProc);
  if (dir) await rm(dir, { recursive: true, force: true });
});

// send sends one message over a fresh MLLP connection and resolves its ACK.
function send(msg) {
  const client = hl7.Server.createTcpClient({ host: '127.0.0.1', port: mllpPort });
  return new Promise((resolve, reject) => {
    client.send(msg, (err, ack) => (err ? reject(err) : resolve(ack)));
  });
}

function header(type, event, controlId) {
  return new hl7.Message('LABSYS', 'DEVHOSP', 'MEDCHAIN', 'DEVHOSP', '20240301090000+0000', '', [type, event], controlId, 'P', '2.5.1');
}

describe('HL7 v2 over MLLP through simple-hl7', () => {
  let address, doctor;

  before(async () => {
    address = await medchain('keys', 'show', 'patient2', '--address');
    doctor = new Client({ baseUrl: `${api}/fhir`, bearerToken: await medchain('fhir', 'token', '--from', 'doctor1', '--scope', 'user/*.read') });
  });

  function pid(msg) {
    const s = msg.addSegment('PID', '1', '');
    s.addField(new hl7.Field(['MRN-4711', '', '', 'HOSP', 'MR'], [address, '', '', 'MEDCHAIN']));
    s.addField('');
    s.addField(['Example', 'Robin']);
    s.addField('');
    s.addField('19800402');
    s.addField('F');
    return s;
  }

  function oru(controlId, value) {
    const m = header('ORU', 'R01', controlId);
    pid(m);
    m.addSegment('OBR', '1', '', 'FILL-1', ['24331-1', 'Lipid panel', 'LN'], '', '', '20240301080000+0000');
    m.addSegment('OBX', '1', 'NM', ['2093-3', 'Cholesterol', 'LN'], '', value, ['mg/dL', '', 'UCUM'], '<200', 'N', '', '', 'F');
    m.addSegment('OBX', '2', 'ST', ['8251-1', 'Comment', 'LN'], '', 'fasting', '', '', '', '', '', 'F');
    return m;
  }

  test('ADT^A04 registers the patient', async () => {
    const m = header('ADT', 'A04', 'ADT-1');
    pid(m);
    m.addSegment('PV1', '1', 'O');
    const ack = await send(m);
    assert.equal(ack.getSegment('MSA').getField(1), 'AA', ack.log());
    assert.equal(ack.getSegment('MSA').getField(2), 'ADT-1');
    const found = await doctor.search({ resourceType: 'Patient', searchParams: { identifier: 'urn:medchain:hl7:aa:HOSP|MRN-4711' } });
    assert.equal(found.entry.length, 1);
    assert.equal(found.entry[0].resource.name[0].family, 'Example');
    assert.equal(found.entry[0].resource.birthDate, '1980-04-02');
  });

  test('ORU^R01 results become Observations, once even when resent', async () => {
    for (let i = 0; i < 2; i++) {
      const ack = await send(oru('ORU-1', '187'));
      assert.equal(ack.getSegment('MSA').getField(1), 'AA', ack.log());
    }
    const obs = await doctor.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${address}`, _count: 50 } });
    assert.equal(obs.entry.length, 2);
    const chol = obs.entry.map((e) => e.resource).find((r) => r.code.coding[0].code === '2093-3');
    assert.equal(chol.valueQuantity.value, 187);
    assert.equal(chol.valueQuantity.unit, 'mg/dL');
    const reports = await doctor.search({ resourceType: 'DiagnosticReport', searchParams: { patient: `Patient/${address}` } });
    assert.equal(reports.entry.length, 1);
    assert.equal(reports.entry[0].resource.result.length, 2);
  });

  test('a malformed message gets a NAK with the reason, and writes nothing', async () => {
    const ack = await send(oru('ORU-2', 'high'));
    assert.equal(ack.getSegment('MSA').getField(1), 'AE');
    const err = ack.getSegment('ERR');
    assert.ok(err, ack.log());
    assert.equal(err.getComponent(3, 1), '102');
    const obs = await doctor.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${address}`, _count: 50 } });
    assert.equal(obs.entry.length, 2);
  });
});
