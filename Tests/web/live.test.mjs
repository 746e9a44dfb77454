// The browser client's connection and state against a running `pearircd run --standalone` (its web listener), over a
// real WebSocket: capability negotiation, SASL PLAIN, a join with history, a line and its echo, a refused login.
// Needs PEARIRCD (the binary) and a node with WebSocket (20 with --experimental-websocket, or 22+): skipped otherwise.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';

import { chathistoryTargets } from '../../Sources/WebFrontEnd/Client/commands.js';
import { Connection } from '../../Sources/WebFrontEnd/Client/connection.js';
import { ChatState } from '../../Sources/WebFrontEnd/Client/state.js';

const skip = !process.env.PEARIRCD ? 'PEARIRCD is not set' : typeof WebSocket === 'undefined' ? 'this node has no WebSocket' : false;

/** Starts the server; resolves with { process, port } once it prints its web port. */
function startServer(directory) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.env.PEARIRCD, [
      'run', '--standalone', '--port', '0', '--web-port', '0', '--sasl-account', 'webacct:sesame', '--data-dir', directory,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no web port printed: ${output}`)), 20000);
    server.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /listening web \S+ (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ server, port: Number(match[1]) });
      }
    });
    server.on('exit', (code) => reject(new Error(`pearircd exited (${code}): ${output}`)));
  });
}

/** Resolves with the first value `check` returns for an event of `type`, or rejects after a timeout. */
function waitFor(target, type, check, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10000);
    const listener = (event) => {
      const value = check(event.detail);
      if (value === undefined || value === false) return;
      clearTimeout(timer);
      target.removeEventListener(type, listener);
      resolve(value);
    };
    target.addEventListener(type, listener);
  });
}

test('the client logs in, joins, talks and reads history over the WebSocket', { skip }, async () => {
  const directory = mkdtempSync(join(tmpdir(), 'pearirc-web-'));
  const { server, port } = await startServer(directory);
  try {
    const state = new ChatState();
    const connection = new Connection(`ws://127.0.0.1:${port}/irc`, { nick: 'webby', account: 'webacct', password: 'sesame' });
    connection.addEventListener('message', (event) => state.apply(event.detail.message, { inBatch: event.detail.inHistory }));
    const registered = waitFor(connection, 'status', (detail) => detail.state === 'connected' || undefined, 'registration');
    connection.start();
    await registered;
    assert.ok(connection.caps.has('sasl') && connection.caps.has('echo-message') && connection.caps.has('draft/chathistory'));

    const joined = waitFor(connection, 'message', ({ message }) => message.command === '366' || undefined, 'the join');
    connection.send('JOIN', '#web');
    await joined;
    assert.ok(state.find('#web').members.has('webby'));

    const echoed = waitFor(connection, 'message', ({ message }) =>
      (message.command === 'PRIVMSG' && message.params[1] === 'hello from the browser' ? message : undefined), 'the echo');
    connection.send('PRIVMSG', '#web', 'hello from the browser');
    const echo = await echoed;
    assert.equal(echo.tags.account, 'webacct', 'logged in with SASL PLAIN');
    assert.ok(echo.tags.msgid && echo.tags.time);

    const history = waitFor(connection, 'batch', (detail) => (!detail.open ? detail : undefined), 'the history batch');
    connection.send('CHATHISTORY', 'LATEST', '#web', '*', '10');
    await history;
    const lines = state.find('#web').lines.filter((line) => line.kind === 'message');
    assert.deepEqual(lines.map((line) => line.text), ['hello from the browser'], 'history and echo are one line');

    // A labeled request (the peers panel's way of asking PearServ): its answer comes back to it, whole, and is not
    // passed on as messages; a single labeled line (PONG) answers too.
    let passedOn = 0;
    connection.addEventListener('message', ({ detail }) => { if (['311', '318', 'PONG', 'CHATHISTORY'].includes(detail.message.command)) passedOn += 1; });
    const whois = await connection.request('WHOIS', 'webby');
    assert.ok(whois.some((message) => message.command === '311') && whois.some((message) => message.command === '318'));
    // An answer that is a batch of its own (TARGETS) comes whole too, nested or labeled itself.
    const targets = await connection.request('CHATHISTORY', 'TARGETS', 'timestamp=2000-01-01T00:00:00.000Z', 'timestamp=2100-01-01T00:00:00.000Z', '10');
    assert.deepEqual(chathistoryTargets(targets), ['#web']);
    const pong = await connection.request('PING', 'labeled');
    assert.deepEqual(pong.map((message) => message.command), ['PONG']);
    assert.equal(passedOn, 0);
    connection.stop();
    await assert.rejects(connection.request('PING', 'gone'), /not connected|lost/);

    // Typing notices cross between two browser clients in one room (IRCv3 +typing on TAGMSG, with message-tags).
    const reader = new Connection(`ws://127.0.0.1:${port}/irc`, { nick: 'reader', account: '', password: '' });
    const typer = new Connection(`ws://127.0.0.1:${port}/irc`, { nick: 'typer', account: '', password: '' });
    for (const client of [reader, typer]) {
      const ready = waitFor(client, 'status', (detail) => detail.state === 'connected' || undefined, 'registration');
      client.start();
      await ready;
      const inRoom = waitFor(client, 'message', ({ message }) => message.command === '366' || undefined, 'the join');
      client.send('JOIN', '#typing');
      await inRoom;
    }
    const notice = waitFor(reader, 'message', ({ message }) => (message.command === 'TAGMSG' ? message : undefined), 'the typing notice');
    typer.sendMessage({ tags: { '+typing': 'active' }, command: 'TAGMSG', params: ['#typing'] });
    const typing = await notice;
    assert.equal(typing.tags['+typing'], 'active');
    assert.equal(typing.source.nick, 'typer');
    reader.stop();
    typer.stop();

    const refused = new Connection(`ws://127.0.0.1:${port}/irc`, { nick: 'guesser', account: 'webacct', password: 'wrong' });
    const failed = waitFor(refused, 'loginfailed', (detail) => detail.text, 'the refused login');
    refused.start();
    assert.match(await failed, /SASL authentication failed/);
    refused.stop();
  } finally {
    server.kill();
    rmSync(directory, { recursive: true, force: true });
  }
});
