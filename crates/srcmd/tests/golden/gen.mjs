// Regenerates lexer.json from inputs.json with marked 14.1.2 (install it in a temp dir outside the repo):
// (run with NODE_PATH or from a directory where `marked` resolves). Each case is lexed with marked's
// default options (GFM on) and every top-level token is dumped as [type, depth|null, raw].
import { marked } from 'marked';
import { readFileSync } from 'node:fs';

const inputs = JSON.parse(readFileSync(new URL('./inputs.json', import.meta.url), 'utf8'));
const out = inputs.map((input) => ({
  input,
  tokens: marked.lexer(input).map((t) => [t.type, t.type === 'heading' ? t.depth : null, t.raw]),
}));
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
