// What a typed line means: a chat line for the buffer, or a `/command`. Pure: returns the IRC messages to send and
// what to do locally (tested with node).

/** The commands the client knows, for its help line. */
export const HELP = '/join #room [key], /part [reason], /me action, /msg nick text, /query nick, /nick new, /topic text, /away [text], /quote RAW LINE, /help';

/** Most lines one paste sends: the server holds 64 lines of a client that types faster than it reads (and more would
 * be cut off), so a longer paste is left in the input to be shortened or shared another way. */
export const MAXIMUM_PASTE = 40;

const encoder = new TextEncoder();

function bytes(text) {
  return encoder.encode(text).length;
}

/**
 * The longest text one PRIVMSG to `target` may carry, in UTF-8 bytes: a line is 512 bytes with its CR LF, and when
 * the server passes it on it puts `:nick!user@host ` before it (a user name is at most 10 bytes, a host at most 64).
 */
export function textBudget(target, nick = '') {
  return 512 - 2 - bytes(`PRIVMSG ${target} :`) - (1 + bytes(nick) + 1 + 10 + 1 + 64 + 1);
}

/**
 * `text` in pieces of at most `budget` UTF-8 bytes, none cut inside a character, each ended at a space where one is
 * in its last fifth (the space is dropped); one piece when it fits.
 */
export function splitText(text, budget) {
  const pieces = [];
  let piece = [];
  let size = 0;
  for (const character of text) {
    const length = bytes(character);
    if (size + length > budget && piece.length > 0) {
      let cut = piece.length;
      for (let index = piece.length - 1, kept = size; index > 0 && kept > budget * 0.8; index -= 1) {
        kept -= bytes(piece[index]);
        if (piece[index] === ' ') {
          cut = index;
          break;
        }
      }
      pieces.push(piece.slice(0, cut).join(''));
      piece = piece.slice(cut < piece.length && piece[cut] === ' ' ? cut + 1 : cut);
      size = piece.reduce((total, c) => total + bytes(c), 0);
    }
    piece.push(character);
    size += length;
  }
  if (piece.length > 0 || pieces.length === 0) pieces.push(piece.join(''));
  return pieces;
}

/** PRIVMSGs carrying `text` to `target`, split to fit (an action's pieces each wrapped as one). */
function chat(target, text, nick, { action = false } = {}) {
  const wrapper = action ? bytes('\x01ACTION \x01') : 0;
  return splitText(text, textBudget(target, nick) - wrapper).map((piece) => ({
    command: 'PRIVMSG',
    params: [target, action ? `\x01ACTION ${piece}\x01` : piece],
  }));
}

/**
 * `input` typed in `buffer` ({ name, kind }) by `nick`: { send: [messages], select?: name, local?: text, keep?: true }.
 * Text that starts with `//` is sent as a chat line beginning with `/`. A long line is sent in pieces that fit IRC's
 * 512 bytes; a paste of several lines is sent line by line (`keep`: too long to send, left in the input).
 */
export function interpret(input, buffer, nick = '') {
  const target = buffer.kind === 'server' ? null : buffer.name;
  const lines = input.split(/\r\n|\r|\n/).filter((line) => line.trim());
  if (lines.length > 1 && (!lines[0].startsWith('/') || lines[0].startsWith('//'))) {
    if (!target) return { send: [], keep: true, local: 'Pick a room or a conversation first (or type /join #room).' };
    if (lines.length > MAXIMUM_PASTE) {
      return { send: [], keep: true, local: `That paste is ${lines.length} lines; at most ${MAXIMUM_PASTE} go at once. Shorten it, or share it as a link.` };
    }
    return { send: lines.flatMap((line) => chat(target, line.startsWith('//') ? line.slice(1) : line, nick)) };
  }
  const text = input.replace(/[\r\n]+/g, ' ');
  if (!text.trim()) return { send: [] };
  if (!text.startsWith('/') || text.startsWith('//')) {
    if (!target) return { send: [], local: 'Pick a room or a conversation first (or type /join #room).' };
    return { send: chat(target, text.startsWith('//') ? text.slice(1) : text, nick) };
  }
  const [word, ...words] = text.slice(1).split(/ +/);
  const rest = text.slice(1).replace(/^\S+ */, '');
  switch (word.toLowerCase()) {
    case 'join':
    case 'j':
      if (!words[0]) return { send: [], local: 'Usage: /join #room [key]' };
      return { send: [{ command: 'JOIN', params: words.slice(0, 2) }], select: words[0] };
    case 'part':
    case 'leave':
      if (!target || buffer.kind !== 'channel') return { send: [], local: '/part leaves the room you are in.' };
      return { send: [{ command: 'PART', params: rest ? [target, rest] : [target] }] };
    case 'me':
      if (!target) return { send: [], local: '/me needs a room or a conversation.' };
      return { send: chat(target, rest, nick, { action: true }) };
    case 'msg':
      if (!words[0] || words.length < 2 || words[0].startsWith(':')) return { send: [], local: 'Usage: /msg nick text' };
      return { send: chat(words[0], rest.replace(/^\S+ +/, ''), nick), select: words[0] };
    case 'query':
      if (!words[0]) return { send: [], local: 'Usage: /query nick' };
      return { send: [], select: words[0], open: words[0] };
    case 'nick':
      if (!words[0]) return { send: [], local: 'Usage: /nick new' };
      return { send: [{ command: 'NICK', params: [words[0]] }] };
    case 'topic':
      if (!target || buffer.kind !== 'channel') return { send: [], local: '/topic works in a room.' };
      return { send: [{ command: 'TOPIC', params: rest ? [target, rest] : [target] }] };
    case 'away':
      return { send: [{ command: 'AWAY', params: rest ? [rest] : [] }] };
    case 'quote':
    case 'raw':
      if (!rest) return { send: [], local: 'Usage: /quote RAW IRC LINE' };
      return { send: [], raw: rest };
    case 'help':
      return { send: [], local: HELP };
    default:
      // Any other command goes to the server as typed (its replies show in the buffer you are in).
      return { send: [], raw: `${word.toUpperCase()}${rest ? ' ' + rest : ''}` };
  }
}

