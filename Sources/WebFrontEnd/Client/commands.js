// What a typed line means: a chat line for the buffer, or a `/command`. Pure: returns the IRC messages to send and
// what to do locally (tested with node).

/** The commands the client knows, for its help line. */
export const HELP = '/join #room [key], /part [reason], /me action, /msg nick text, /query nick, /nick new, /topic text, /away [text], /quote RAW LINE, /help';

/**
 * `input` typed in `buffer` ({ name, kind }): { send: [messages], select?: name, local?: text }. Text that starts
 * with `//` is sent as a chat line beginning with `/`.
 */
export function interpret(input, buffer) {
  const text = input.replace(/[\r\n]+/g, ' ');
  if (!text.trim()) return { send: [] };
  const target = buffer.kind === 'server' ? null : buffer.name;
  if (!text.startsWith('/') || text.startsWith('//')) {
    if (!target) return { send: [], local: 'Pick a room or a conversation first (or type /join #room).' };
    return { send: [{ command: 'PRIVMSG', params: [target, text.startsWith('//') ? text.slice(1) : text] }] };
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
      return { send: [{ command: 'PRIVMSG', params: [target, `\x01ACTION ${rest}\x01`] }] };
    case 'msg':
      if (!words[0] || words.length < 2 || words[0].startsWith(':')) return { send: [], local: 'Usage: /msg nick text' };
      return { send: [{ command: 'PRIVMSG', params: [words[0], rest.replace(/^\S+ +/, '')] }], select: words[0] };
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
