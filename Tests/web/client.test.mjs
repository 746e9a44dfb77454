// The browser client's pure modules (Sources/WebFrontEnd/Client): IRC parsing and framing, the chat state, and typed
// commands. Run with `node --test Tests/web` (make test does, where node is installed).

import assert from 'node:assert/strict';
import test from 'node:test';

import { InputHistory, MAXIMUM_PASTE, Session, complete, interpret, serviceLines, splitText, textBudget } from '../../Sources/WebFrontEnd/Client/commands.js';
import { actionText, fold, formatRuns, linkify, nickHue, parse, serialize, stripFormatting } from '../../Sources/WebFrontEnd/Client/irc.js';
import { ChatState, MAXIMUM_LINES, SERVER, TYPING_SHOWN, mentions, typingIn } from '../../Sources/WebFrontEnd/Client/state.js';

test('lines parse with tags, source, and a trailing parameter', () => {
  const message = parse('@time=2026-12-07T10:00:00.000Z;msgid=a\\sb;+typing :alice!~a@host PRIVMSG #pear :hello there');
  assert.deepEqual(message.tags, { time: '2026-12-07T10:00:00.000Z', msgid: 'a b', '+typing': '' });
  assert.deepEqual(message.source, { nick: 'alice', user: '~a', host: 'host' });
  assert.equal(message.command, 'PRIVMSG');
  assert.deepEqual(message.params, ['#pear', 'hello there']);
  assert.deepEqual(parse(':server 001 me :Welcome').params, ['me', 'Welcome']);
  assert.deepEqual(parse('PING token').params, ['token']);
  assert.equal(parse(''), null);
  assert.equal(parse('@only-tags'), null);
});

test('lines serialize with a colon only where needed, and refuse line breaks', () => {
  assert.equal(serialize({ command: 'PRIVMSG', params: ['#pear', 'hi'] }), 'PRIVMSG #pear hi');
  assert.equal(serialize({ command: 'PRIVMSG', params: ['#pear', 'hi there'] }), 'PRIVMSG #pear :hi there');
  assert.equal(serialize({ command: 'PRIVMSG', params: ['#pear', ':)'] }), 'PRIVMSG #pear ::)');
  assert.equal(serialize({ tags: { '+reply': 'a;b c' }, command: 'TAGMSG', params: ['#pear'] }), '@+reply=a\\:b\\sc TAGMSG #pear');
  assert.throws(() => serialize({ command: 'PRIVMSG', params: ['#pear', 'two\r\nQUIT'] }));
});

test('middle parameters that would not stay one are refused', () => {
  assert.throws(() => serialize({ command: 'PRIVMSG', params: [':x', 'hello'] }));
  assert.throws(() => serialize({ command: 'USER', params: ['a b', '0', '*', 'real'] }));
  assert.throws(() => serialize({ command: 'JOIN', params: ['', 'key'] }));
});

test('links are http(s) only, without trailing punctuation', () => {
  assert.deepEqual(linkify('see https://example.org/a?b=1. ok'), [
    { text: 'see ' }, { url: 'https://example.org/a?b=1' }, { text: '. ok' },
  ]);
  assert.deepEqual(linkify('javascript:alert(1) data:text/html,x'), [{ text: 'javascript:alert(1) data:text/html,x' }]);
  assert.deepEqual(linkify('(http://x.test/y)'), [{ text: '(' }, { url: 'http://x.test/y' }, { text: ')' }]);
  assert.deepEqual(linkify('https://en.wikipedia.org/wiki/Foo_(bar).'), [{ url: 'https://en.wikipedia.org/wiki/Foo_(bar)' }, { text: '.' }]);
});

test('folding, nick colours, actions and formatting', () => {
  assert.equal(fold('Alice[]\\~'), 'alice{}|^');
  assert.equal(nickHue('Alice'), nickHue('alice'));
  assert.ok(nickHue('bob') >= 0 && nickHue('bob') < 360);
  assert.equal(actionText('\x01ACTION waves\x01'), 'waves');
  assert.equal(actionText('plain'), null);
  assert.equal(actionText('\x01ACTION\x01'), '', 'an empty action is still an action');
  assert.equal(fold('Café[]'), 'café{}', 'only ASCII letters fold, as the server folds');
  assert.equal(stripFormatting('\x02bold\x02 \x0304,01red\x0f'), 'bold red');
});

