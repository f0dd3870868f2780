// The approval dialog of the notebook page: the first pending MCP tool call, with its arguments, the time
// left before the server denies it, and Deny / Allow once / Always allow. Deny has the focus (Enter and
// Escape deny); each next queued approval takes it again, so a key held down never allows one.
import { useEffect, useReducer, useRef } from "preact/hooks";
import type { Approval } from "../wire";
import { clock, secondsLeft, type Approvals } from "./approvals";
import { JsonBlock } from "./Json";

const NOTE_MS = 8000;

export function McpApprovals({ approvals }: { approvals: Approvals }) {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => approvals.onChange(() => bump(0)), [approvals]);
  // The status line goes after a while (each new note shows again).
  const age = Date.now() - approvals.noteAt;
  const note = age < NOTE_MS ? approvals.note : "";
  useEffect(() => {
    if (!note) return;
    const t = setTimeout(() => bump(0), NOTE_MS - age);
    return () => clearTimeout(t);
  }, [approvals.noteAt]);
  const current = approvals.pending[0];
  return (
    <>
      <p class="mcp-note" role="status">
        {note}
      </p>
      <ApprovalDialog approvals={approvals} approval={current} more={approvals.pending.length - 1} />
    </>
  );
}

function ApprovalDialog({
  approvals,
  approval,
  more,
}: {
  approvals: Approvals;
  approval: Approval | undefined;
  more: number;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const deny = useRef<HTMLButtonElement>(null);
  const before = useRef<Element | null>(null);
  const [, tick] = useReducer((n: number) => n + 1, 0);
  const id = approval?.id;

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (id) {
      if (!d.open) {
        before.current = document.activeElement;
        d.showModal();
      }
      deny.current?.focus();
    } else if (d.open) {
      d.close();
      const prev = before.current as HTMLElement | null;
      if (prev?.isConnected) prev.focus();
    }
  }, [id]);
  useEffect(() => {
    if (!id) return;
    const t = setInterval(() => tick(0), 1000);
    return () => clearInterval(t);
  }, [id]);

  const answer = (decision: "allow" | "deny", always = false) => {
    if (id) approvals.answer(id, decision, always);
  };
  const left = approval ? secondsLeft(approval) : 0;
  const who = approval?.source === "rest" ? "An API client" : "The AI";
  return (
    <dialog
      ref={dialog}
      class="dialog mcp-approval"
      aria-labelledby="mcp-approval-title"
      aria-describedby="mcp-approval-time"
      onCancel={(e) => {
        // Escape: the safe answer, not a dialog that vanishes while the call is still held.
        e.preventDefault();
        answer("deny");
      }}
    >
      {approval && (
        <div class="stack">
          <h2 id="mcp-approval-title">
            {who} wants to call <code>{approval.tool}</code> on <code>{approval.server}</code>
          </h2>
          <p class="meta">Arguments</p>
          <JsonBlock value={approval.arguments ?? {}} label="Arguments of the call" class="mcp-args" />
          <p id="mcp-approval-time" class={left <= 30 ? "error" : "meta"}>
            {left > 0 ? `Denied automatically in ${clock(left)}` : "Time is up: the server denies it."}
            {more > 0 && ` · ${more} more waiting`}
          </p>
          <div class="row">
            <button type="button" ref={deny} onClick={() => answer("deny")}>
              Deny
            </button>
            <button type="button" class="primary" onClick={() => answer("allow")}>
              Allow once
            </button>
            <button type="button" onClick={() => answer("allow", true)}>
              Always allow {approval.tool}
            </button>
          </div>
        </div>
      )}
    </dialog>
  );
}
