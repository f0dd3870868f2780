import { useEffect, useRef } from "preact/hooks";

const KEYS: [string, string][] = [
  ["?", "Show or hide this list"],
  ["Shift+Enter / Ctrl+Enter", "Run the cell (in a code cell)"],
  ["Alt+Enter", "Run the cell and add a new one below"],
  ["Ctrl+Space", "Complete (TypeScript)"],
  ["F12 / Ctrl+click", "Go to definition"],
  ["Ctrl+Shift+F", "Format the cell"],
  ["Ctrl+K", "Ask AI to change the cell (in a code cell)"],
  ["Escape / Ctrl+Enter", "Stop editing markdown (in a markdown cell)"],
  ["Escape", "Close suggestions, signature help and dialogs"],
  ["Escape, then Tab", "Leave a code editor and move focus on"],
];

export function Shortcuts({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    ref.current?.querySelector("button")?.focus();
    return () => prev?.focus();
  }, []);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title" ref={ref}>
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <table class="keys">
          <tbody>
            {KEYS.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">
                  <kbd>{k}</kbd>
                </th>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
