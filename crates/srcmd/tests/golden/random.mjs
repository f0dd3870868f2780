// Random markdown-ish fragments lexed by marked 14.1.2: `node random.mjs <count> <seed> > random.json` (committed: 1000 4242).
import { marked } from 'marked';
const frags = ["# h\n","###### a.mjs\n","## x ##\n","Title\n","===\n","---\n","***\n","- a\n","1. b\n","2) c\n","* d\n","  - nested\n","> q\n",">\n","lazy\n","```\n","```js\n","````\n","~~~\n","    code\n","\tcode\n","\n","\n\n\n","  \n","para text\n","| a | b |\n","|---|---|\n","a|b\n","-|-\n","<div>\n","</div>\n","<!-- c -->\n","<!--\n","-->\n","<pre>\n","</pre>\n","<span>\n","<x-y a=\"1\">\n","[r]: /u\n","[r]: /u \"t\"\n","[l](./src/a.mjs)\n","[r]\n","text ","é🎉","\\\n","#\n","- \n","   # i\n","<?x ?>\n","<!D>\n","\r\n"];
const out = [];
let seed = Number(process.argv[3] || 12345);
const rnd = (n) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
for (let i = 0; i < Number(process.argv[2] || 3000); i++) {
  let s = ''; const n = 1 + rnd(12);
  for (let j = 0; j < n; j++) s += frags[rnd(frags.length)];
  if (rnd(4) === 0) s = s.trimEnd();
  out.push({ input: s, tokens: marked.lexer(s).map((t) => [t.type, t.type === 'heading' ? t.depth : null, t.raw]) });
}
process.stdout.write(JSON.stringify(out));