function line(text) {
  return parse(text);
}

test('the state follows joins, names, messages, unread counts and mentions', () => {
  const state = new ChatState();
  state.apply(line(':gw 001 me :Welcome'));
  state.apply(line(':gw 005 me PREFIX=(ov)@+ :are supported'));
  assert.equal(state.nick, 'me');
  const joined = state.apply(line(':me!~me@h JOIN #pear'));
  assert.equal(joined.joined, true);
  state.apply(line(':gw 353 me = #pear :@alice +bob me'));
  state.apply(line(':gw 332 me #pear :the topic'));
  const room = state.find('#PEAR');
  assert.deepEqual([...room.members.values()].map((m) => m.prefix + m.nick).sort(), ['+bob', '@alice', 'me']);
  assert.equal(room.topic, 'the topic');
  state.select(SERVER);
  state.apply(line('@msgid=1 :alice!~a@h PRIVMSG #pear :hi all'));
  state.apply(line('@msgid=2 :bob!~b@h PRIVMSG #pear :hey me, look'));
  state.apply(line('@msgid=2 :bob!~b@h PRIVMSG #pear :hey me, look'));
  assert.equal(room.unread, 2, 'a line seen twice (replay, echo) counts once');
  assert.equal(room.mentions, 1);
  state.select('#pear');
  assert.equal(room.unread, 0);
  state.apply(line(':alice!~a@h PRIVMSG me :\x01ACTION waves\x01'));
  const query = state.find('alice');
  assert.equal(query.kind, 'query');
  assert.equal(query.lines.at(-1).kind, 'action');
  assert.equal(query.mentions, 1, 'a private message always mentions you');
  state.apply(line(':me!~me@h PRIVMSG alice :and back'));
  assert.equal(query.lines.at(-1).own, true, 'our own line files under the other person');
  state.apply(line(':gw MODE #pear +o bob'));
  assert.equal(room.members.get('bob').prefix, '@+');
  state.apply(line(':bob!~b@h NICK robert'));
  assert.ok(room.members.has('robert') && !room.members.has('bob'));
  state.apply(line(':alice!~a@h QUIT :bye'));
  assert.ok(!room.members.has('alice'));
  state.apply(line(':me!~me@h PART #pear'));
  assert.equal(room.joined, false);
});

test('review fixes: CTCP, history filing, modes with parameters, parting, renamed conversations, errors', () => {
  const state = new ChatState();
  state.apply(line(':gw 001 me :Welcome'));
  state.apply(line(':gw 005 me PREFIX=(ov)@+ CHANMODES=b,k,l,imnst :are supported'));
  state.apply(line(':a!~a@h PRIVMSG me :\x01VERSION\x01'));
  assert.equal(state.find('a'), undefined, 'a CTCP makes no conversation');
  // History asked for the conversation with bob files there, whatever nick a line was sent under.
  state.apply(line('@msgid=h1;time=2026-12-07T09:00:00.000Z :al!~me@h PRIVMSG bob :earlier me'), { inBatch: true, batchTarget: 'bob' });
  assert.equal(state.find('bob').lines.length, 1);
  assert.equal(state.find('al'), undefined);
  state.apply(line(':me!~me@h JOIN #c'));
  state.apply(line(':gw 353 me = #c :me bob'));
  state.apply(line(':gw MODE #c +bo *!*@spam bob'));
  assert.equal(state.find('#c').members.get('bob').prefix, '@', 'the ban mask is the b mode\'s parameter');
  state.apply(line(':bob!~b@h NICK robert'));
  assert.equal(state.find('bob'), undefined);
  assert.equal(state.find('robert').lines.length, 1, 'the conversation follows the new nick');
  state.apply(line(':me!~me@h PART #c'));
  assert.equal(state.find('#c').members.size, 0, 'a room we left lists nobody');
  state.select('#c');
  state.apply(line(':gw 404 me #c :Cannot send to channel'));
  assert.equal(state.find('#c').lines.at(-1).kind, 'error', 'errors show where the reader is');
  state.apply(line('FAIL CHATHISTORY INVALID_TARGET #c :Messages could not be retrieved'));
  assert.match(state.find('#c').lines.at(-1).text, /FAIL CHATHISTORY/);
  state.note('a local note');
  assert.equal(state.newestTime(state.find('robert')).toISOString(), '2026-12-07T09:00:00.000Z');
  state.apply(line('@time=not-a-time :x!~x@h PRIVMSG #c :bad time'));
  assert.ok(!Number.isNaN(state.find('#c').lines.at(-1).time.getTime()), 'a bad time tag falls back to now');
});

