// The browser client in a real browser (Debian's headless Chromium, driven over the DevTools protocol from node: no
// selenium, nothing from npm): a browser user on gateway A and an IRC user on gateway B in one room exchange lines
// both ways; the page comes back after a reload to its rooms and scrolls back into history; it reconnects after the
// gateway restarts; a page of another origin cannot open the WebSocket; the page has its CSP and loads nothing from
// anywhere but the gateway. A screenshot of the main view is left in .build/web-client.png for humans.
// Needs PEARIRCD, chromium and a node with WebSocket (20 with --experimental-websocket, or 22+): skipped otherwise.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

function chromiumPath() {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim() || null;
    } catch {
      // not this one
    }
  }
  return null;
}

const chromium = chromiumPath();
const skip = !process.env.PEARIRCD ? 'PEARIRCD is not set'
  : typeof WebSocket === 'undefined' ? 'this node has no WebSocket'
  : !chromium ? 'chromium is not installed (apt-get install chromium)' : false;

const TIMEOUT = 30000;

/** Waits until `check` returns something truthy (polled), or fails saying `what`. */
async function until(what, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `pearircd run` with `args`; resolves with the process and the ports it prints. */
function startGateway(args, wanted) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.PEARIRCD, ['run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const ports = {};
    const timer = setTimeout(() => reject(new Error(`pearircd did not print its ports: ${output}`)), TIMEOUT);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      for (const match of output.matchAll(/listening (\w+) \S+ (\d+)/g)) ports[match[1]] = Number(match[2]);
      if (wanted.every((name) => ports[name])) {
        clearTimeout(timer);
        resolve({ child, ports });
      }
    });
    child.stderr.on('data', () => {});
    child.on('exit', (code) => reject(new Error(`pearircd exited (${code}): ${output}`)));
  });
}

function stopGateway(gateway) {
  return new Promise((resolve) => {
    if (gateway.child.exitCode !== null) return resolve();
    gateway.child.once('exit', resolve);
    gateway.child.kill('SIGTERM');
  });
}

/** A plain IRC client (as irssi would be): lines in, lines out. */
class IRCClient {
  constructor(port) {
    this.lines = [];
    this.socket = net.connect(port, '127.0.0.1');
    let buffered = '';
    this.socket.on('data', (chunk) => {
      buffered += chunk;
      const parts = buffered.split('\r\n');
      buffered = parts.pop();
      for (const line of parts) {
        if (line.startsWith('PING ')) this.send(`PONG ${line.slice(5)}`);
        this.lines.push(line);
      }
    });
  }

  send(line) {
    this.socket.write(`${line}\r\n`);
  }

  waitFor(text) {
    return until(`the IRC client to see ${text}`, () => this.lines.find((line) => line.includes(text)));
  }

  close() {
    this.socket.destroy();
  }
}

