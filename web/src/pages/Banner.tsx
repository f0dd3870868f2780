import { useEffect, useState } from "preact/hooks";
import { socket, type Conn } from "../ws";

/** Shown while the live connection is down; edits made meanwhile are queued and sent on reconnect. */
export function ConnectionBanner() {
  const [conn, setConn] = useState<Conn>(socket.state);
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => socket.onState(setConn), []);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    addEventListener("online", up);
    addEventListener("offline", down);
    return () => {
      removeEventListener("online", up);
      removeEventListener("offline", down);
    };
  }, []);
  if (online && conn !== "offline") return null;
  return (
    <div class="banner" role="status" data-testid="offline-banner">
      Offline — reconnecting. Your edits are kept and will be saved when the connection is back.
    </div>
  );
}