test('history goes before newer lines and stays bounded', () => {
  const state = new ChatState();
  state.apply(line(':gw 001 me :Welcome'));
  state.apply(line('@time=2026-12-07T10:00:05.000Z;msgid=new :a!~a@h PRIVMSG #r :new'));
  state.apply(line('@time=2026-12-07T10:00:01.000Z;msgid=old :a!~a@h PRIVMSG #r :old'), { inBatch: true });
  const room = state.find('#r');
  assert.deepEqual(room.lines.map((l) => l.text), ['old', 'new']);
  assert.equal(state.oldestID(room), 'old');
  for (let i = 0; i < MAXIMUM_LINES + 10; i++) state.addLine(room, { kind: 'message', time: new Date(), id: `m${i}`, nick: 'a', text: String(i) });
  assert.equal(room.lines.length, MAXIMUM_LINES);
  // Lines that fell out can be loaded again when scrolled back to.
  assert.ok(state.addLine(room, { kind: 'message', time: new Date(0), id: 'm0', nick: 'a', text: '0' }, { history: true }));
  assert.equal(room.lines[0].id, 'm0');
  assert.ok(mentions('ping me now', 'me') && !mentions('meme', 'me'));
});

test('typed lines become messages or commands', () => {
  const room = { name: '#pear', kind: 'channel' };
  const server = { name: 'server', kind: 'server' };
  assert.deepEqual(interpret('hello', room).send, [{ command: 'PRIVMSG', params: ['#pear', 'hello'] }]);
  assert.deepEqual(interpret('//not a command', room).send, [{ command: 'PRIVMSG', params: ['#pear', '/not a command'] }]);
  assert.deepEqual(interpret('/me waves', room).send, [{ command: 'PRIVMSG', params: ['#pear', '\x01ACTION waves\x01'] }]);
  assert.deepEqual(interpret('/join #rust key', server), { send: [{ command: 'JOIN', params: ['#rust', 'key'] }], select: '#rust' });
  assert.deepEqual(interpret('/part gone home', room).send, [{ command: 'PART', params: ['#pear', 'gone home'] }]);
  assert.deepEqual(interpret('/msg bob hi there', room).send, [{ command: 'PRIVMSG', params: ['bob', 'hi there'] }]);
  assert.equal(interpret('hello', server).send.length, 0);
  assert.equal(interpret('/whois  bob', room).raw, 'WHOIS bob', 'other commands go to the server as typed');
  assert.deepEqual(interpret('/join  #a  k', server).send, [{ command: 'JOIN', params: ['#a', 'k'] }]);
  assert.match(interpret('/msg :x hello', room).local, /Usage/);
  assert.deepEqual(interpret('two\nlines', room).send.map((m) => m.params[1]), ['two', 'lines'], 'a paste of two lines is two messages');
});

test('long lines are sent in pieces that fit 512 bytes, never cut inside a character', () => {
  const room = { name: '#pear', kind: 'channel' };
  const budget = textBudget('#pear', 'me');
  assert.ok(budget > 300 && budget < 440, `${budget}`);
  const long = 'word '.repeat(200).trim();
  const pieces = interpret(long, room, 'me').send.map((message) => message.params[1]);
  assert.ok(pieces.length > 1);
  assert.equal(pieces.join(' '), long, 'cut at spaces, nothing lost');
  for (const piece of pieces) assert.ok(new TextEncoder().encode(piece).length <= budget);
  const wide = '€'.repeat(400);
  const widePieces = splitText(wide, 100);
  assert.equal(widePieces.join(''), wide);
  for (const piece of widePieces) assert.ok(new TextEncoder().encode(piece).length <= 100 && piece.length === Math.min(33, piece.length));
  const actions = interpret(`/me ${'x'.repeat(1000)}`, room, 'me').send.map((message) => message.params[1]);
  assert.ok(actions.length === 3 && actions.every((text) => text.startsWith('\x01ACTION ') && text.endsWith('\x01')));
  assert.deepEqual(splitText('', 10), ['']);
  assert.deepEqual(splitText('short', 10), ['short']);
});

