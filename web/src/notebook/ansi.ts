// ANSI SGR escapes (colours, bold) to styled segments; other escapes are dropped.
export type Segment = { text: string; cls: string };

const ESC = /\x1b\[([0-9;]*)([A-Za-z])/g;

export function ansiSegments(input: string): Segment[] {
  const out: Segment[] = [];
  let fg = "";
  let bold = false;
  let last = 0;
  const push = (text: string) => {
    if (!text) return;
    const cls = [fg && `ansi-${fg}`, bold && "ansi-bold"].filter(Boolean).join(" ");
    const prev = out[out.length - 1];
    if (prev && prev.cls === cls) prev.text += text;
    else out.push({ text, cls });
  };
  for (const m of input.matchAll(ESC)) {
    push(input.slice(last, m.index));
    last = m.index! + m[0].length;
    if (m[2] !== "m") continue;
    for (const code of (m[1] || "0").split(";").map(Number)) {
      if (code === 0) ((fg = ""), (bold = false));
      else if (code === 1) bold = true;
      else if (code === 22) bold = false;
      else if (code === 39) fg = "";
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) fg = String(code);
    }
  }
  push(input.slice(last));
  return out;
}
