// A stage's highlight terms matched in text the way screening/highlight.py matches them
// (keep the two in step): one term per item; "*" is any run of word characters (alone as a
// word, exactly one word); the words of a term match across any whitespace; case and
// accents do not matter; a term starts and ends at word boundaries unless its edge is not
// a letter or digit; every other character is literal. Overlaps keep the longest match,
// and on a tie the exclude term. Used by the PDF viewer, which marks the text layer.

const W = "[\\p{L}\\p{N}_]";
const WORD_CHAR = /^[\p{L}\p{N}_]$/u;
const MARK = /\p{Mn}/u;
const EXTRA = { "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe", "þ": "th" };
// What Python's casefold() does beyond lower(): the letters whose fold is longer.
const CASEFOLD = { "ß": "ss", "ẞ": "ss", "ς": "σ" };

function casefold(text) {
  let out = "";
  for (const ch of text.toLowerCase()) out += CASEFOLD[ch] ?? ch;
  return out;
}

const foldCache = new Map();
export function foldChar(ch) {
  let folded = foldCache.get(ch);
  if (folded === undefined) {
    const decomposed = casefold(casefold(ch).normalize("NFKD")).normalize("NFKD");
    folded = "";
    for (const c of decomposed) if (!MARK.test(c)) folded += EXTRA[c] ?? c;
    foldCache.set(ch, folded);
  }
  return folded;
}

// The folded text, and for each of its UTF-16 units the span of the original it came from.
export function foldWithMap(text) {
  let folded = "";
  const starts = [];
  const ends = [];
  let i = 0;
  for (const ch of text) {
    const f = ch.charCodeAt(0) < 128 ? ch.toLowerCase() : foldChar(ch);
    if (!f.length && ends.length) ends[ends.length - 1] = i + ch.length;
    for (let k = 0; k < f.length; k++) {
      starts.push(i);
      ends.push(i + ch.length);
    }
    folded += f;
    i += ch.length;
  }
  return { text: folded, span: (s, e) => [starts[s], ends[e - 1]] };
}

function fold(text) {
  return foldWithMap(text).text;
}

export function escapeRegex(text) {
  return text.replace(/[\^$\\.*+?()[\]{}|/]/g, "\\$&");
}

function isWord(ch) {
  return WORD_CHAR.test(ch);
}

function wordPattern(word) {
  if (word === "*") return `${W}+`;
  const pieces = word.split("*");
  let out = escapeRegex(pieces[0]);
  for (let index = 1; index < pieces.length; index++) {
    const piece = pieces[index];
    if (index === pieces.length - 1) out += piece ? `${W}*?${escapeRegex(piece)}` : `${W}*`;
    else if ([...piece].every(isWord)) out += `${W}*?${escapeRegex(piece)}`;
    else out += `${W}*${escapeRegex(piece)}`;
  }
  return out;
}

function compileTerm(term, kind) {
  const words = fold(term).split(/\s+/).filter(Boolean).map((w) => w.replace(/\*+/g, "*"));
  if (!words.join("").replace(/\*/g, "")) return null;
  let body = words.map(wordPattern).join("\\s+");
  const head = words[0][0];
  const last = words[words.length - 1];
  const tail = last[last.length - 1];
  if (tail === "*" || isWord(tail)) body += `(?!${W})`;
  const atWordStart = head === "*" || isWord(head);
  const source = (atWordStart ? `(?<!${W})` : "") + body;
  return { regex: new RegExp(`(?=(${source}))`, "gu"), kind };
}

// Terms of one stage: { include: [...], exclude: [...] } -> a function text -> marks.
export function compileTerms(terms) {
  const compiled = [];
  const seen = new Set();
  for (const kind of ["include", "exclude"]) {
    for (const raw of terms[kind] || []) {
      const term = (raw || "").trim();
      if (!term) continue;
      const c = compileTerm(term, kind);
      if (!c || seen.has(kind + c.regex.source)) continue;
      seen.add(kind + c.regex.source);
      compiled.push(c);
    }
  }
  return (text) => (compiled.length && text ? marks(compiled, text) : []);
}

function marks(compiled, text) {
  const folded = foldWithMap(text);
  const candidates = [];
  for (const { regex, kind } of compiled) {
    regex.lastIndex = 0;
    let m;
    while ((m = regex.exec(folded.text)) !== null) {
      if (m[1].length) candidates.push([...folded.span(m.index, m.index + m[1].length), kind]);
      regex.lastIndex = m.index + 1;
    }
  }
  // Longest first; on a tie the exclude term, then the earlier one.
  candidates.sort((a, b) => (a[0] - a[1]) - (b[0] - b[1]) || (a[2] !== "exclude") - (b[2] !== "exclude") || a[0] - b[0]);
  const taken = new Uint8Array(text.length);
  const kept = [];
  for (const [start, end, kind] of candidates) {
    if (taken.subarray(start, end).includes(1)) continue;
    taken.fill(1, start, end);
    kept.push([start, end, kind]);
  }
  return kept.sort((a, b) => a[0] - b[0]);
}

// Every place a searched phrase occurs (case and accents ignored, any whitespace between
// its words), as [start, end] in the original text.
export function findPhrase(text, phrase) {
  const words = fold(phrase).split(/\s+/).filter(Boolean);
  if (!words.length || !text) return [];
  const folded = foldWithMap(text);
  const regex = new RegExp(words.map(escapeRegex).join("\\s+"), "gu");
  const out = [];
  let m;
  while ((m = regex.exec(folded.text)) !== null) {
    out.push(folded.span(m.index, m.index + m[0].length));
    if (!m[0].length) regex.lastIndex++;
  }
  return out;
}
