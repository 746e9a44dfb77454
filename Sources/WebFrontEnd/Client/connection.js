// The IRC connection over the gateway's WebSocket (`/irc`, `text.ircv3.net`): capability negotiation, SASL PLAIN
// login, PING answers, batches, and reconnecting with back-off after a network drop. Events out, lines in.

import { parse, serialize } from './irc.js';

/** Capabilities the client uses when the server offers them. */
export const WANTED_CAPS = [
  'message-tags', 'server-time', 'batch', 'echo-message', 'draft/chathistory', 'away-notify', 'multi-prefix',
  'account-tag', 'extended-join', 'sasl', 'labeled-response',
];

/** How long a labeled request waits for its answer. */
const REQUEST_TIMEOUT = 10000;

export class Connection extends EventTarget {
  /** `login`: { nick, account, password } (account and password may be empty: no login). */
  constructor(url, login) {
    super();
    this.url = url;
    this.login = login;
    this.socket = null;
    this.caps = new Set();
    this.batches = new Map(); // reference -> type
    this.registered = false;
    this.stopped = false;
    this.retry = 0;
    this.timer = null;
    this.nickAttempt = 0;
    this.nickLength = 30;
    this.lastHeard = 0;
    this.keepAlive = null;
    this.requests = new Map(); // label -> { lines, resolve, reject, timer }
    this.nextLabel = 1;
    // A network that comes back is tried at once, not after the back-off.
    globalThis.addEventListener?.('online', () => {
      if (!this.stopped && !this.socket) {
        clearTimeout(this.timer);
        this.open();
      }
    });
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.keepAlive);
    if (this.socket) this.socket.close(1000, 'bye');
  }

  open() {
    for (const request of this.requests.values()) this.finishRequest(request, new Error('the connection was lost'));
    this.requests.clear();
    this.caps = new Set();
    this.offered = new Set();
    this.batches.clear();
    this.registered = false;
    this.nickAttempt = 0;
    this.emit('status', { state: 'connecting' });
    const socket = new WebSocket(this.url, ['text.ircv3.net']);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.send('CAP', 'LS', '302');
      this.send('NICK', this.login.nick);
      this.send('USER', this.login.nick, '0', '*', this.login.nick);
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      this.lastHeard = Date.now();
      for (const line of event.data.split(/\r?\n/)) if (line) this.received(line);
    });
    // A connection that went dead without a close (a phone changing networks) is noticed: a PING every minute, and
    // the connection is given up when nothing at all came back for two.
    this.lastHeard = Date.now();
    clearInterval(this.keepAlive);
    this.keepAlive = setInterval(() => {
      if (this.socket !== socket) return;
      if (Date.now() - this.lastHeard > 120000) socket.close(4000, 'no answer');
      else if (this.registered) this.send('PING', 'keepalive');
    }, 60000);
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      clearInterval(this.keepAlive);
      this.socket = null;
      this.emit('status', { state: 'disconnected' });
      if (this.stopped) return;
      // Back off (1, 2, 4 … 30 s, with jitter) and try again; catching up is the app's business once registered again.
      const delay = Math.min(30000, 1000 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
      this.emit('status', { state: 'waiting', seconds: Math.round(delay / 1000) });
      this.timer = setTimeout(() => this.open(), delay);
    });
  }

  /** Sends one command; parameters are checked (no CR, LF or NUL). */
  send(command, ...params) {
    this.sendMessage({ command, params });
  }

  sendMessage(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(serialize(message));
    return true;
  }

  /** A raw line typed by the reader (`/quote`): sent as it is, when connected, if it is one line. */
  sendRaw(line) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || /[\r\n\0]/.test(line)) return false;
    this.socket.send(line);
    return true;
  }

  /**
   * Sends a command and resolves with the lines that answer it (IRCv3 labeled-response: they come in a batch tagged
   * with the command's label, or as one labeled line), which are not passed on as messages. Rejects when the server
   * does not label answers, the connection is down, or no answer came in time.
   */
  request(command, ...params) {
    if (!this.caps.has('labeled-response') || !this.caps.has('batch')) {
      return Promise.reject(new Error('the gateway does not label its answers'));
    }
    const label = `w${this.nextLabel++}`;
    return new Promise((resolve, reject) => {
      const request = { label, lines: [], resolve, reject, timer: null };
      request.timer = setTimeout(() => {
        this.requests.delete(label);
        this.finishRequest(request, new Error('no answer in time'));
      }, REQUEST_TIMEOUT);
      this.requests.set(label, request);
      if (!this.sendMessage({ tags: { label }, command, params })) {
        this.requests.delete(label);
        this.finishRequest(request, new Error('not connected'));
      }
    });
  }

  finishRequest(request, error) {
    clearTimeout(request.timer);
    if (error) request.reject(error);
    else request.resolve(request.lines);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  received(line) {
    const message = parse(line);
    if (!message) return;
    const p = message.params;
    switch (message.command) {
      case 'PING':
        this.send('PONG', ...p);
        return;
      case 'CAP':
        this.capability(p);
        return;
      case 'AUTHENTICATE':
        if (p[0] === '+') {
          const { account, password } = this.login;
          const blob = `${account}\0${account}\0${password}`;
          const encoded = btoa(String.fromCharCode(...new TextEncoder().encode(blob)));
          // SASL: 400-byte chunks, and a lone `+` after a last chunk of exactly 400.
          for (let at = 0; at < encoded.length; at += 400) this.send('AUTHENTICATE', encoded.slice(at, at + 400));
          if (encoded.length % 400 === 0) this.send('AUTHENTICATE', '+');
        }
        return;
      case '903':
      case '904':
      case '905':
      case '906':
      case '902':
        if (message.command !== '903') this.emit('loginfailed', { text: p.slice(1).join(' ') });
        if (!this.registered) this.send('CAP', 'END');
        return;
      case '005':
        for (const token of p.slice(1, -1)) {
          const match = /^NICKLEN=(\d+)$/.exec(token);
          if (match) this.nickLength = Number(match[1]);
        }
        break;
      case '001':
        this.registered = true;
        // The back-off starts again only for a connection that stayed up (one closed at once keeps backing off).
        setTimeout(() => { if (this.registered) this.retry = 0; }, 30000);
        this.login.nick = p[0] ?? this.login.nick; // a reconnect asks for the nick we had
        this.emit('status', { state: 'connected' });
        break;
      case '432':
      case '433':
      case '436':
      case '437':
        if (!this.registered) this.send('NICK', this.alternativeNick());
        break;
      case 'BATCH': {
        const reference = (p[0] ?? '').slice(1);
        const opening = (p[0] ?? '').startsWith('+');
        // A batch inside a labeled answer (a history batch in it) belongs to the answer too.
        const parent = message.tags.batch === undefined ? undefined : this.batches.get(message.tags.batch);
        const batch = opening
          ? { type: p[1], target: p[2] ?? null, label: message.tags.label ?? parent?.label, answers: message.tags.label !== undefined }
          : this.batches.get(reference);
        if (opening) this.batches.set(reference, batch);
        else this.batches.delete(reference);
        // The answer to a labeled request is complete when the batch that carried its label ends.
        const request = batch?.label !== undefined ? this.requests.get(batch.label) : undefined;
        if (request && !opening && batch.answers) {
          this.requests.delete(batch.label);
          this.finishRequest(request);
        }
        if (request) return;
        this.emit('batch', { reference, type: batch?.type, open: opening, target: batch?.target ?? null });
        return;
      }
      default:
        break;
    }
    const batch = message.tags.batch === undefined ? undefined : this.batches.get(message.tags.batch);
    // A line answering a labeled request: in its batch, or alone with its label.
    const label = batch?.label ?? message.tags.label;
    const request = label !== undefined ? this.requests.get(label) : undefined;
    if (request) {
      request.lines.push(message);
      if (batch === undefined) {
        this.requests.delete(label);
        this.finishRequest(request);
      }
      return;
    }
    const inHistory = batch?.type === 'chathistory';
    this.emit('message', { message, inHistory, batchTarget: inHistory ? batch.target : null });
  }

  /** The next nick to try when ours is taken or refused: nick_, nick__, then nick and random digits, within NICKLEN. */
  alternativeNick() {
    this.nickAttempt += 1;
    const base = this.login.nick.replace(/[^A-Za-z0-9_\-\[\]\\^{}|`]/g, '') || 'webuser';
    const suffix = this.nickAttempt <= 2 ? '_'.repeat(this.nickAttempt) : String(Math.floor(Math.random() * 10000));
    return base.slice(0, Math.max(1, this.nickLength - suffix.length)) + suffix;
  }

  capability(p) {
    const sub = p[1];
    if (sub === 'LS') {
      const more = p[2] === '*';
      for (const entry of (more ? p[3] : p[2]).split(' ')) if (entry) this.offered.add(entry.split('=')[0]);
      if (more) return;
      const wanted = WANTED_CAPS.filter((cap) => this.offered.has(cap) && (cap !== 'sasl' || this.login.password));
      if (wanted.length) this.send('CAP', 'REQ', wanted.join(' '));
      else this.send('CAP', 'END');
    } else if (sub === 'ACK') {
      for (const cap of (p[2] ?? '').split(' ')) {
        if (cap.startsWith('-')) this.caps.delete(cap.slice(1));
        else if (cap) this.caps.add(cap);
      }
      if (this.registered) return;
      if (this.caps.has('sasl') && this.login.password) this.send('AUTHENTICATE', 'PLAIN');
      else this.send('CAP', 'END');
    } else if (sub === 'NAK') {
      if (!this.registered) this.send('CAP', 'END');
    } else if (sub === 'NEW') {
      // cap-notify: newly offered capabilities we use are asked for.
      const wanted = (p[2] ?? '').split(' ').map((entry) => entry.split('=')[0])
        .filter((cap) => WANTED_CAPS.includes(cap) && cap !== 'sasl' && !this.caps.has(cap));
      if (wanted.length) this.send('CAP', 'REQ', wanted.join(' '));
    } else if (sub === 'DEL') {
      for (const entry of (p[2] ?? '').split(' ')) this.caps.delete(entry.split('=')[0]);
    }
  }
}
