// A tiny history router: the current path as a signal-like subscription, and link interception.
type Listener = (path: string) => void;
const listeners = new Set<Listener>();

export function currentPath() {
  return location.pathname;
}

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l(location.pathname));
  window.scrollTo(0, 0);
}

export function onRoute(l: Listener) {
  listeners.add(l);
  return () => listeners.delete(l);
}

addEventListener("popstate", () => listeners.forEach((l) => l(location.pathname)));

// Same-origin <a href="/…"> links navigate in place.
document.addEventListener("click", (e) => {
  const a = (e.target as Element | null)?.closest?.("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("/api/") || a.hasAttribute("download") || a.target)
    return;
  if (href.startsWith("/files/") || href.startsWith("/uploads/") || href.startsWith("/health")) return;
  e.preventDefault();
  navigate(href);
});
