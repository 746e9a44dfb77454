// What the client knows: its rooms and conversations (buffers), who is in them, their lines, unread counts and
// mentions. Fed parsed IRC messages (`apply`); pure, no DOM, no network (tested with node). The view reads it.

import { actionText, fold, stripFormatting } from './irc.js';

export const SERVER = '*server*';

/** Most lines a buffer keeps in memory; older ones are asked for again (CHATHISTORY) when scrolled back to. */
export const MAXIMUM_LINES = 2000;

/** How long an `active` typing notice shows without another (the specification's six seconds). */
export const TYPING_SHOWN = 6000;

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
    typing: new Map(), // folded nick -> { nick, until }: who is typing here (IRCv3 +typing), until when
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
    // Channel modes that take a parameter when set, and those that take one either way (005 CHANMODES).
    this.modesWithParameterWhenSet = new Set(['l']);
    this.modesWithParameter = new Set(['b', 'k', 'e', 'I']);
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
      // Only what is read now is memory's to bound: older lines asked for are kept (the reader scrolled to them).
      if (buffer.lines.length > MAXIMUM_LINES) {
        for (const dropped of buffer.lines.splice(0, buffer.lines.length - MAXIMUM_LINES)) if (dropped.id) this.seen.delete(dropped.id);
        buffer.complete = false;
      }
    }
    if ((!history || line.unread) && !this.isActive(buffer) && line.kind !== 'event') {
      buffer.unread += 1;
      if (line.mention) buffer.mentions += 1;
    }
    return true;
  }

  /** The msgid of a buffer's oldest line, for CHATHISTORY BEFORE. */
  oldestID(buffer) {
    return buffer.lines.find((line) => line.id)?.id ?? null;
  }

  /** The server time of a buffer's newest line from the server, for catching up after a reconnect (CHATHISTORY
   * AFTER); never a local note's, which carries this browser's clock. */
  newestTime(buffer) {
    for (let i = buffer.lines.length - 1; i >= 0; i--) if (buffer.lines[i].serverTime) return buffer.lines[i].time;
    return null;
  }

  /** A note for the reader (an error, a command's answer) in the buffer they are reading. */
  note(text, kind = 'error') {
    this.addLine(this.buffers.get(this.active) ?? this.buffer(SERVER), { kind, time: new Date(), text });
  }

  /**
   * Applies one message from the server. `inBatch`: it is history (a chathistory batch); `batchTarget`: the buffer the
   * history was asked for (a private line in it files there, whatever nicks it was sent under); `catchingUp`: history
   * of what was missed (it counts as unread). Returns what changed.
   */
  apply(message, { inBatch = false, batchTarget = null, catchingUp = false, now = new Date() } = {}) {
    const nick = message.source?.nick ?? '';
    const stamped = message.tags.time ? new Date(message.tags.time) : null;
    const serverTime = stamped !== null && !Number.isNaN(stamped.getTime());
    const time = serverTime ? stamped : now;
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
          const modes = /^CHANMODES=([^,]*),([^,]*),([^,]*)/.exec(token);
          if (modes) {
            this.modesWithParameter = new Set([...modes[1], ...modes[2]]);
            this.modesWithParameterWhenSet = new Set([...modes[3]]);
          }
        }
        return {};
      case 'NICK': {
        const to = p[0];
        const mine = this.isMe(nick);
        if (mine) {
          this.nick = to;
          this.addLine(this.buffer(SERVER), { kind: 'event', time, text: `You are now known as ${to}` });
        }
        // A conversation follows the person to their new nick (merged if one was open under it already).
        const query = this.buffers.get(fold(nick));
        if (!mine && query?.kind === 'query' && fold(nick) !== fold(to)) {
          const existing = this.buffers.get(fold(to));
          this.buffers.delete(fold(nick));
          if (existing) existing.lines = [...query.lines, ...existing.lines].sort((a, b) => a.time - b.time);
          else this.buffers.set(fold(to), { ...query, name: to });
          if (this.active === fold(nick)) this.active = fold(to);
        }
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
        if (this.isMe(who)) {
          buffer.joined = false;
          buffer.members.clear();
        }
        const reason = message.command === 'KICK' ? p[2] : p[1];
        const verb = message.command === 'KICK' ? `was removed by ${nick}` : 'left';
        this.addLine(buffer, { kind: 'event', time, text: `${who} ${verb}${reason ? ` (${reason})` : ''}` });
        return { buffer: buffer.name, members: true, left: this.isMe(who) || undefined };
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
          if (!symbol) {
            // Not a member's prefix: skip its parameter, if it has one.
            if (this.modesWithParameter.has(flag) || (adding && this.modesWithParameterWhenSet.has(flag))) argument++;
            continue;
          }
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
        const action = actionText(raw);
        if (raw.startsWith('\x01') && action === null) return {}; // other CTCP: not shown, no buffer made for it
        // A private message is filed under the other person (our own, echoed or from another client, under its
        // target); history asked for a conversation stays in it, whatever nicks its lines were sent under.
        const name = isChannel ? target : inBatch && batchTarget ? batchTarget : this.isMe(nick) ? target : nick;
        const buffer = this.buffer(name, isChannel ? 'channel' : 'query');
        const text = stripFormatting(action ?? raw);
        // The text as written, formatting included (bold, colours …), for the view; `text` is what is read and searched.
        const rich = action ?? raw;
        const mention = !this.isMe(nick) && this.nick !== '' && (!isChannel || mentions(text, this.nick));
        const kind = action !== null ? 'action' : message.command === 'NOTICE' ? 'notice' : 'message';
        const line = { kind, time, serverTime, id, nick, text, rich, mention, own: this.isMe(nick), unread: catchingUp };
        // A line sent is the end of its author's typing.
        if (!inBatch) buffer.typing.delete(fold(nick));
        const added = this.addLine(buffer, line, { history: inBatch });
        return added ? { buffer: buffer.name, line: true, mention } : {};
      }
      case 'TAGMSG': {
        // Typing notices (IRCv3 `+typing`): active shows for six seconds; paused and done end it.
        const state = message.tags['+typing'];
        const target = p[0] ?? '';
        if (state === undefined || !nick || this.isMe(nick) || inBatch) return {};
        const isChannel = target.startsWith('#') || target.startsWith('&');
        const buffer = this.find(isChannel ? target : nick);
        if (!buffer) return {};
        if (state === 'active') buffer.typing.set(fold(nick), { nick, until: now.getTime() + TYPING_SHOWN });
        else buffer.typing.delete(fold(nick));
        return { typing: buffer.name };
      }
      case 'FAIL':
      case 'WARN':
        // Standard replies: shown where the reader is (FAIL CHATHISTORY also ends a history request: `app.js`).
        this.note(`${message.command} ${p.slice(0, -1).join(' ')}: ${p.at(-1) ?? ''}`);
        return { failed: message.command === 'FAIL' ? p[0] : null, target: p[2] ?? null };
      case 'ERROR':
        this.addLine(this.buffer(SERVER), { kind: 'error', time, text: p[0] ?? 'ERROR' });
        return { buffer: SERVER };
      default:
        if (!/^\d{3}$/.test(message.command)) return {};
        // Errors show where the reader is; other replies (WHOIS, MOTD, away, …) in the gateway's buffer.
        if (message.command >= '400') {
          this.note(p.slice(1).join(' '));
          return { error: p.slice(1).join(' ') };
        }
        if (!['002', '003', '004', '005', '251', '252', '253', '254', '255', '265', '266', '366', '333'].includes(message.command)) {
          this.addLine(this.buffer(SERVER), { kind: 'notice', time, nick: 'gateway', text: p.slice(1).join(' ') });
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

/** Who is typing in `buffer` at `now` (in milliseconds), sorted; expired notices are dropped. */
export function typingIn(buffer, now = Date.now()) {
  for (const [key, entry] of buffer.typing) if (entry.until <= now) buffer.typing.delete(key);
  return [...buffer.typing.values()].map((entry) => entry.nick).sort((a, b) => a.localeCompare(b));
}
