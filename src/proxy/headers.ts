// Header names with a meaning for kubewire itself: those that stay on one hop (RFC 9110 7.6.1,
// plus the client's proxy token) and the one `kubewire replay` marks its requests with.
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer", "upgrade", "expect", "host", "authorization"]);

/** Carries the ID a replayed request replays; the proxy records it and never forwards it. */
export const REPLAY_HEADER = "x-kubewire-replay-of";
