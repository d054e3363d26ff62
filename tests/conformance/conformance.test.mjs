// Conformance of the ChatGenius database service with clients nobody here
// wrote: Node's @grpc/grpc-js, @grpc/proto-loader (our .proto files, loaded
// at run time, no generated code of ours) and grpc-health-check. Run by
// scripts/test.sh against the real server binary:
//   CONFORMANCE_TARGET=127.0.0.1:PORT node --test conformance.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import health from 'grpc-health-check';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = process.env.CONFORMANCE_TARGET;
assert.ok(target, 'CONFORMANCE_TARGET must name the server');

const loadOptions = {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  includeDirs: [path.join(here, '../../proto'), '/usr/include', '/usr/share/grpc-proto'],
};
const v1 = grpc.loadPackageDefinition(protoLoader.loadSync([
  'chatgenius/db/v1/user_service.proto', 'chatgenius/db/v1/channel_service.proto',
  'chatgenius/db/v1/message_service.proto', 'chatgenius/db/v1/reaction_service.proto',
  'chatgenius/db/v1/event_service.proto', 'chatgenius/db/v1/migration_service.proto',
  'chatgenius/db/v1/admin_service.proto'], loadOptions)).chatgenius.db.v1;
const reflection = grpc.loadPackageDefinition(protoLoader.loadSync(
  'grpc/reflection/v1alpha/reflection.proto', loadOptions)).grpc.reflection.v1alpha;

const creds = grpc.credentials.createInsecure();
const client = (Service) => new Service(target, creds);
const Health = grpc.makeGenericClientConstructor(health.service, 'Health');
const deadline = (ms = 5000) => ({ deadline: new Date(Date.now() + ms) });
const call = (stub, method, request, options = deadline()) =>
  new Promise((resolve, reject) => stub[method](request, options, (err, res) => (err ? reject(err) : resolve(res))));

const suffix = Date.now().toString(36);
const users = client(v1.UserService);
const channels = client(v1.ChannelService);
const messages = client(v1.MessageService);
const reactions = client(v1.ReactionService);
const events = client(v1.EventService);
const migrations = client(v1.MigrationService);
const admin = client(v1.AdminService);

test('health Check reports SERVING for readiness, liveness and each service', async () => {
  const h = new Health(target, creds);
  for (const service of ['', 'liveness', 'chatgenius.db.v1.UserService', 'chatgenius.db.v1.EventService']) {
    const res = await call(h, 'Check', { service });
    assert.equal(res.status, 'SERVING', `service '${service}'`);
  }
  await assert.rejects(call(h, 'Check', { service: 'no.such.Service' }), (e) => e.code === grpc.status.NOT_FOUND);
});

test('health Watch streams the current status', async () => {
  const h = new Health(target, creds);
  const stream = h.Watch({ service: '' }, deadline(5000));
  const first = await new Promise((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
  });
  assert.equal(first.status, 'SERVING');
  stream.cancel();
});

test('reflection (v1alpha) lists every service', async () => {
  const r = client(reflection.ServerReflection);
  const stream = r.ServerReflectionInfo(deadline());
  const response = new Promise((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
  });
  stream.write({ list_services: '' });
  stream.end();
  const names = (await response).list_services_response.service.map((s) => s.name);
  for (const want of ['UserService', 'ChannelService', 'MessageService', 'ReactionService',
    'EventService', 'MigrationService', 'AdminService']) {
    assert.ok(names.includes(`chatgenius.db.v1.${want}`), `${want} listed in ${names}`);
  }
  assert.ok(names.includes('grpc.health.v1.Health'));
});

test('one call per service succeeds', async () => {
  const ada = await call(users, 'CreateUser', { user: { username: `ada${suffix}`, email: `ada${suffix}@example.com` } });
  assert.match(ada.id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  const general = await call(channels, 'CreateChannel',
    { channel: { name: `conf-${suffix}`, type: 'CHANNEL_TYPE_PUBLIC' }, creator_id: ada.id });
  assert.equal(general.member_count, 1);
  const status = await call(migrations, 'GetMigrationStatus', {});
  assert.equal(status.up_to_date, true);
  const pool = await call(admin, 'GetPoolStats', {});
  assert.equal(pool.max_size, 10);

  // Live events from now on (after_event_id 0), then post and react.
  const sub = events.Subscribe({ channel_ids: [general.id], viewer_id: ada.id, after_event_id: 0 }, deadline(10000));
  const received = [];
  const got = new Promise((resolve, reject) => {
    sub.on('data', (e) => { received.push(e); if (received.length >= 2) resolve(); });
    sub.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
  });
  await new Promise((r) => setTimeout(r, 300));  // the stream registers
  const posted = await call(messages, 'PostMessage',
    { channel_id: general.id, author_id: ada.id, content: 'hello from node', client_msg_id: `node-${suffix}` });
  assert.equal(posted.author.username, `ada${suffix}`);
  const reaction = await call(reactions, 'AddReaction', { message_id: posted.id, user_id: ada.id, emoji: ':+1:' });
  assert.equal(reaction.emoji, ':+1:');
  await got;
  sub.cancel();
  assert.equal(received[0].kind, 'EVENT_KIND_MESSAGE_CREATED');
  assert.equal(received[0].message.content, 'hello from node');
  assert.equal(received[1].kind, 'EVENT_KIND_REACTION_ADDED');
  assert.ok(BigInt(received[1].id) > BigInt(received[0].id), 'ids increase');
});

test('errors carry the documented codes and messages', async () => {
  await assert.rejects(
    call(users, 'CreateUser', { user: { username: 'ok', email: 'not-an-email' } }),
    (e) => e.code === grpc.status.INVALID_ARGUMENT && e.details.startsWith('user.email:'));
  await assert.rejects(call(users, 'GetUser', { id: '01ARYZ6S41TSV4RRFFQ69G5FAV' }),
    (e) => e.code === grpc.status.NOT_FOUND);
  await assert.rejects(call(users, 'GetUser', { id: 'not-a-ulid' }),
    (e) => e.code === grpc.status.INVALID_ARGUMENT && e.details.startsWith('id:'));
  const bob = { username: `bob${suffix}`, email: `bob${suffix}@example.com` };
  await call(users, 'CreateUser', { user: bob });
  await assert.rejects(call(users, 'CreateUser', { user: bob }),
    (e) => e.code === grpc.status.ALREADY_EXISTS && e.details.startsWith('user.'));
  await assert.rejects(call(users, 'ListUsers', { page_size: 5, page_token: 'forged' }),
    (e) => e.code === grpc.status.INVALID_ARGUMENT && e.details.startsWith('page_token:'));
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = events.Subscribe({}, deadline());
      s.on('data', resolve);
      s.on('error', reject);
    }),
    (e) => e.code === grpc.status.INVALID_ARGUMENT);
});