test('a paste of several lines is sent line by line, and one too long stays to be shortened', () => {
  const room = { name: '#pear', kind: 'channel' };
  const sent = interpret('first\n\nsecond\r\n//third', room, 'me');
  assert.deepEqual(sent.send.map((message) => message.params[1]), ['first', 'second', '/third']);
  const huge = interpret(Array.from({ length: MAXIMUM_PASTE + 1 }, (_, i) => `line ${i}`).join('\n'), room, 'me');
  assert.equal(huge.send.length, 0);
  assert.equal(huge.keep, true);
  assert.match(huge.local, /at most/);
  assert.deepEqual(interpret('/join #a\nmore', { name: '*', kind: 'server' }).send, [{ command: 'JOIN', params: ['#a', 'more'] }],
    'a command is one line, as before');
});

test('tab completes nicks in order and cycles; up and down go through what was sent', () => {
  const first = complete('hi al', 5, ['bob', 'Alice', 'alan']);
  assert.deepEqual([first.text, first.caret], ['hi Alice ', 9]);
  const again = complete(first.text, first.caret, [], first.cycle);
  assert.equal(again.text, 'hi alan ');
  assert.equal(complete(again.text, again.caret, [], again.cycle).text, 'hi Alice ');
  assert.equal(complete('b', 1, ['bob']).text, 'bob: ', 'at the start of the line, a colon');
  assert.equal(complete('x', 1, ['bob']), null);
  assert.equal(complete('', 0, ['bob']), null);
  const history = new InputHistory(2);
  history.add('one');
  history.add('two');
  history.add('two');
  history.add('three');
  assert.equal(history.move(-1, 'draft'), 'three');
  assert.equal(history.move(-1, 'three'), 'two');
  assert.equal(history.move(-1, 'two'), null, 'only the last two are kept');
  assert.equal(history.move(1, 'two'), 'three');
  assert.equal(history.move(1, 'three'), 'draft', 'back to what was being typed');
});

test('a service answer is its notices, trimmed; other lines of the batch (the echo) are not', () => {
  const answer = [
    parse('@batch=l1 :me!~me@h PRIVMSG PearServ peers'),
    parse('@batch=l1 :PearServ!service@gw NOTICE me :2 peer(s):'),
    parse('@batch=l1 :PearServ!service@gw NOTICE me :  identity abc… alice, rooms shared: #pear, direct, 12 ms'),
    parse('@batch=l1 :PearServ!service@gw NOTICE me :'),
  ];
  assert.deepEqual(serviceLines(answer, 'PearServ'), ['2 peer(s):', 'identity abc… alice, rooms shared: #pear, direct, 12 ms']);
});

test('typing notices show for six seconds, end with paused, done or a line, and never for ourselves', () => {
  const state = new ChatState();
  state.apply(parse(':gw 001 me :Welcome'));
  state.apply(parse(':me!~me@h JOIN #pear'));
  const room = state.find('#pear');
  const at = new Date(1_000_000);
  state.apply(parse('@+typing=active :alice!~a@h TAGMSG #pear'), { now: at });
  state.apply(parse('@+typing=active :bob!~b@h TAGMSG #pear'), { now: at });
  state.apply(parse('@+typing=active :me!~me@h TAGMSG #pear'), { now: at });
  assert.deepEqual(typingIn(room, at.getTime() + 1000), ['alice', 'bob']);
  state.apply(parse('@+typing=done :bob!~b@h TAGMSG #pear'), { now: at });
  state.apply(parse(':alice!~a@h PRIVMSG #pear :there'), { now: at });
  assert.deepEqual(typingIn(room, at.getTime() + 1000), []);
  state.apply(parse('@+typing=active :carol!~c@h TAGMSG #pear'), { now: at });
  assert.deepEqual(typingIn(room, at.getTime() + TYPING_SHOWN - 1), ['carol']);
  assert.deepEqual(typingIn(room, at.getTime() + TYPING_SHOWN), [], 'expired');
  // In a conversation: filed under the person; a notice for a buffer we do not have makes none.
  state.apply(parse('@+typing=active :dave!~d@h TAGMSG me'), { now: at });
  assert.equal(state.find('dave'), undefined);
  state.apply(parse(':dave!~d@h PRIVMSG me :hi'), { now: at });
  state.apply(parse('@+typing=active :dave!~d@h TAGMSG me'), { now: at });
  assert.deepEqual(typingIn(state.find('dave'), at.getTime()), ['dave']);
  assert.deepEqual(state.apply(parse(':dave!~d@h TAGMSG me')), {}, 'a TAGMSG without +typing is nothing here');
});

