// IRC messages as text and back (RFC 1459 framing with IRCv3 message tags), and the small rules every part of the
// client shares: case folding, nick colours, safe links. Pure functions: no DOM, no network (tested with node).

const TAG_ESCAPES = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

function unescapeTagValue(value) {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      const next = value[++i];
      out += TAG_ESCAPES[next] ?? next;
    } else if (c !== '\\') {
      out += c;
    }
  }
  return out;
}

function escapeTagValue(value) {
  return value.replace(/\\/g, '\\\\').replace(/;/g, '\\:').replace(/ /g, '\\s').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** Parses one line (without CR LF) into { tags, source, command, params }; null for an empty line. */
export function parse(line) {
  let rest = line.replace(/[\r\n]+$/, '');
  const message = { tags: {}, source: null, command: '', params: [] };
  if (rest.startsWith('@')) {
    const end = rest.indexOf(' ');
    if (end < 0) return null;
    for (const part of rest.slice(1, end).split(';')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq < 0) message.tags[part] = '';
      else message.tags[part.slice(0, eq)] = unescapeTagValue(part.slice(eq + 1));
    }
    rest = rest.slice(end + 1).replace(/^ +/, '');
  }
  if (rest.startsWith(':')) {
    const end = rest.indexOf(' ');
    if (end < 0) return null;
    message.source = parseSource(rest.slice(1, end));
    rest = rest.slice(end + 1).replace(/^ +/, '');
  }
  const space = rest.indexOf(' ');
  message.command = (space < 0 ? rest : rest.slice(0, space)).toUpperCase();
  if (!message.command) return null;
  rest = space < 0 ? '' : rest.slice(space + 1);
  while (rest.length > 0) {
    if (rest.startsWith(':')) {
      message.params.push(rest.slice(1));
      break;
    }
    const next = rest.indexOf(' ');
    if (next < 0) {
      message.params.push(rest);
      break;
    }
    if (next > 0) message.params.push(rest.slice(0, next));
    rest = rest.slice(next + 1);
  }
  return message;
}

/** `nick!user@host` (or a server name) as { nick, user, host }. */
export function parseSource(text) {
  const bang = text.indexOf('!');
  const at = text.indexOf('@');
  if (bang < 0 && at < 0) return { nick: text, user: null, host: null };
  const nickEnd = bang >= 0 ? bang : at;
  return {
    nick: text.slice(0, nickEnd),
    user: bang >= 0 ? text.slice(bang + 1, at >= 0 ? at : undefined) : null,
    host: at >= 0 ? text.slice(at + 1) : null,
  };
}

/**
 * One line to send: the last parameter gets a colon when it needs one. Throws on CR, LF or NUL anywhere, and on a
 * middle parameter that would not stay one (empty, with a space, or starting with a colon).
 */
export function serialize({ tags = {}, command, params = [] }) {
  const parts = [];
  const tagText = Object.entries(tags)
    .map(([key, value]) => (value === '' || value === true ? key : `${key}=${escapeTagValue(String(value))}`))
    .join(';');
  if (tagText) parts.push('@' + tagText);
  parts.push(command);
  params.forEach((param, index) => {
    if (/[\r\n\0]/.test(param)) throw new Error('a parameter cannot hold CR, LF or NUL');
    const last = index === params.length - 1;
    const needsColon = param === '' || param.includes(' ') || param.startsWith(':');
    if (needsColon && !last) throw new Error(`"${param}" cannot be a middle parameter`);
    parts.push(needsColon ? ':' + param : param);
  });
  return parts.join(' ');
}

/** RFC 1459 case folding, as the gateway announces (CASEMAPPING=rfc1459): ASCII letters and []\\~ only. */
export function fold(text) {
  return text.replace(/[A-Z\[\]\\~]/g, (c) => ({ '[': '{', ']': '}', '\\': '|', '~': '^' })[c] ?? c.toLowerCase());
}