/** Chromium, headless, driven over the DevTools protocol (one page, flattened sessions). */
class Browser {
  static async start(profile) {
    const child = spawn(chromium, [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
      '--remote-debugging-port=0', `--user-data-dir=${profile}`, '--window-size=1280,800', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const url = await new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${output}`)), TIMEOUT);
      child.stderr.on('data', (chunk) => {
        output += chunk;
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    const browser = new Browser(child, new WebSocket(url));
    await new Promise((resolve, reject) => {
      browser.socket.addEventListener('open', resolve, { once: true });
      browser.socket.addEventListener('error', reject, { once: true });
    });
    return browser;
  }

  constructor(child, socket) {
    this.child = child;
    this.socket = socket;
    this.nextID = 1;
    this.pending = new Map();
    this.events = [];
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== undefined) {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(JSON.stringify(message.error)));
        else waiter?.resolve(message.result);
      } else {
        this.events.push(message);
      }
    });
  }

  call(method, params = {}, sessionId = this.session) {
    const id = this.nextID++;
    this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Opens a page and makes it the one commands go to. */
  async open() {
    const { targetId } = await this.call('Target.createTarget', { url: 'about:blank' }, null);
    const { sessionId } = await this.call('Target.attachToTarget', { targetId, flatten: true }, null);
    this.session = sessionId;
    for (const domain of ['Page', 'Runtime', 'Network']) await this.call(`${domain}.enable`);
  }

  async navigate(url) {
    await this.call('Page.navigate', { url });
    await until('the page to load', () => this.evaluate('document.readyState === "complete" && location.href !== "about:blank"'));
  }

  async evaluate(expression) {
    const { result, exceptionDetails } = await this.call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(exceptionDetails)}`);
    return result.value;
  }

  close() {
    this.socket.close();
    this.child.kill('SIGKILL');
  }
}

test('a browser user and an IRC user on two gateways chat, reload, scroll back and reconnect', { skip, timeout: 180000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'pearirc-browser-'));
  const common = ['--port', '0', '--no-tls', '--no-dht', '--peer-host', '127.0.0.1', '--peer-port', '0', '--history-on-join', '0'];
  let a = await startGateway([...common, '--data-dir', join(base, 'a'), '--web-port', '0'], ['plain', 'peers', 'web']);
  const b = await startGateway([...common, '--data-dir', join(base, 'b'), '--no-web', '--peer', `127.0.0.1:${a.ports.peers}`], ['plain', 'peers']);
  const web = `http://127.0.0.1:${a.ports.web}`;
  const browser = await Browser.start(join(base, 'profile'));
  const irc = new IRCClient(b.ports.plain);
  try {
    await browser.open();
    await browser.navigate(`${web}/`);
    const login = `document.querySelector('#nick').value = 'webber'; document.querySelector('#login').requestSubmit(); true`;
    await browser.evaluate(login);
    await until('the browser to connect', () => browser.evaluate(`document.querySelector('#status').textContent === 'Connected'`));
    const type = (text) => browser.evaluate(`(() => { const field = document.querySelector('#text'); field.value = ${JSON.stringify(text)};
      document.querySelector('#input').requestSubmit(); return true; })()`);
    const shows = (text) => browser.evaluate(`[...document.querySelectorAll('#lines .line')].some((line) => line.textContent.includes(${JSON.stringify(text)}))`);
    await type('/join #both');
    await until('the browser to be in #both', () => browser.evaluate(`document.querySelector('#title').textContent === '#both'`));

    irc.send('NICK ircer');
    irc.send('USER ircer 0 * :ircer');
    await irc.waitFor(' 001 ircer ');
    irc.send('JOIN #both');
    await irc.waitFor(' 366 ircer ');
    // Lines both ways between the gateways.
    irc.send('PRIVMSG #both :hello from irc');
    await until('the browser to show the IRC line', () => shows('hello from irc'));
    await type('hello from the browser');
    await irc.waitFor('PRIVMSG #both :hello from the browser');

    // Enough lines that the browser's first page of history does not hold them all.
    for (let i = 0; i < 130; i++) irc.send(`PRIVMSG #both :numbered ${i}`);
    await until('the browser to show the last numbered line', () => shows('numbered 129'));

    // A reload: the page remembers the nick and the room; its latest lines come first, older ones on scrolling back.
    await browser.navigate(`${web}/`);
    assert.equal(await browser.evaluate(`document.querySelector('#nick').value`), 'webber');
    await browser.evaluate(`document.querySelector('#login').requestSubmit(); true`);
    await until('the room again after the reload', () => browser.evaluate(`(() => {
      const button = [...document.querySelectorAll('#buffers button')].find((b) => b.textContent.startsWith('#both'));
      button?.click();
      return Boolean(button);
    })()`));
    await until('#both selected', () => browser.evaluate(`document.querySelector('#title').textContent === '#both'`));
    await until('its latest lines', () => shows('numbered 129'));
    const first = `[...document.querySelectorAll('#lines .text')].some((t) => t.textContent === 'numbered 0')`;
    assert.equal(await browser.evaluate(first), false, 'the first page of history is the latest lines');
    await until('older lines after scrolling back', async () => {
      await browser.evaluate(`(() => { const lines = document.querySelector('#lines'); lines.scrollTop = 0;
        lines.dispatchEvent(new Event('scroll')); return true; })()`);
      return browser.evaluate(first);
    });

    // A screenshot of the main view, for humans.
    mkdirSync(join(process.cwd(), '.build'), { recursive: true });
    const { data } = await browser.call('Page.captureScreenshot', { format: 'png' });
    writeFileSync(join(process.cwd(), '.build', 'web-client.png'), Buffer.from(data, 'base64'));

    // The gateway restarts on the same port: the page reconnects by itself and carries on.
    await stopGateway(a);
    await until('the page to see the connection go', () => browser.evaluate(`document.querySelector('#status').textContent !== 'Connected'`));
    // Its peer and web ports as before (gateway B dials the same address; the page reconnects to the same URL).
    const again = common.map((arg, i) => (common[i - 1] === '--peer-port' ? String(a.ports.peers) : arg));
    a = await startGateway([...again, '--data-dir', join(base, 'a'), '--web-port', String(a.ports.web)], ['plain', 'peers', 'web']);
    await until('the page to reconnect', () => browser.evaluate(`document.querySelector('#status').textContent === 'Connected'`), 60000);
    await until('back in #both', () => browser.evaluate(`[...document.querySelectorAll('#buffers button')].some((b) => b.textContent.startsWith('#both') && !b.classList.contains('parted'))`));
    await type('after the restart');
    await irc.waitFor('PRIVMSG #both :after the restart');

    // The page's security: its CSP, and nothing loaded from anywhere but the gateway.
    const documentResponse = browser.events.find((event) => event.method === 'Network.responseReceived' && event.params.type === 'Document');
    const headers = Object.fromEntries(Object.entries(documentResponse.params.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    const requested = browser.events.filter((event) => event.method === 'Network.requestWillBeSent').map((event) => event.params.request.url);
    const sockets = browser.events.filter((event) => event.method === 'Network.webSocketCreated').map((event) => event.params.url);
    assert.ok(requested.length > 0 && sockets.length > 0);
    for (const url of [...requested, ...sockets]) assert.ok(new URL(url).host === `127.0.0.1:${a.ports.web}`, `${url} left the gateway's origin`);

    // A page of another origin (here an opaque one) cannot open the IRC WebSocket: the upgrade is refused.
    await browser.navigate('data:text/html,<title>elsewhere</title>');
    const attempt = await browser.evaluate(`new Promise((resolve) => {
      const socket = new WebSocket('ws://127.0.0.1:${a.ports.web}/irc', ['text.ircv3.net']);
      socket.onopen = () => resolve('opened');
      socket.onerror = () => resolve('refused');
    })`);
    assert.equal(attempt, 'refused');
  } finally {
    irc.close();
    browser.close();
    await stopGateway(a);
    await stopGateway(b);
    rmSync(base, { recursive: true, force: true });
  }
});