test('the session kept between visits is the nick, the account and public rooms, and junk is nothing', () => {
  const storage = new Map();
  const fake = { getItem: (key) => storage.get(key) ?? null, setItem: (key, value) => storage.set(key, value) };
  assert.deepEqual(Session.load(fake), { nick: '', account: '', rooms: [] });
  Session.save(fake, { nick: 'alice', account: 'alice', rooms: ['#pear', '#rust'] });
  assert.deepEqual(Session.load(fake), { nick: 'alice', account: 'alice', rooms: ['#pear', '#rust'] });
  assert.ok(!storage.get(Session.key).includes('password'));
  storage.set(Session.key, '{not json');
  assert.deepEqual(Session.load(fake), { nick: '', account: '', rooms: [] });
  storage.set(Session.key, JSON.stringify({ nick: 5, rooms: ['#ok', 'no-hash', '#bad room', 7, '#a,#b'] }));
  assert.deepEqual(Session.load(fake), { nick: '', account: '', rooms: ['#ok'] });
  const refusing = { getItem: () => null, setItem: () => { throw new Error('quota'); } };
  Session.save(refusing, { nick: 'x' });
});

test('leaving a room says so, for the rooms remembered', () => {
  const state = new ChatState();
  state.apply(parse(':gw 001 me :Welcome'));
  assert.equal(state.apply(parse(':me!~me@h JOIN #pear')).joined, true);
  assert.equal(state.apply(parse(':bob!~b@h PART #pear')).left, undefined);
  assert.equal(state.apply(parse(':me!~me@h PART #pear :bye')).left, true);
  state.apply(parse(':me!~me@h JOIN #pear'));
  assert.equal(state.apply(parse(':op!~o@h KICK #pear me :out')).left, true);
});

test('IRC formatting becomes styled runs: bold, italics, the 16 colours, reverse, reset; other colours keep their text', () => {
  assert.deepEqual(formatRuns('plain'), [{ text: 'plain' }]);
  assert.deepEqual(formatRuns(''), [{ text: '' }]);
  assert.deepEqual(formatRuns('a\x02b\x02c'), [{ text: 'a' }, { text: 'b', bold: true }, { text: 'c' }]);
  assert.deepEqual(formatRuns('\x0304,01red\x03 plain'), [{ text: 'red', fg: 4, bg: 1 }, { text: ' plain' }]);
  assert.deepEqual(formatRuns('\x0312blue\x035,2x'), [{ text: 'blue', fg: 12 }, { text: 'x', fg: 5, bg: 2 }]);
  assert.deepEqual(formatRuns('\x0399far\x04ff0000hex'), [{ text: 'far' }, { text: 'hex' }], 'beyond the palette: text kept');
  assert.deepEqual(formatRuns('\x1d\x1fiu\x0fn'), [{ text: 'iu', italic: true, underline: true }, { text: 'n' }]);
  assert.deepEqual(formatRuns('\x16rev'), [{ text: 'rev', fg: 0, bg: 1 }]);
  assert.equal(formatRuns('\x02\x1e\x11x').map((run) => run.text).join(''), 'x');
  // What is read and searched stays plain; the view gets the formatted text.
  const state = new ChatState();
  state.apply(parse(':gw 001 me :Welcome'));
  state.apply(parse(':me!~me@h JOIN #pear'));
  state.apply(parse('@msgid=f1 :bob!~b@h PRIVMSG #pear :\x02hey\x02 me'));
  const line = state.find('#pear').lines.at(-1);
  assert.equal(line.text, 'hey me');
  assert.equal(line.rich, '\x02hey\x02 me');
  assert.equal(line.mention, true);
});