/** A stable hue (0-359) for a nick, so a person keeps one colour everywhere. */
export function nickHue(nick) {
  let hash = 0;
  for (const character of fold(nick)) hash = (hash * 31 + character.codePointAt(0)) >>> 0;
  return hash % 360;
}

/**
 * Splits text into plain parts and links. Only http and https links are links (never javascript: or data:), and
 * punctuation that usually ends a sentence is left out of them.
 */
export function linkify(text) {
  const parts = [];
  const pattern = /\bhttps?:\/\/[^\s<>"']+/gi;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    let url = match[0];
    // Sentence punctuation after a link is not part of it; a closing bracket is, when the link opened one.
    for (;;) {
      const trimmed = url.replace(/[.,;:!?]+$/, '');
      const open = (trimmed.match(/\(/g) ?? []).length, close = (trimmed.match(/\)/g) ?? []).length;
      const next = /[)\]]$/.test(trimmed) && close > open ? trimmed.slice(0, -1) : trimmed;
      if (next === url) break;
      url = next;
    }
    if (url.length <= 'https://'.length) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ url });
    last = match.index + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** CTCP ACTION (`/me`): the action's text, or null for any other line. */
export function actionText(text) {
  const match = /^\x01ACTION(?: ([^\x01]*))?\x01?$/.exec(text);
  return match ? match[1] ?? '' : null;
}

/** IRC formatting codes (bold, colours, …) removed: the client shows plain text. */
export function stripFormatting(text) {
  return text.replace(/\x03(\d{1,2}(,\d{1,2})?)?|\x04([0-9a-f]{6}(,[0-9a-f]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/gi, '');
}

/**
 * IRC formatting as runs of text with their style: { text, bold, italic, underline, strike, monospace, fg, bg } (the
 * colours as 0-15 of the common palette; 16-98 and hex colours are dropped, their text kept). Reverse swaps the
 * colours; a reset ends everything. Plain text is one run.
 */
export function formatRuns(text) {
  const runs = [];
  let style = {};
  let current = '';
  const flush = () => {
    if (current) runs.push({ text: current, ...style });
    current = '';
  };
  const toggle = (key) => {
    flush();
    style = { ...style };
    if (style[key]) delete style[key];
    else style[key] = true;
  };
  const colour = (value) => (value === undefined ? undefined : Number(value) <= 15 ? Number(value) : null);
  for (let at = 0; at < text.length; at += 1) {
    const character = text[at];
    switch (character) {
      case '\x02': toggle('bold'); break;
      case '\x1d': toggle('italic'); break;
      case '\x1f': toggle('underline'); break;
      case '\x1e': toggle('strike'); break;
      case '\x11': toggle('monospace'); break;
      case '\x0f':
        flush();
        style = {};
        break;
      case '\x16': {
        flush();
        style = { ...style };
        [style.fg, style.bg] = [style.bg ?? 0, style.fg ?? 1];
        break;
      }
      case '\x03': {
        flush();
        style = { ...style };
        const match = /^(\d{1,2})(?:,(\d{1,2}))?/.exec(text.slice(at + 1));
        if (!match) {
          delete style.fg;
          delete style.bg;
          break;
        }
        at += match[0].length;
        const fg = colour(match[1]), bg = colour(match[2]);
        if (fg === null) delete style.fg; else style.fg = fg;
        if (bg === null) delete style.bg; else if (bg !== undefined) style.bg = bg;
        break;
      }
      case '\x04': {
        // Hex colours: read past, not shown (the palette keeps text readable in both themes).
        flush();
        const match = /^[0-9a-f]{6}(?:,[0-9a-f]{6})?/i.exec(text.slice(at + 1));
        if (match) at += match[0].length;
        break;
      }
      default:
        current += character;
    }
  }
  flush();
  for (const run of runs) {
    if (run.fg === undefined) delete run.fg;
    if (run.bg === undefined) delete run.bg;
  }
  return runs.length ? runs : [{ text: '' }];
}
