// Sends one account's story through an official SDK to a running CsMetrics.
// Usage: node send.js <segment|rudderstack> <baseUrl> <writeKey> <account> <userId> <anonymousUser>
// A group call ties <userId> to <account>; <anonymousUser> sends a track first and is tied
// to the account afterwards, so its event is held and then applied.
const [sdk, url, writeKey, account, user, lateUser] = process.argv.slice(2);

async function segment() {
  const { Analytics } = require('@segment/analytics-node');
  const errors = [];
  const analytics = new Analytics({ writeKey, host: url, flushAt: 20, flushInterval: 200, maxRetries: 3 });
  analytics.on('error', (e) => errors.push(e));
  analytics.track({ userId: lateUser, event: 'Feature Used', properties: { feature: 'exports' } });
  analytics.group({ userId: user, groupId: account, traits: { name: 'Acme via Segment', plan: 'enterprise', seats: 40 } });
  analytics.track({ userId: user, event: 'Feature Used', properties: { feature: 'reports' } });
  analytics.track({ userId: user, event: 'Login' });
  analytics.page({ userId: user, name: 'Dashboard' });
  analytics.track({ userId: user, event: 'NPS Response', properties: { score: 9 } });
  await analytics.closeAndFlush({ timeout: 20000 });
  const late = new Analytics({ writeKey, host: url, flushAt: 1, maxRetries: 3 });
  late.on('error', (e) => errors.push(e));
  late.group({ userId: lateUser, groupId: account });
  await late.closeAndFlush({ timeout: 20000 });
  if (errors.length) throw new Error(JSON.stringify(errors.map(String)));
}

async function rudderstack() {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const client = new Analytics(writeKey, { dataPlaneUrl: url, flushAt: 20, flushInterval: 200, retryCount: 3, logLevel: 'error' });
  client.track({ userId: lateUser, event: 'Feature Used', properties: { feature: 'exports' } });
  client.group({ userId: user, groupId: account, traits: { name: 'Acme via RudderStack', plan: 'enterprise', seats: 40 } });
  client.track({ userId: user, event: 'Feature Used', properties: { feature: 'reports' } });
  client.track({ userId: user, event: 'Login' });
  client.page({ userId: user, name: 'Dashboard' });
  client.track({ userId: user, event: 'NPS Response', properties: { score: 9 } });
  await client.flush();
  client.group({ userId: lateUser, groupId: account });
  await client.flush();
}

(sdk === 'segment' ? segment() : rudderstack())
  .then(() => { console.log('sent'); process.exit(0); })
  .catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
