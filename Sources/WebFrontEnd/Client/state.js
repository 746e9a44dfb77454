// What the client knows: its rooms and conversations (buffers), who is in them, their lines, unread counts and
// mentions. Fed parsed IRC messages (`apply`); pure, no DOM, no network (tested with node). The view reads it.

import { actionText, fold, stripFormatting } from './irc.js';

export const SERVER = '*server*';

/** Most lines a buffer keeps in memory; older ones are asked for again (CHATHISTORY) when scrolled back to. */
export const MAXIMUM_LINES = 2000;

function newBuffer(name, kind) {
  return {
    name,
    kind, // 'server' | 'channel' | 'query'
    lines: [],
    members: new Map(), // folded nick -> { nick, prefix, away }
    topic: '',
    unread: 0,
    mentions: 0,
    joined: kind !== 'channel',
    // The oldest line's msgid, to ask for what came before it; `complete` once history has nothing older.
    complete: false,
  };
}

export class ChatState {
  constructor() {
    this.nick = '';
    this.buffers = new Map([[SERVER, newBuffer('server', 'server')]]);
    this.active = SERVER;
    this.seen = new Set(); // msgids shown, so a replay or an echo never shows a line twice
    this.prefixes = { o: '@', v: '+' };
  }

  buffer(name, kind = name.startsWith('#') || name.startsWith('&') ? 'channel' : 'query') {
    const key = name === SERVER ? SERVER : fold(name);
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = newBuffer(name, kind);
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  find(name) {
    return this.buffers.get(name === SERVER ? SERVER : fold(name));
  }

  select(name) {
    const buffer = this.find(name);
    if (!buffer) return;
    this.active = name === SERVER ? SERVER : fold(name);
    buffer.unread = 0;
    buffer.mentions = 0;
  }

  isActive(buffer) {
    return this.buffers.get(this.active) === buffer;
  }

  isMe(nick) {
    return this.nick !== '' && fold(nick) === fold(this.nick);
  }

  /** Adds a line to a buffer; `history` lines go before the newer ones and count as read. */
  addLine(buffer, line, { history = false } = {}) {
    if (line.id) {
      if (this.seen.has(line.id)) return false;
      this.seen.add(line.id);
    }
    if (history) {
      const at = buffer.lines.findIndex((other) => other.time > line.time);
      if (at < 0) buffer.lines.push(line);
      else buffer.lines.splice(at, 0, line);
    } else {
      buffer.lines.push(line);
      if (!this.isActive(buffer) && line.kind !== 'event') {
        buffer.unread += 1;
        if (line.mention) buffer.mentions += 1;
      }
    }
    if (buffer.lines.length > MAXIMUM_LINES) {
      buffer.lines.splice(0, buffer.lines.length - MAXIMUM_LINES);
      buffer.complete = false;
    }
    return true;
  }

  /** The msgid of a buffer's oldest line, for CHATHISTORY BEFORE. */
  oldestID(buffer) {
    return buffer.lines.find((line) => line.id)?.id ?? null;
  }

  /** The time of a buffer's newest line, for catching up after a reconnect (CHATHISTORY AFTER). */
  newestTime(buffer) {
    for (let i = buffer.lines.length - 1; i >= 0; i--) if (buffer.lines[i].kind !== 'event') return buffer.lines[i].time;
    return null;
  }

  /** Applies one message from the server; `inBatch`: it is history (a chathistory batch). Returns what changed. */
  apply(message, { inBatch = false, now = new Date() } = {}) {
    const nick = message.source?.nick ?? '';
    const time = message.tags.time ? new Date(message.tags.time) : now;
    const id = message.tags.msgid ?? null;
    const p = message.params;
    switch (message.command) {
      case '001':
        this.nick = p[0];
        return { registered: true };
      case '005':
        for (const token of p.slice(1, -1)) {
          const match = /^PREFIX=\((\w+)\)(\S+)$/.exec(token);
          if (match) this.prefixes = Object.fromEntries([...match[1]].map((mode, i) => [mode, match[2][i]]));
        }
        return {};
      case 'NICK': {
        const to = p[0];
        if (this.isMe(nick)) this.nick = to;
        for (const buffer of this.buffers.values()) {
          const member = buffer.members.get(fold(nick));
          if (!member) continue;
          buffer.members.delete(fold(nick));
          buffer.members.set(fold(to), { ...member, nick: to });
          this.addLine(buffer, { kind: 'event', time, text: `${nick} is now known as ${to}` });
        }
        return { members: true };
      }
      case 'JOIN': {
        const buffer = this.buffer(p[0], 'channel');
        if (this.isMe(nick)) {
          buffer.joined = true;
          buffer.members.clear();
          buffer.complete = false;
        }
        buffer.members.set(fold(nick), { nick, prefix: '', away: false });
        this.addLine(buffer, { kind: 'event', time, text: `${nick} joined` });
        return { buffer: buffer.name, members: true, joined: this.isMe(nick) };
      }
      case 'PART':
      case 'KICK': {
        const buffer = this.buffer(p[0], 'channel');
        const who = message.command === 'KICK' ? p[1] : nick;
        buffer.members.delete(fold(who));
        if (this.isMe(who)) buffer.joined = false;
        const reason = message.command === 'KICK' ? p[2] : p[1];
        const verb = message.command === 'KICK' ? `was removed by ${nick}` : 'left';
        this.addLine(buffer, { kind: 'event', time, text: `${who} ${verb}${reason ? ` (${reason})` : ''}` });
        return { buffer: buffer.name, members: true };
      }
      case 'QUIT':
        for (const buffer of this.buffers.values()) {
          if (!buffer.members.delete(fold(nick))) continue;
          this.addLine(buffer, { kind: 'event', time, text: `${nick} quit${p[0] ? ` (${p[0]})` : ''}` });
        }
        return { members: true };
      case 'AWAY':
        for (const buffer of this.buffers.values()) {
          const member = buffer.members.get(fold(nick));
          if (member) member.away = p.length > 0;
        }
        return { members: true };
      case '353': {
        const buffer = this.buffer(p[2], 'channel');
        const symbols = Object.values(this.prefixes).join('');
        for (const entry of (p[3] ?? '').split(' ').filter(Boolean)) {
          let at = 0;
          while (at < entry.length && symbols.includes(entry[at])) at++;
          const name = entry.slice(at).split('!')[0];
          buffer.members.set(fold(name), { nick: name, prefix: entry.slice(0, at), away: false });
        }
        return { members: true };
      }
      case '332':
        this.buffer(p[1], 'channel').topic = p[2] ?? '';
        return { topic: true };
      case 'TOPIC': {
        const buffer = this.buffer(p[0], 'channel');
        buffer.topic = p[1] ?? '';
        this.addLine(buffer, { kind: 'event', time, text: `${nick} set the topic: ${buffer.topic}` });
        return { topic: true };
      }
      case 'MODE': {
        if (!p[0].startsWith('#') && !p[0].startsWith('&')) return {};
        const buffer = this.buffer(p[0], 'channel');
        let adding = true;
        let argument = 2;
        for (const flag of p[1] ?? '') {
          if (flag === '+' || flag === '-') {
            adding = flag === '+';
            continue;
          }
          const symbol = this.prefixes[flag];
          if (!symbol) continue;
          const target = buffer.members.get(fold(p[argument++] ?? ''));
          if (!target) continue;
          const held = new Set(target.prefix);
          if (adding) held.add(symbol);
          else held.delete(symbol);
          target.prefix = Object.values(this.prefixes).filter((s) => held.has(s)).join('');
        }
        this.addLine(buffer, { kind: 'event', time, text: `${nick} set mode ${p.slice(1).join(' ')}` });
        return { members: true };
      }
      case 'PRIVMSG':
      case 'NOTICE': {
        const target = p[0];
        const raw = p[1] ?? '';
        const isChannel = target.startsWith('#') || target.startsWith('&');
        // A server notice (no nick source, or before registration) goes to the server buffer.
        if (!isChannel && (!message.source || !message.source.user) && message.command === 'NOTICE') {
          this.addLine(this.buffer(SERVER), { kind: 'notice', time, id, nick: nick || 'server', text: stripFormatting(raw) });
          return { buffer: SERVER };
        }
        // A private message is filed under the other person (our own, echoed or from another client, under its target).
        const name = isChannel ? target : this.isMe(nick) ? target : nick;
        const buffer = this.buffer(name, isChannel ? 'channel' : 'query');
        const action = actionText(raw);
        if (raw.startsWith('\x01') && action === null) return {}; // other CTCP: not shown
        const text = stripFormatting(action ?? raw);
        const mention = !this.isMe(nick) && this.nick !== '' && (!isChannel || mentions(text, this.nick));
        const kind = action !== null ? 'action' : message.command === 'NOTICE' ? 'notice' : 'message';
        const added = this.addLine(buffer, { kind, time, id, nick, text, mention, own: this.isMe(nick) }, { history: inBatch });
        return added ? { buffer: buffer.name, line: true, mention } : {};
      }
      default:
        if (/^\d{3}$/.test(message.command) && message.command >= '400') {
          this.addLine(this.buffer(SERVER), { kind: 'error', time, text: p.slice(1).join(' ') });
          return { buffer: SERVER, error: p.slice(1).join(' ') };
        }
        return {};
    }
  }
}

/** Whether `text` names `nick` as a word. */
export function mentions(text, nick) {
  const escaped = nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, 'i').test(text);
}