test('private channels and DMs refuse outsiders with the documented codes', async () => {
  const mk = (n) => call(users, 'CreateUser', { user: { username: `${n}${suffix}`, email: `${n}${suffix}@example.com` } });
  const [ada, bob, eve, gus] = await Promise.all([mk('pada'), mk('pbob'), mk('peve'), mk('pgus')]);
  const secret = await call(channels, 'CreateChannel',
    { channel: { name: `secret-${suffix}`, type: 'CHANNEL_TYPE_PRIVATE' }, creator_id: ada.id });
  await call(channels, 'AddMember', { channel_id: secret.id, user_id: bob.id, actor_id: ada.id });
  const dm = await call(channels, 'GetOrCreateDirectChannel', { user_ids: [ada.id, bob.id], actor_id: ada.id });
  const m = await call(messages, 'PostMessage', { channel_id: dm.id, author_id: bob.id, content: 'just us' });
  const denied = (e) => e.code === grpc.status.PERMISSION_DENIED;
  // A non-member reads nothing of either, by any path.
  await assert.rejects(call(messages, 'GetMessage', { id: m.id, viewer_id: eve.id }), denied);
  await assert.rejects(call(messages, 'ListMessages', { channel_id: dm.id, viewer_id: eve.id }), denied);
  await assert.rejects(call(reactions, 'ListReactions', { message_id: m.id, viewer_id: eve.id }), denied);
  await assert.rejects(call(channels, 'GetChannel', { id: secret.id, viewer_id: eve.id }), denied);
  await assert.rejects(call(channels, 'ListMembers', { channel_id: secret.id, viewer_id: eve.id }), denied);
  await assert.rejects(call(channels, 'GetOrCreateDirectChannel', { user_ids: [ada.id, bob.id], actor_id: eve.id }), denied);
  await assert.rejects(call(channels, 'GetReadState', { channel_id: dm.id, user_id: eve.id }), denied);
  // No acting user at all is a bad request, never privileged.
  await assert.rejects(call(messages, 'GetMessage', { id: m.id }),
    (e) => e.code === grpc.status.INVALID_ARGUMENT && e.details.startsWith('viewer_id:'));
  const stream = (request) => new Promise((resolve, reject) => {
    const s = events.Subscribe(request, deadline(3000));
    s.on('data', () => { s.cancel(); resolve('data'); });
    s.on('metadata', (md) => { if (md.get('chatgenius-start-after').length) { s.cancel(); resolve('started'); } });
    s.on('error', reject);
  });
  await assert.rejects(stream({ channel_ids: [dm.id], viewer_id: eve.id }), denied);
  await assert.rejects(stream({ channel_ids: [dm.id] }), (e) => e.code === grpc.status.INVALID_ARGUMENT);
  assert.equal(await stream({ channel_ids: [dm.id], viewer_id: bob.id }), 'started');
  // A deleted user can no longer act.
  await call(channels, 'AddMember', { channel_id: secret.id, user_id: gus.id, actor_id: ada.id });
  await call(users, 'DeleteUser', { id: gus.id });
  await assert.rejects(call(messages, 'PostMessage', { channel_id: secret.id, author_id: gus.id, content: 'ghost' }),
    (e) => e.code === grpc.status.NOT_FOUND && e.details.startsWith('author_id:'));
  const members = await call(channels, 'ListMembers', { channel_id: secret.id, viewer_id: ada.id });
  assert.deepEqual(members.members.map((x) => x.user.id).sort(), [ada.id, bob.id].sort());
});

test('deadlines are honoured', async () => {
  await assert.rejects(call(users, 'ListUsers', {}, { deadline: new Date(Date.now() - 1000) }),
    (e) => e.code === grpc.status.DEADLINE_EXCEEDED);
  // A short deadline on a live stream ends it with DEADLINE_EXCEEDED.
  const ada = await call(users, 'CreateUser', { user: { username: `dl${suffix}`, email: `dl${suffix}@example.com` } });
  const s = events.Subscribe({ user_id: ada.id }, deadline(300));
  const err = await new Promise((resolve) => { s.on('error', resolve); s.on('data', () => {}); });
  assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
});