/**
 * Tab completion of a nick: the word before `caret` in `text` completed to the first of `nicks` (in the order given:
 * the most recent speakers first) that starts with it, case-insensitively; at the start of the line a colon follows.
 * `cycle` (what the previous Tab returned, while nothing else was typed) goes on to the next match. Returns
 * { text, caret, cycle }, or null when nothing matches.
 */
export function complete(text, caret, nicks, cycle = null) {
  let head, tail, matches, index;
  if (cycle) {
    ({ head, tail, matches } = cycle);
    index = (cycle.index + 1) % matches.length;
  } else {
    const before = text.slice(0, caret);
    const word = before.match(/\S*$/)[0];
    if (!word) return null;
    head = before.slice(0, before.length - word.length);
    tail = text.slice(caret);
    matches = nicks.filter((nick) => nick.toLowerCase().startsWith(word.toLowerCase()));
    if (matches.length === 0) return null;
    index = 0;
  }
  const inserted = matches[index] + (head.length === 0 ? ': ' : ' ');
  return { text: head + inserted + tail, caret: head.length + inserted.length, cycle: { head, tail, matches, index } };
}

/** What was sent, for Up and Down: the newest last, at most `limit`, no line twice in a row. */
export class InputHistory {
  constructor(limit = 100) {
    this.limit = limit;
    this.entries = [];
    this.position = 0;
    this.draft = '';
  }

  add(text) {
    if (text.trim() && this.entries[this.entries.length - 1] !== text) this.entries.push(text);
    if (this.entries.length > this.limit) this.entries.shift();
    this.position = this.entries.length;
    this.draft = '';
  }

  /** The entry before (`-1`) or after (`+1`) the one shown; `current` is kept as the draft when leaving it. */
  move(step, current) {
    if (this.position === this.entries.length) this.draft = current;
    const next = Math.min(Math.max(this.position + step, 0), this.entries.length);
    if (next === this.position) return null;
    this.position = next;
    return next === this.entries.length ? this.draft : this.entries[next];
  }
}

/** A service's answer lines (its notices) among the messages of a labeled answer, without indentation. */
export function serviceLines(messages, service) {
  return messages
    .filter((message) => ['NOTICE', 'PRIVMSG'].includes(message.command) && message.source?.nick?.toLowerCase() === service.toLowerCase())
    .map((message) => (message.params[1] ?? '').trim())
    .filter(Boolean);
}

/** What the browser keeps between visits (localStorage, never a password or a room key): the nick and account last
 * used, and the public rooms that were joined. Anything unreadable is nothing. */
export const Session = {
  key: 'pearirc.session',

  load(storage) {
    try {
      const value = JSON.parse(storage.getItem(this.key) ?? '{}');
      const text = (v) => (typeof v === 'string' ? v.slice(0, 64) : '');
      const rooms = Array.isArray(value.rooms)
        ? value.rooms.filter((room) => typeof room === 'string' && /^[#&][^\s,\x07]{1,49}$/.test(room)).slice(0, 100)
        : [];
      return { nick: text(value.nick), account: text(value.account), rooms };
    } catch {
      return { nick: '', account: '', rooms: [] };
    }
  },

  save(storage, { nick = '', account = '', rooms = [] }) {
    try {
      storage.setItem(this.key, JSON.stringify({ nick, account, rooms }));
    } catch {
      // Storage full or refused (private browsing): nothing is remembered, nothing breaks.
    }
  },
};

/** The targets a `CHATHISTORY TARGETS` answer names (its `CHATHISTORY TARGETS <target> <time>` lines), in order. */
export function chathistoryTargets(messages) {
  return messages
    .filter((message) => message.command === 'CHATHISTORY' && message.params[0] === 'TARGETS' && message.params[1])
    .map((message) => message.params[1]);
}
